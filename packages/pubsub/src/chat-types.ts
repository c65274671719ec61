// Wire types carried inside pubsub payloads (seed 001 and chatd.md section 0.1). JSON field names are
// exactly the original's. These are plain types; the zod schemas that validate them at the boundary
// live beside the event schemas and must infer to the same shapes.

/** Chat status values we write (section 0.1); the original's others may be read. */
export type ChatStatus = 'waiting' | 'pending' | 'running' | 'paused' | 'completed' | 'error' | 'requires_action' | 'interrupting';

/** Structured error (`ChatStreamError` in the seed, `ChatErrorPayload` in the TS client; also `Chat.last_error`). */
export type ChatStreamError = {
  message: string;
  detail?: string;
  kind?: string;
  provider?: string;
  retryable?: boolean;
  status_code?: number;
};

/** A retry announcement (`ChatStreamRetry`). */
export type ChatStreamRetry = {
  attempt: number;
  delay_ms: number;
  error: string;
  retrying_at: string;
  kind?: string;
  provider?: string;
  status_code?: number;
};

/** Git diff status of a chat (chatd.md section 2.1). */
export type ChatDiffStatus = {
  chat_id: string;
  url?: string;
  pull_request_state?: string;
  changes_requested: boolean;
  additions: number;
  deletions: number;
  changed_files: number;
  refreshed_at?: string;
  stale_at?: string;
};

/** The `Chat` of the API and of `ChatEvent` (section 0.1). */
export type Chat = {
  id: string;
  organization_id: string;
  owner_id: string;
  workspace_id?: string | null;
  parent_chat_id?: string | null;
  root_chat_id: string;
  last_model_config_id?: string | null;
  title: string;
  status: ChatStatus;
  last_error: ChatStreamError | null;
  created_at: string;
  updated_at: string;
  archived: boolean;
  diff_status?: ChatDiffStatus;
  worker_id: string | null;
  labels?: Record<string, string>;
  client_type?: string;
};

/** An inbox notification (section 0.1). */
export type InboxNotification = {
  id: string;
  user_id: string;
  template_id: string;
  targets: string[];
  title: string;
  content: string;
  icon: string;
  actions: { label: string; url: string }[];
  read_at: string | null;
  created_at: string;
};
