// The chat server's side of @chatd/gitsync (issue 13): the PostgreSQL store, the refresher and the diff-status
// worker wired to the chat publisher (one `diff_status_change` ChatEvent per change), plus what the routes need:
// recording a pushed branch, reading a chat's status (refreshed inline when stale) and attaching statuses to
// Chat responses. Providers and tokens are injected; the defaults are public GitHub and GITHUB_TOKEN, the
// latter used only for the repository owners listed in CHATD_GITSYNC_OWNERS (everything else goes out
// unauthenticated); `takeRefresh` holds each user's refresh allowance (CHATD_GITSYNC_REFRESHES_PER_MINUTE) for the routes.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import {
  abortable,
  createEnvTokenResolver,
  createGitHubProvider,
  createOwnerScopedTokenResolver,
  createProviderResolver,
  createRefresher,
  createWorker,
  GitSyncError,
  isDiffStatusStale,
  parseOwnerList,
  silentLogger,
  toChatDiffStatus,
  type GitSyncLogger,
  type ProviderResolver,
  type TokenResolver,
  type Worker,
} from '@chatd/gitsync';
import type { Chat, ChatDiffStatus } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import type { ChatPublisher } from '../publish/chat-publisher.js';
import type { ChatStore } from '../store/chat-store.js';
import { createPgDiffStatusStore, type PgDiffStatusStore } from './pg-diff-status-store.js';
import { createRefreshLimiter, DEFAULT_GITSYNC_REFRESHES_PER_MINUTE, type RefreshAllowance } from './refresh-limiter.js';

/** How long a GET may wait for an inline refresh before answering with the stored status. @default 10000 */
export const DIFF_STATUS_REFRESH_TIMEOUT_MS = 10_000;
/** Tag of the inline refresh's deadline timer, for `MockClock.waitForTimer`. */
export const DIFF_STATUS_REFRESH_TIMER_TAG = 'gitsync:inline-refresh';

/** Environment variables the default wiring reads. */
export const GITSYNC_ENV = {
  /** Comma-separated repository owners the deployment token may be used for. */
  owners: 'CHATD_GITSYNC_OWNERS',
  /** Refreshes (push reports and inline refreshes) one user may start per minute. */
  refreshesPerMinute: 'CHATD_GITSYNC_REFRESHES_PER_MINUTE',
} as const;

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
  /** Token per owner and origin. @default `GITHUB_TOKEN` read from `env`, scoped to `owners` */
  tokens?: TokenResolver;
  /**
   * Repository owners `tokens` may be used for; other origins are fetched unauthenticated. Applies to the
   * default resolver always, and to an injected one when given. @default `CHATD_GITSYNC_OWNERS` from `env` (none)
   */
  owners?: readonly string[];
  /** Per-user refresh cap. @default `CHATD_GITSYNC_REFRESHES_PER_MINUTE` from `env`, else DEFAULT_GITSYNC_REFRESHES_PER_MINUTE */
  refreshesPerMinute?: number;
  /** Environment the default token resolver reads. @default {} */
  env?: Readonly<Record<string, string | undefined>>;
  /** Worker tick period; ignored unless > 0. @default the worker's (10 s) */
  intervalMs?: number;
  /** Deadline of an inline refresh on GET. @default DIFF_STATUS_REFRESH_TIMEOUT_MS */
  refreshTimeoutMs?: number;
};

/** Counters of the git routes (for /metrics). */
export type ChatGitSyncMetrics = {
  /** Push reports refused with 429 by the per-user cap. */
  reportsLimited: number;
  /** Inline refreshes skipped by the per-user cap (the stored status was served). */
  inlineRefreshesLimited: number;
};

/** Git/PR status of chats, for the server. */
export interface ChatGitSync {
  readonly store: PgDiffStatusStore;
  readonly worker: Worker;
  metrics(): ChatGitSyncMetrics;
  /**
   * Takes one refresh from the user's allowance (the routes call it; in-process callers are not capped). A refusal
   * is counted under `kind` and says how long until the next refresh.
   */
  takeRefresh(userId: string, kind: 'report' | 'inline'): RefreshAllowance;
  /** Starts the background worker (first tick one interval later). */
  start(): void;
  /** Stops the worker and waits for a running tick to end. */
  stop(): Promise<void>;
  /** Records the branch an agent pushed for the chat and makes its status stale now (publishes the change). */
  reportGitRef(chat: Chat, ref: GitRef): Promise<void>;
  /**
   * The chat's status, refreshed first when stale and `canRefresh` (asked only then) agrees; a zero-value status
   * when the chat has no row.
   */
  diffStatus(chat: Chat, options?: { canRefresh?: () => boolean }): Promise<ChatDiffStatus>;
  /** The chat with `diff_status` set when it has a row (no refresh). */
  withDiffStatus(chat: Chat): Promise<Chat>;
  /** The chats with `diff_status` set on those that have a row (one query, no refresh). */
  withDiffStatuses(chats: Chat[]): Promise<Chat[]>;
}

/** Reads CHATD_GITSYNC_REFRESHES_PER_MINUTE; a value that is not a positive integer is a ChatdError CONFIG. */
export function refreshesPerMinuteFromEnv(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env[GITSYNC_ENV.refreshesPerMinute];
  if (raw === undefined || raw.trim() === '') return DEFAULT_GITSYNC_REFRESHES_PER_MINUTE;
  const n = Number(raw.trim());
  if (!/^[0-9]+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new ChatdError('CONFIG', `${GITSYNC_ENV.refreshesPerMinute} must be a positive integer, got "${raw}"`);
  }
  return n;
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
  const env = options.env ?? {};
  const owners = options.owners ?? parseOwnerList(env[GITSYNC_ENV.owners]);
  const baseTokens = options.tokens ?? createEnvTokenResolver({ env });
  // A deployment-wide token must not read whatever repository a user names (a confused deputy).
  const tokens = options.tokens === undefined || options.owners !== undefined ? createOwnerScopedTokenResolver({ tokens: baseTokens, owners, providers: resolver }) : baseTokens;
  const perMinute = options.refreshesPerMinute ?? refreshesPerMinuteFromEnv(env);
  if (!Number.isFinite(perMinute) || perMinute <= 0) throw new ChatdError('CONFIG', `refreshesPerMinute must be a positive number, got ${perMinute}`);
  const limiter = createRefreshLimiter({ clock, perMinute });
  const counters: ChatGitSyncMetrics = { reportsLimited: 0, inlineRefreshesLimited: 0 };
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
    metrics: () => ({ ...counters }),

    takeRefresh(userId, kind) {
      const allowance = limiter.take(userId);
      if (!allowance.allowed) {
        if (kind === 'report') counters.reportsLimited++;
        else counters.inlineRefreshesLimited++;
      }
      return allowance;
    },

    async reportGitRef(chat, ref) {
      // The chat id is given, so the worker marks exactly this chat (the workspace is not consulted); markStale
      // strips credentials from an https origin before storing it.
      await worker.markStale({ workspaceId: chat.workspace_id ?? '', chatId: chat.id, origin: ref.origin, branch: ref.branch });
    },

    async diffStatus(chat, readOptions = {}) {
      let row = await store.getChatDiffStatus(chat.id);
      if (!row) return emptyChatDiffStatus(chat.id);
      const due = row.git_remote_origin !== '' && row.git_branch !== '' && isDiffStatusStale(row, clock.nowMs());
      // Without permission (a caller over its cap) the read still answers: with what is stored, as when a refresh fails.
      if (due && (readOptions.canRefresh?.() ?? true)) {
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
