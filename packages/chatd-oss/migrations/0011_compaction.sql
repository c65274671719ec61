-- Compaction and AI titles (contract.md#compaction; issue 32).
-- `chat_messages.summary` marks the hidden model-only message a compaction saves, `summary_kept_from` the oldest
-- message it did not replace (null: it replaced everything before it). The model's history is the chat's system
-- messages, the newest summary that is not deleted, and the messages from `summary_kept_from` on; the visible
-- history keeps every message.
ALTER TABLE chat_messages
  ADD COLUMN summary boolean NOT NULL DEFAULT false,
  ADD COLUMN summary_kept_from bigint;
CREATE INDEX chat_messages_summary ON chat_messages (chat_id, id) WHERE summary;

-- Where a chat's title came from: `rule` (the title rule at creation; a model may still replace it once, after the
-- first reply), `generated` (that replacement happened, or was given up for the fallback), `manual` (PATCH; never
-- overwritten). Chats that exist before this migration keep their titles: they count as `generated`.
ALTER TABLE chats
  ADD COLUMN title_source text NOT NULL DEFAULT 'generated' CHECK (title_source IN ('rule', 'generated', 'manual'));
ALTER TABLE chats
  ALTER COLUMN title_source SET DEFAULT 'rule';

-- `POST /{chat}/compact` (manual compaction): `next_step` makes the run compact before its next step; `only` marks a
-- resting chat set pending for a run that compacts and ends without a model step. Cleared in the compaction's own
-- transaction, so a replica that dies before it commits leaves the request for the next run.
ALTER TABLE chats
  ADD COLUMN compact_request text CHECK (compact_request IN ('next_step', 'only'));

-- Deployment settings (`GET|PATCH /config`, `chatd config set`): one row. Unset (null): the chat's own model.
CREATE TABLE chat_deployment_config (
  id                          boolean PRIMARY KEY DEFAULT true CHECK (id),
  title_model_config_id       uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  compaction_model_config_id  uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  updated_at                  timestamptz NOT NULL
);
