-- Agent steps (contract.md#steps; issue 26): a message a run persists names its run (`run_id`, already a column
-- since 0003) and the `seq` of the last streamed part it covers, so a subscriber settles per step: it drops the
-- run's parts with `seq <= last_seq` once the message was sent and keeps the later ones. Null for messages that
-- no run wrote (user messages, promoted queue entries) and for rows written before this migration.
ALTER TABLE chat_messages
  ADD COLUMN last_seq integer CHECK (last_seq >= 0);
