// An in-memory Store for unit tests and demos. It keeps the SQL semantics of contract.md#diff-status-rows (acquisition
// claim, keep rules of the reference upsert, which calls touch updated_at, archived chats, cascade on delete)
// and reads "now" from the injected clock. It is not durable and not meant for production.
import type { Clock } from '@chatd/clock';
import { ACQUISITION_LOCK_MS } from './constants.js';
import { GitSyncError } from './gitsync-error.js';
import type {
  AcquiredChatDiffStatusRow,
  BackoffChatDiffStatusParams,
  ChatDiffStatusRow,
  GitSyncChat,
  Store,
  UpsertChatDiffStatusParams,
  UpsertChatDiffStatusReferenceParams,
} from './store.js';

/** A chat as the memory store keeps it. */
export type MemoryStoreChat = GitSyncChat & {
  archived?: boolean;
  /** Orders `getChatsByWorkspaceIds` (newest first). @default the clock's now at insert */
  updated_at?: Date;
};

/** Options for `createMemoryStore`. */
export type MemoryStoreOptions = {
  /** Source of "now" for every statement. */
  clock: Clock;
};

/** The in-memory Store plus helpers to seed and inspect it. */
export interface MemoryStore extends Store {
  /** Adds or replaces a chat. */
  putChat(chat: MemoryStoreChat): void;
  /** Archives or unarchives a chat. */
  setArchived(chatId: string, archived: boolean): void;
  /** Deletes a chat; its diff status goes with it (ON DELETE CASCADE). */
  deleteChat(chatId: string): void;
  /** A copy of a chat's diff status row, if any. */
  getChatDiffStatus(chatId: string): ChatDiffStatusRow | undefined;
  /** Copies of every diff status row, by chat id. */
  listChatDiffStatuses(): ChatDiffStatusRow[];
}

type StoredChat = { id: string; owner_id: string; workspace_id: string | null; archived: boolean; updated_at: Date };

const copyRow = (row: ChatDiffStatusRow): ChatDiffStatusRow => ({
  ...row,
  refreshed_at: row.refreshed_at && new Date(row.refreshed_at),
  stale_at: new Date(row.stale_at),
  created_at: new Date(row.created_at),
  updated_at: new Date(row.updated_at),
});

function emptyRow(chatId: string, now: Date): ChatDiffStatusRow {
  return {
    chat_id: chatId,
    url: null,
    pull_request_state: null,
    pull_request_title: '',
    pull_request_draft: false,
    changes_requested: false,
    additions: 0,
    deletions: 0,
    changed_files: 0,
    author_login: null,
    author_avatar_url: null,
    base_branch: null,
    head_branch: null,
    pr_number: null,
    commits: null,
    approved: null,
    reviewer_count: null,
    refreshed_at: null,
    stale_at: now,
    created_at: now,
    updated_at: now,
    git_branch: '',
    git_remote_origin: '',
  };
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new GitSyncError('ABORTED', 'store call aborted', { cause: signal.reason });
}

/** Creates an empty in-memory store. */
export function createMemoryStore(options: MemoryStoreOptions): MemoryStore {
  const { clock } = options;
  const chats = new Map<string, StoredChat>();
  const rows = new Map<string, ChatDiffStatusRow>();

  const requireChat = (chatId: string): StoredChat => {
    const chat = chats.get(chatId);
    // Mirrors the foreign key chat_diff_statuses.chat_id -> chats(id).
    if (!chat) throw new GitSyncError('STORE_ERROR', `chat ${chatId} does not exist`);
    return chat;
  };

  return {
    async acquireStaleChatDiffStatuses(limit, signal) {
      checkSignal(signal);
      const now = clock.nowMs();
      const candidates = [...rows.values()]
        .filter((r) => {
          const chat = chats.get(r.chat_id);
          return r.stale_at.getTime() <= now && r.git_remote_origin !== '' && r.git_branch !== '' && chat !== undefined && !chat.archived;
        })
        .sort((a, b) => a.stale_at.getTime() - b.stale_at.getTime())
        .slice(0, Math.max(0, limit));
      return candidates.map((r) => {
        // The claim: not eligible again until the lock expires. updated_at is deliberately left alone
        // (the no-PR retry window is measured from it).
        r.stale_at = new Date(now + ACQUISITION_LOCK_MS);
        return { ...copyRow(r), owner_id: requireChat(r.chat_id).owner_id } satisfies AcquiredChatDiffStatusRow;
      });
    },

    async backoffChatDiffStatus(params: BackoffChatDiffStatusParams, signal) {
      checkSignal(signal);
      const row = rows.get(params.chat_id);
      if (row) row.stale_at = new Date(params.stale_at);
    },

    async upsertChatDiffStatus(params: UpsertChatDiffStatusParams, signal) {
      checkSignal(signal);
      requireChat(params.chat_id);
      const now = clock.now();
      const row = rows.get(params.chat_id) ?? emptyRow(params.chat_id, now);
      const { chat_id: _chatId, refreshed_at, stale_at, ...fields } = params;
      Object.assign(row, fields, { refreshed_at: new Date(refreshed_at), stale_at: new Date(stale_at), updated_at: now });
      rows.set(params.chat_id, row);
      return copyRow(row);
    },

    async upsertChatDiffStatusReference(params: UpsertChatDiffStatusReferenceParams, signal) {
      checkSignal(signal);
      requireChat(params.chat_id);
      const now = clock.now();
      const existing = rows.get(params.chat_id);
      const row = existing ?? emptyRow(params.chat_id, now);
      if (!existing || params.url !== null) row.url = params.url;
      if (!existing || params.git_branch !== '') row.git_branch = params.git_branch;
      if (!existing || params.git_remote_origin !== '') row.git_remote_origin = params.git_remote_origin;
      row.stale_at = new Date(params.stale_at);
      row.updated_at = now;
      rows.set(params.chat_id, row);
      return copyRow(row);
    },

    async getChatsByWorkspaceIds(workspaceIds, signal) {
      checkSignal(signal);
      const wanted = new Set(workspaceIds);
      return [...chats.values()]
        .filter((c) => !c.archived && c.workspace_id !== null && wanted.has(c.workspace_id))
        .sort((a, b) => {
          const wa = a.workspace_id ?? '';
          const wb = b.workspace_id ?? '';
          return wa < wb ? -1 : wa > wb ? 1 : b.updated_at.getTime() - a.updated_at.getTime();
        })
        .map((c) => ({ id: c.id, owner_id: c.owner_id, workspace_id: c.workspace_id }));
    },

    putChat(chat) {
      chats.set(chat.id, {
        id: chat.id,
        owner_id: chat.owner_id,
        workspace_id: chat.workspace_id ?? null,
        archived: chat.archived ?? false,
        updated_at: chat.updated_at ?? clock.now(),
      });
    },
    setArchived(chatId, archived) {
      requireChat(chatId).archived = archived;
    },
    deleteChat(chatId) {
      chats.delete(chatId);
      rows.delete(chatId);
    },
    getChatDiffStatus(chatId) {
      const row = rows.get(chatId);
      return row && copyRow(row);
    },
    listChatDiffStatuses() {
      return [...rows.values()].sort((a, b) => (a.chat_id < b.chat_id ? -1 : 1)).map(copyRow);
    },
  };
}
