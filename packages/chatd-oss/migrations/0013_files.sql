-- Uploaded files (contract.md#files; issue 29): the bytes live in PostgreSQL beside the chats, one row a file, read
-- back by their uploader only. `created_at` is written from the server's clock, so the retention sweep (a file no
-- message references 24 h after its upload is deleted) runs on the same clock.
CREATE TABLE chat_files (
  id               uuid PRIMARY KEY,
  owner_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  organization_id  uuid REFERENCES organizations (id) ON DELETE CASCADE,
  name             text,
  media_type       text NOT NULL,
  size             integer NOT NULL CHECK (size >= 0),
  sha256           bytea NOT NULL,
  data             bytea NOT NULL,
  created_at       timestamptz NOT NULL
);
CREATE INDEX chat_files_created ON chat_files (created_at);

-- The sweep asks "does any message name this file?" as `content @> '[{"type":"file","file_id":...}]'`. File parts
-- are user input only (messages and queued messages), so partial GIN indexes over user content answer it without a scan.
CREATE INDEX chat_messages_file_parts ON chat_messages USING gin (content jsonb_path_ops) WHERE role = 'user';
CREATE INDEX chat_queued_messages_file_parts ON chat_queued_messages USING gin (content jsonb_path_ops);
