-- Git diff / pull request status of a chat (gitsync spec section 1): one row per chat, written by the
-- diff-status worker and the git routes through @chatd/gitsync's Store port. Every time column the worker's
-- logic reads (stale_at, updated_at, refreshed_at) is written from the caller's clock, never from now().
-- The row goes with its chat (ON DELETE CASCADE).

CREATE TABLE chat_diff_statuses (
  chat_id             uuid PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
  url                 text,
  pull_request_state  text CHECK (pull_request_state IN ('open', 'closed', 'merged')),
  pull_request_title  text NOT NULL DEFAULT '',
  pull_request_draft  boolean NOT NULL DEFAULT false,
  changes_requested   boolean NOT NULL DEFAULT false,
  additions           integer NOT NULL DEFAULT 0,
  deletions           integer NOT NULL DEFAULT 0,
  changed_files       integer NOT NULL DEFAULT 0,
  author_login        text,
  author_avatar_url   text,
  base_branch         text,
  head_branch         text,
  pr_number           integer,
  commits             integer,
  approved            boolean,
  reviewer_count      integer,
  refreshed_at        timestamptz,
  stale_at            timestamptz NOT NULL,
  created_at          timestamptz NOT NULL,
  -- Last change from outside (a reported push or a successful refresh); acquire and backoff leave it alone,
  -- because the worker's no-PR fast-retry window is measured from it.
  updated_at          timestamptz NOT NULL,
  git_branch          text NOT NULL DEFAULT '',
  git_remote_origin   text NOT NULL DEFAULT ''
);
CREATE INDEX idx_chat_diff_statuses_stale_at ON chat_diff_statuses (stale_at);
-- markStale without a chat id lists the workspace's non-archived chats.
CREATE INDEX chats_workspace ON chats (workspace_id, updated_at DESC) WHERE workspace_id IS NOT NULL AND archived = false;
