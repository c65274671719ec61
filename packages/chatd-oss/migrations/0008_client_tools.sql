-- Client-executed tools (contract.md#client-tools; issue 27): the tools a chat was created with
-- (`unsafe_dynamic_tools`), and while the chat is `requires_action` the calls it waits for and the deadline
-- past which they are answered "no result from the client in time". The deadline is stored so that any
-- replica's acquisition loop enforces it, also after the replica that set it is gone.
ALTER TABLE chats
  ADD COLUMN dynamic_tools jsonb,
  ADD COLUMN pending_tool_calls jsonb,
  ADD COLUMN requires_action_deadline timestamptz;

CREATE INDEX chats_requires_action_deadline ON chats (requires_action_deadline) WHERE status = 'requires_action';
