// The Store port: the narrow database interface the worker needs (seed 003), and the row types of table
// chat_diff_statuses (contract.md#diff-status-rows). Column names stay snake_case as in SQL; timestamps are Dates.
// Implementations take "now" from a Clock, never from the database, so tests drive every rule.
// The PostgreSQL implementation lives with the server; this package only defines the contract.
import type { Chat } from '@chatd/protocol';

/** Normalised pull request state. */
export type PullRequestState = 'open' | 'closed' | 'merged';

/** One row of `chat_diff_statuses` (one per chat). */
export type ChatDiffStatusRow = {
  chat_id: string;
  /** PR/MR web URL once known. */
  url: string | null;
  pull_request_state: PullRequestState | null;
  pull_request_title: string;
  pull_request_draft: boolean;
  /** At least one reviewer's latest decisive review requests changes. */
  changes_requested: boolean;
  additions: number;
  deletions: number;
  changed_files: number;
  author_login: string | null;
  author_avatar_url: string | null;
  base_branch: string | null;
  head_branch: string | null;
  pr_number: number | null;
  commits: number | null;
  approved: boolean | null;
  reviewer_count: number | null;
  /** Last successful refresh; null means never refreshed. */
  refreshed_at: Date | null;
  /** When the row next becomes eligible for refresh. */
  stale_at: Date;
  created_at: Date;
  /** Last change from outside: `markStale` or a successful refresh (never touched by acquire or backoff). */
  updated_at: Date;
  /** Branch the agent last reported ('' when unknown). */
  git_branch: string;
  /** Remote origin as reported, raw ('' when unknown). */
  git_remote_origin: string;
};

/** A row returned by `acquireStaleChatDiffStatuses`: the claimed row plus its chat's owner. */
export type AcquiredChatDiffStatusRow = ChatDiffStatusRow & { owner_id: string };

/** Arguments of `backoffChatDiffStatus`: only `stale_at` changes. */
export type BackoffChatDiffStatusParams = { chat_id: string; stale_at: Date };

/** Arguments of `upsertChatDiffStatus`: every PR field is overwritten; branch and origin are left alone. */
export type UpsertChatDiffStatusParams = {
  chat_id: string;
  url: string | null;
  pull_request_state: PullRequestState | null;
  pull_request_title: string;
  pull_request_draft: boolean;
  changes_requested: boolean;
  additions: number;
  deletions: number;
  changed_files: number;
  author_login: string | null;
  author_avatar_url: string | null;
  base_branch: string | null;
  head_branch: string | null;
  pr_number: number | null;
  commits: number | null;
  approved: boolean | null;
  reviewer_count: number | null;
  refreshed_at: Date;
  stale_at: Date;
};

/** Arguments of `upsertChatDiffStatusReference`: a null url, '' branch or '' origin keeps the stored value. */
export type UpsertChatDiffStatusReferenceParams = {
  chat_id: string;
  url: string | null;
  git_branch: string;
  git_remote_origin: string;
  stale_at: Date;
};

/** The chat fields the worker reads (any `Chat` fits). */
export type GitSyncChat = Pick<Chat, 'id' | 'owner_id' | 'workspace_id'>;

/** The narrow database interface the worker needs (seed: `Store`). Every method rejects on a database error. */
export interface Store {
  /**
   * Claims up to `limit` rows with `stale_at <= now`, a non-empty origin and branch, and a non-archived chat,
   * oldest `stale_at` first, skipping rows locked by others; sets their `stale_at` to now + `ACQUISITION_LOCK_MS`
   * (not `updated_at`) and returns them with the chat's owner.
   */
  acquireStaleChatDiffStatuses(limit: number, signal?: AbortSignal): Promise<AcquiredChatDiffStatusRow[]>;
  /** Sets `stale_at` only. */
  backoffChatDiffStatus(params: BackoffChatDiffStatusParams, signal?: AbortSignal): Promise<void>;
  /** Inserts or overwrites every PR field, `refreshed_at` and `stale_at`; sets `updated_at` to now. */
  upsertChatDiffStatus(params: UpsertChatDiffStatusParams, signal?: AbortSignal): Promise<ChatDiffStatusRow>;
  /** Inserts or updates the git reference (see the params' keep rules) and `stale_at`; sets `updated_at` to now. */
  upsertChatDiffStatusReference(params: UpsertChatDiffStatusReferenceParams, signal?: AbortSignal): Promise<ChatDiffStatusRow>;
  /** Non-archived chats of the workspaces, by workspace id, then `updated_at` descending. */
  getChatsByWorkspaceIds(workspaceIds: readonly string[], signal?: AbortSignal): Promise<GitSyncChat[]>;
}
