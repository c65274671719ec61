// The PostgreSQL implementation of @chatd/gitsync's Store port over table chat_diff_statuses
// (contract.md#diff-status-rows), plus the two reads the chat routes need. "Now" always comes from the injected
// clock as a query parameter, never from now() in SQL, so tests drive every time rule. It knows the chats table
// (archived chats are never claimed, listing by workspace skips them); it holds no business logic: that is the worker's.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import { isUuid } from '@chatd/protocol';
import {
  ACQUISITION_LOCK_MS,
  type AcquiredChatDiffStatusRow,
  type ChatDiffStatusRow,
  type GitSyncChat,
  type Store,
} from '@chatd/gitsync';
import { ChatdError } from '../chatd-error.js';

/** Options of `createPgDiffStatusStore`. */
export type PgDiffStatusStoreOptions = {
  pool: pg.Pool;
  /** Source of "now" for every statement. */
  clock: Clock;
};

/** The Store port plus the reads of the chat routes. */
export interface PgDiffStatusStore extends Store {
  /** The chat's diff status row, or undefined when it has none. */
  getChatDiffStatus(chatId: string): Promise<ChatDiffStatusRow | undefined>;
  /** The rows of the given chats that have one, keyed by chat id. */
  getChatDiffStatusesByChatIds(chatIds: readonly string[]): Promise<Map<string, ChatDiffStatusRow>>;
}

/** Columns of chat_diff_statuses in `ChatDiffStatusRow` order. */
const COLUMNS = [
  'chat_id',
  'url',
  'pull_request_state',
  'pull_request_title',
  'pull_request_draft',
  'changes_requested',
  'additions',
  'deletions',
  'changed_files',
  'author_login',
  'author_avatar_url',
  'base_branch',
  'head_branch',
  'pr_number',
  'commits',
  'approved',
  'reviewer_count',
  'refreshed_at',
  'stale_at',
  'created_at',
  'updated_at',
  'git_branch',
  'git_remote_origin',
] as const;

const SELECT_COLUMNS = COLUMNS.map((c) => `cds.${c}`).join(', ');

/** The PR fields `upsertChatDiffStatus` overwrites, in parameter order after chat_id: `url` through `stale_at`. */
const PR_FIELDS = COLUMNS.slice(COLUMNS.indexOf('url'), COLUMNS.indexOf('stale_at') + 1) as Exclude<
  (typeof COLUMNS)[number],
  'chat_id' | 'created_at' | 'updated_at' | 'git_branch' | 'git_remote_origin'
>[];

// Claim: pick eligible rows oldest first, skipping rows another transaction holds (a concurrent acquire or an
// upsert), and push stale_at out by the acquisition lock. updated_at is deliberately untouched (no-PR window).
const ACQUIRE_SQL = `
WITH candidates AS (
  SELECT cds.chat_id, cds.stale_at AS prior_stale_at
  FROM chat_diff_statuses cds
  JOIN chats c ON c.id = cds.chat_id
  WHERE cds.stale_at <= $1 AND cds.git_remote_origin <> '' AND cds.git_branch <> '' AND c.archived = false
  ORDER BY cds.stale_at ASC, cds.chat_id ASC
  LIMIT $2
  FOR UPDATE OF cds SKIP LOCKED
)
UPDATE chat_diff_statuses cds SET stale_at = $3
FROM candidates, chats c
WHERE cds.chat_id = candidates.chat_id AND c.id = cds.chat_id
RETURNING ${SELECT_COLUMNS}, c.owner_id, candidates.prior_stale_at`;

const UPSERT_SQL = `
INSERT INTO chat_diff_statuses AS cds (chat_id, ${PR_FIELDS.join(', ')}, created_at, updated_at)
VALUES (${Array.from({ length: PR_FIELDS.length + 2 }, (_, i) => `$${i + 1}`).join(', ')}, $${PR_FIELDS.length + 2})
ON CONFLICT (chat_id) DO UPDATE SET ${PR_FIELDS.map((f) => `${f} = EXCLUDED.${f}`).join(', ')}, updated_at = EXCLUDED.updated_at
RETURNING ${SELECT_COLUMNS}`;

// Keep rules: a null url, '' branch or '' origin leaves the stored value; stale_at always moves.
const UPSERT_REFERENCE_SQL = `
INSERT INTO chat_diff_statuses AS cds (chat_id, url, git_branch, git_remote_origin, stale_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
ON CONFLICT (chat_id) DO UPDATE SET
  url = COALESCE(EXCLUDED.url, cds.url),
  git_branch = CASE WHEN EXCLUDED.git_branch <> '' THEN EXCLUDED.git_branch ELSE cds.git_branch END,
  git_remote_origin = CASE WHEN EXCLUDED.git_remote_origin <> '' THEN EXCLUDED.git_remote_origin ELSE cds.git_remote_origin END,
  stale_at = EXCLUDED.stale_at,
  updated_at = EXCLUDED.updated_at
RETURNING ${SELECT_COLUMNS}`;

