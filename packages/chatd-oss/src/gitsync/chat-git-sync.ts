// The chat server's side of @chatd/gitsync (issue 13): the PostgreSQL store, the refresher and the diff-status
// worker wired to the chat publisher (one `diff_status_change` ChatEvent per change), plus what the routes need:
// recording a pushed branch, reading a chat's status (refreshed inline when stale) and attaching statuses to
// Chat responses. Providers and tokens are injected; the defaults are public GitHub and GITHUB_TOKEN.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import {
  abortable,
  createEnvTokenResolver,
  createGitHubProvider,
  createProviderResolver,
  createRefresher,
  createWorker,
  GitSyncError,
  isDiffStatusStale,
  silentLogger,
  toChatDiffStatus,
  type GitSyncLogger,
  type ProviderResolver,
  type TokenResolver,
  type Worker,
} from '@chatd/gitsync';
import type { Chat, ChatDiffStatus } from '@chatd/pubsub';
import type { ChatPublisher } from '../publish/chat-publisher.js';
import type { ChatStore } from '../store/chat-store.js';
import { createPgDiffStatusStore, type PgDiffStatusStore } from './pg-diff-status-store.js';

/** How long a GET may wait for an inline refresh before answering with the stored status. @default 10000 */
export const DIFF_STATUS_REFRESH_TIMEOUT_MS = 10_000;
/** Tag of the inline refresh's deadline timer, for `MockClock.waitForTimer`. */
export const DIFF_STATUS_REFRESH_TIMER_TAG = 'gitsync:inline-refresh';

/** The git reference an agent reports after a push. */
export type GitRef = { origin: string; branch: string };

/** Options of `createChatGitSync`. */
export type ChatGitSyncOptions = {
  pool: pg.Pool;
  clock: Clock;
  /** Loads the chat a `diff_status_change` event carries. */
  chats: Pick<ChatStore, 'getChat'>;
  publisher: Pick<ChatPublisher, 'publishChatEvent'>;
  logger?: GitSyncLogger;
  /** Provider per origin. @default public GitHub only */
  resolver?: ProviderResolver;
  /** Token per owner and origin. @default `GITHUB_TOKEN` read from `env` */
  tokens?: TokenResolver;
  /** Environment the default token resolver reads. @default {} */
  env?: Readonly<Record<string, string | undefined>>;
  /** Worker tick period; ignored unless > 0. @default the worker's (10 s) */
  intervalMs?: number;
  /** Deadline of an inline refresh on GET. @default DIFF_STATUS_REFRESH_TIMEOUT_MS */
  refreshTimeoutMs?: number;
};

/** Git/PR status of chats, for the server. */
export interface ChatGitSync {
  readonly store: PgDiffStatusStore;
  readonly worker: Worker;
  /** Starts the background worker (first tick one interval later). */
  start(): void;
  /** Stops the worker and waits for a running tick to end. */
  stop(): Promise<void>;
  /** Records the branch an agent pushed for the chat and makes its status stale now (publishes the change). */
  reportGitRef(chat: Chat, ref: GitRef): Promise<void>;
  /** The chat's status, refreshed first when stale; a zero-value status when the chat has no row. */
  diffStatus(chat: Chat): Promise<ChatDiffStatus>;
  /** The chat with `diff_status` set when it has a row (no refresh). */
  withDiffStatus(chat: Chat): Promise<Chat>;
  /** The chats with `diff_status` set on those that have a row (one query, no refresh). */
  withDiffStatuses(chats: Chat[]): Promise<Chat[]>;
}

/** The status of a chat that has no row yet (what the original's list responses show). */
export function emptyChatDiffStatus(chatId: string): ChatDiffStatus {
  return { chat_id: chatId, changes_requested: false, additions: 0, deletions: 0, changed_files: 0 };
}

/** Wires the store, refresher and worker; call `start()` once the server listens. */
export function createChatGitSync(options: ChatGitSyncOptions): ChatGitSync {
  const { clock, chats, publisher } = options;
  const logger = options.logger ?? silentLogger;
  const refreshTimeoutMs = options.refreshTimeoutMs ?? DIFF_STATUS_REFRESH_TIMEOUT_MS;
  const store = createPgDiffStatusStore({ pool: options.pool, clock });
  const resolver = options.resolver ?? createProviderResolver([createGitHubProvider({ clock })]);
  const tokens = options.tokens ?? createEnvTokenResolver({ env: options.env ?? {} });
  const refresher = createRefresher({ providers: resolver, tokens, clock, logger });

  const worker = createWorker({
    store,
    refresher,
    clock,
    logger,
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    publish: async (chatId, status) => {
      const chat = await chats.getChat(chatId);
      if (chat) await publisher.publishChatEvent('diff_status_change', { ...chat, diff_status: status });
    },
  });

  return {
    store,
    worker,
    start: () => worker.start(),
    stop: () => worker.stop(),

    async reportGitRef(chat, ref) {
      // The chat id is given, so the worker marks exactly this chat (the workspace is not consulted); markStale
      // strips credentials from an https origin before storing it.
      await worker.markStale({ workspaceId: chat.workspace_id ?? '', chatId: chat.id, origin: ref.origin, branch: ref.branch });
    },

    async diffStatus(chat) {
      let row = await store.getChatDiffStatus(chat.id);
      if (!row) return emptyChatDiffStatus(chat.id);
      if (row.git_remote_origin !== '' && row.git_branch !== '' && isDiffStatusStale(row, clock.nowMs())) {
        const controller = new AbortController();
        const timer = clock.setTimeout(
          () => controller.abort(new GitSyncError('TIMEOUT', `inline diff status refresh exceeded ${refreshTimeoutMs} ms`)),
          refreshTimeoutMs,
          DIFF_STATUS_REFRESH_TIMER_TAG,
        );
        try {
          const refreshed = await abortable(worker.refreshChat(row, chat.owner_id, { signal: controller.signal }), controller.signal);
          // null: no pull request yet; the stored row (branch, origin) is still the answer.
          if (refreshed) row = refreshed;
        } catch (err) {
          // A provider failure must not fail the read: answer with what is stored; the worker retries later.
          logger.warn({ err, chatId: chat.id }, 'inline diff status refresh failed');
        } finally {
          timer.cancel();
        }
      }
      return toChatDiffStatus(row);
    },

    async withDiffStatus(chat) {
      const row = await store.getChatDiffStatus(chat.id);
      return row ? { ...chat, diff_status: toChatDiffStatus(row) } : chat;
    },

    async withDiffStatuses(list) {
      if (list.length === 0) return list;
      const rows = await store.getChatDiffStatusesByChatIds(list.map((c) => c.id));
      return list.map((chat) => {
        const row = rows.get(chat.id);
        return row ? { ...chat, diff_status: toChatDiffStatus(row) } : chat;
      });
    },
  };
}
