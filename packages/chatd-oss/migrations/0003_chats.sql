-- Chats, generation runs, messages and the per-chat queue (chatd.md sections 0.1, 0.2, 2, 3).
-- Time columns that the worker's logic reads (heartbeat_at, started_at, updated_at) are always written
-- from the caller's clock, never from now().

CREATE TYPE chat_status AS ENUM ('waiting', 'pending', 'running', 'paused', 'completed', 'error', 'requires_action', 'interrupting');

CREATE TABLE chats (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  owner_id              uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  workspace_id          uuid,
  parent_chat_id        uuid REFERENCES chats (id) ON DELETE SET NULL,
  root_chat_id          uuid REFERENCES chats (id) ON DELETE SET NULL,
  last_model_config_id  uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  title                 text NOT NULL DEFAULT 'New Chat',
  status                chat_status NOT NULL DEFAULT 'waiting',
  last_error            jsonb,
  -- The replica generating it (while running) and the fencing token of its current run. A run keeps its
  -- token after an interrupt until it has persisted its partial reply and ended; anyone else taking the
  -- chat (edit, promote, direct send, stale recovery, a new acquire) replaces or clears it.
  worker_id             text,
  run_id                uuid,
  started_at            timestamptz,
  heartbeat_at          timestamptz,
  archived              boolean NOT NULL DEFAULT false,
  labels                jsonb NOT NULL DEFAULT '{}'::jsonb,
  client_type           text,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL
);
CREATE INDEX chats_owner_updated ON chats (owner_id, updated_at DESC, id DESC);
CREATE INDEX chats_pending ON chats (updated_at) WHERE status = 'pending';
CREATE INDEX chats_with_run ON chats (heartbeat_at) WHERE run_id IS NOT NULL;
CREATE INDEX chats_parent ON chats (parent_chat_id);
CREATE INDEX chats_root ON chats (root_chat_id);

CREATE TABLE chat_runs (
  id           uuid PRIMARY KEY,
  chat_id      uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  worker_id    text NOT NULL,
  started_at   timestamptz NOT NULL,
  ended_at     timestamptz,
  outcome      text CHECK (outcome IN ('finished', 'interrupted', 'failed', 'lost')),
  -- Ids of the durable messages this run persisted, in order.
  message_ids  bigint[] NOT NULL DEFAULT '{}',
  error        jsonb,
  CHECK ((ended_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX chat_runs_chat ON chat_runs (chat_id, started_at);

CREATE TABLE chat_messages (
  id               bigserial PRIMARY KEY,
  chat_id          uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  run_id           uuid REFERENCES chat_runs (id) ON DELETE SET NULL,
  model_config_id  uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
  role             text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
  content          jsonb NOT NULL DEFAULT '[]'::jsonb,
  visibility       text NOT NULL DEFAULT 'both' CHECK (visibility IN ('user', 'model', 'both')),
  deleted          boolean NOT NULL DEFAULT false,
  usage            jsonb,
  created_at       timestamptz NOT NULL
);
CREATE INDEX chat_messages_chat ON chat_messages (chat_id, id);

CREATE TABLE chat_queued_messages (
  id               bigserial PRIMARY KEY,
  chat_id          uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  model_config_id  uuid REFERENCES chat_model_configs (id) ON DELETE SET NULL,
  created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
  content          jsonb NOT NULL,
  created_at       timestamptz NOT NULL
);
CREATE INDEX chat_queued_messages_chat ON chat_queued_messages (chat_id, id);