type AcquireRow = AcquiredChatDiffStatusRow & { prior_stale_at: Date };

const FOREIGN_KEY_VIOLATION = '23503';

// pg cannot cancel a running query through a signal; an aborted caller just never starts one.
function checkSignal(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/** A missing chat (the foreign key) becomes NOT_FOUND; anything else is rethrown as is. */
function mapError(err: unknown, chatId: string): never {
  if ((err as { code?: unknown }).code === FOREIGN_KEY_VIOLATION) throw new ChatdError('NOT_FOUND', `chat ${chatId} does not exist`, { cause: err });
  throw err;
}

function requireChatId(chatId: string): string {
  if (!isUuid(chatId)) throw new ChatdError('INVALID_INPUT', 'Invalid chat ID.', { detail: 'chat ID must be a UUID.' });
  return chatId.toLowerCase();
}

/** Creates the PostgreSQL store on `pool`. */
export function createPgDiffStatusStore(options: PgDiffStatusStoreOptions): PgDiffStatusStore {
  const { pool, clock } = options;

  return {
    async acquireStaleChatDiffStatuses(limit, signal) {
      checkSignal(signal);
      if (!Number.isSafeInteger(limit) || limit <= 0) return [];
      const nowMs = clock.nowMs();
      const { rows } = await pool.query<AcquireRow>(ACQUIRE_SQL, [new Date(nowMs), limit, new Date(nowMs + ACQUISITION_LOCK_MS)]);
      // RETURNING has no order; restore "oldest stale_at first".
      rows.sort((a, b) => a.prior_stale_at.getTime() - b.prior_stale_at.getTime() || (a.chat_id < b.chat_id ? -1 : 1));
      return rows.map(({ prior_stale_at: _prior, ...row }) => row);
    },

    async backoffChatDiffStatus(params, signal) {
      checkSignal(signal);
      await pool.query('UPDATE chat_diff_statuses SET stale_at = $2 WHERE chat_id = $1', [requireChatId(params.chat_id), params.stale_at]);
    },

    async upsertChatDiffStatus(params, signal) {
      checkSignal(signal);
      const chatId = requireChatId(params.chat_id);
      const values = [chatId, ...PR_FIELDS.map((f) => params[f]), clock.now()];
      try {
        const { rows } = await pool.query<ChatDiffStatusRow>(UPSERT_SQL, values);
        return rows[0]!;
      } catch (err) {
        return mapError(err, chatId);
      }
    },

    async upsertChatDiffStatusReference(params, signal) {
      checkSignal(signal);
      const chatId = requireChatId(params.chat_id);
      try {
        const { rows } = await pool.query<ChatDiffStatusRow>(UPSERT_REFERENCE_SQL, [
          chatId,
          params.url,
          params.git_branch,
          params.git_remote_origin,
          params.stale_at,
          clock.now(),
        ]);
        return rows[0]!;
      } catch (err) {
        return mapError(err, chatId);
      }
    },

    async getChatsByWorkspaceIds(workspaceIds, signal) {
      checkSignal(signal);
      const ids = workspaceIds.filter(isUuid);
      if (ids.length === 0) return [];
      const { rows } = await pool.query<GitSyncChat>(
        `SELECT id, owner_id, workspace_id FROM chats
         WHERE archived = false AND workspace_id = ANY($1::uuid[])
         ORDER BY workspace_id, updated_at DESC, id`,
        [ids],
      );
      return rows;
    },

    async getChatDiffStatus(chatId) {
      if (!isUuid(chatId)) return undefined;
      const { rows } = await pool.query<ChatDiffStatusRow>(`SELECT ${SELECT_COLUMNS} FROM chat_diff_statuses cds WHERE cds.chat_id = $1`, [chatId.toLowerCase()]);
      return rows[0];
    },

    async getChatDiffStatusesByChatIds(chatIds) {
      const ids = chatIds.filter(isUuid);
      const out = new Map<string, ChatDiffStatusRow>();
      if (ids.length === 0) return out;
      const { rows } = await pool.query<ChatDiffStatusRow>(`SELECT ${SELECT_COLUMNS} FROM chat_diff_statuses cds WHERE cds.chat_id = ANY($1::uuid[])`, [ids]);
      for (const row of rows) out.set(row.chat_id, row);
      return out;
    },
  };
}
