// The diff-status Worker (seed 003, contract.md#gitsync-worker): a clock-driven loop that claims stale rows, refreshes
// them through the Refresher and writes the outcome back with the seed's backoffs, publishing each change.
// Also the two entry points the server calls directly: markStale (after a push) and refreshChat (inline on
// GET). It never throws from the loop: every failure is logged and the next row or tick goes on.
import type { Clock, Ticker } from '@chatd/clock';
import type { ChatDiffStatus } from '@chatd/protocol';
import { abortable } from './abortable.js';
import { toChatDiffStatus } from './chat-diff-status.js';
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_INTERVAL_MS,
  DEFAULT_TICK_TIMEOUT_MS,
  DIFF_STATUS_TTL_MS,
  MARK_STALE_OFFSET_MS,
  NO_PR_BACKOFF_MS,
  NO_PR_RETRY_WINDOW_MS,
  NO_TOKEN_BACKOFF_MS,
} from './constants.js';
import { GitSyncError, hasErrorCode, wrapError } from './gitsync-error.js';
import { silentLogger, type GitSyncLogger } from './logger.js';
import { stripOriginCredentials } from './origin.js';
import type { RefreshRequest, RefreshResult, Refresher } from './refresher.js';
import type { ChatDiffStatusRow, Store } from './store.js';

/** Tag of the worker's tick timer, for `MockClock.waitForTimer` / `trap`. */
export const WORKER_TICK_TAG = 'gitsync:tick';
/** Tag of the per-tick deadline timer. */
export const WORKER_TICK_TIMEOUT_TAG = 'gitsync:tick-timeout';

/** Notifies the frontend of a diff status change (seed: `PublishDiffStatusChangeFunc`); errors are only logged. */
export type PublishDiffStatusChange = (chatId: string, status: ChatDiffStatus) => void | Promise<void>;

/** Arguments of `markStale` (seed: `MarkStaleParams`). */
export type MarkStaleParams = {
  workspaceId: string;
  branch: string;
  origin: string;
  /** Targets one chat (trusted, not checked against the workspace) instead of every chat of the workspace. */
  chatId?: string | null;
};

/** Options of `refreshChat`. */
export type RefreshChatOptions = { signal?: AbortSignal };

/** The background diff-status loop. */
export interface Worker {
  /** Starts ticking every `intervalMs` (first tick one interval from now). Aborting `signal` stops it. Idempotent. */
  start(signal?: AbortSignal): void;
  /** Stops the loop, aborts a running tick, and resolves once it has exited with no timer left armed. */
  stop(): Promise<void>;
  /** Resolves when the worker has exited. */
  done(): Promise<void>;
  /**
   * Persists a branch/origin (credentials stripped) for one chat, or every chat of a workspace, makes it stale now
   * and publishes. Never rejects.
   */
  markStale(params: MarkStaleParams): Promise<void>;
  /**
   * Refreshes one chat now through the same pipeline: the upserted row, or null when there is no pull request yet.
   * Rejects with a `GitSyncError` ("refresh chat diff status: ..." or "upsert chat diff status: ...").
   */
  refreshChat(row: ChatDiffStatusRow, ownerId: string, options?: RefreshChatOptions): Promise<ChatDiffStatusRow | null>;
}

/** Options for `createWorker`. */
export type WorkerOptions = {
  store: Store;
  refresher: Refresher;
  /** Called once per changed chat. */
  publish?: PublishDiffStatusChange;
  clock: Clock;
  logger?: GitSyncLogger;
  /** Rows claimed per tick; ignored unless > 0. @default DEFAULT_BATCH_SIZE */
  batchSize?: number;
  /** Tick period; ignored unless > 0. @default DEFAULT_INTERVAL_MS */
  intervalMs?: number;
  /** Deadline of one tick; ignored unless > 0. @default DEFAULT_TICK_TIMEOUT_MS */
  tickTimeoutMs?: number;
};

const positiveOr = (value: number | undefined, fallback: number): number => (value !== undefined && value > 0 ? value : fallback);

/** Creates a Worker; call `start()` to run the loop. */
export function createWorker(options: WorkerOptions): Worker {
  const { store, refresher, clock, publish } = options;
  const logger = options.logger ?? silentLogger;
  const batchSize = positiveOr(options.batchSize, DEFAULT_BATCH_SIZE);
  const intervalMs = positiveOr(options.intervalMs, DEFAULT_INTERVAL_MS);
  const tickTimeoutMs = positiveOr(options.tickTimeoutMs, DEFAULT_TICK_TIMEOUT_MS);

  let state: 'idle' | 'running' | 'stopped' = 'idle';
  let ticker: Ticker | undefined;
  let currentTick: { controller: AbortController; finished: Promise<void> } | undefined;
  let resolveDone!: () => void;
  const donePromise = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  let stopping: Promise<void> | undefined;

  async function publishSafe(chatId: string, row: ChatDiffStatusRow, signal?: AbortSignal): Promise<void> {
    if (!publish) return;
    try {
      await abortable(Promise.resolve(publish(chatId, toChatDiffStatus(row))), signal);
    } catch (err) {
      logger.debug({ err, chatId }, 'gitsync: publish diff status change failed');
    }
  }

  async function backoff(chatId: string, delayMs: number, signal: AbortSignal): Promise<void> {
    try {
      await abortable(store.backoffChatDiffStatus({ chat_id: chatId, stale_at: new Date(clock.nowMs() + delayMs) }, signal), signal);
    } catch (err) {
      logger.warn({ err, chatId }, 'gitsync: back off chat diff status failed');
    }
  }

  async function handleResult(result: RefreshResult, signal: AbortSignal): Promise<void> {
    const { row } = result.request;
    if (result.error) {
      // A missing token needs the user to link an account, so wait long; anything else (rate limits included)
      // waits one TTL, as upstream does.
      const delayMs = hasErrorCode(result.error, 'NO_TOKEN_AVAILABLE') ? NO_TOKEN_BACKOFF_MS : DIFF_STATUS_TTL_MS;
      logger.debug({ err: result.error, chatId: row.chat_id, backoffMs: delayMs }, 'gitsync: refresh failed');
      await backoff(row.chat_id, delayMs, signal);
      return;
    }
    if (!result.params) {
      // No PR yet. Shortly after markStale (which set updated_at) retry fast to catch a PR opened right after the
      // push; later, leave the acquisition claim as the retry interval. Strictly less: exactly the window is "later".
      if (clock.nowMs() - row.updated_at.getTime() < NO_PR_RETRY_WINDOW_MS) await backoff(row.chat_id, NO_PR_BACKOFF_MS, signal);
      return;
    }
    let updated: ChatDiffStatusRow;
    try {
      updated = await abortable(store.upsertChatDiffStatus(result.params, signal), signal);
    } catch (err) {
      logger.warn({ err, chatId: row.chat_id }, 'gitsync: upsert chat diff status failed');
      return;
    }
    await publishSafe(row.chat_id, updated, signal);
  }

  async function tickBody(signal: AbortSignal): Promise<void> {
    let rows;
    try {
      rows = await abortable(store.acquireStaleChatDiffStatuses(batchSize, signal), signal);
    } catch (err) {
      logger.warn({ err }, 'gitsync: acquire stale chat diff statuses failed');
      return;
    }
    if (rows.length === 0) return;
    const requests: RefreshRequest[] = rows.map(({ owner_id, ...row }) => ({ row, ownerId: owner_id }));
    let results: RefreshResult[];
    try {
      // Raced with the deadline too, so a provider or token resolver that ignores the signal cannot hold the tick.
      results = await abortable(refresher.refresh(requests, { signal }), signal);
    } catch (err) {
      logger.warn({ err }, signal.aborted ? 'gitsync: tick ended during refresh; rows keep their claim' : 'gitsync: refresh batch failed');
      return;
    }
    for (const [i, result] of results.entries()) {
      if (signal.aborted) {
        // Past the deadline (or stopping) writes are not attempted; the remaining rows keep their claim.
        logger.warn({ err: signal.reason, remaining: results.length - i }, 'gitsync: tick ended early; remaining rows keep their claim');
        return;
      }
      await handleResult(result, signal);
    }
  }

  function tick(): Promise<void> {
    const controller = new AbortController();
    const deadline = clock.setTimeout(
      () => controller.abort(new GitSyncError('TIMEOUT', `gitsync tick exceeded ${tickTimeoutMs} ms`)),
      tickTimeoutMs,
      WORKER_TICK_TIMEOUT_TAG,
    );
    const finished = tickBody(controller.signal)
      .catch((err: unknown) => logger.error({ err }, 'gitsync: tick failed'))
      .finally(() => {
        deadline.cancel();
        currentTick = undefined;
      });
    currentTick = { controller, finished };
    return finished;
  }

  function stop(): Promise<void> {
    if (stopping) return stopping;
    state = 'stopped';
    ticker?.stop();
    ticker = undefined;
    const running = currentTick;
    running?.controller.abort(new GitSyncError('ABORTED', 'gitsync worker stopped'));
    stopping = (running?.finished ?? Promise.resolve()).then(() => resolveDone());
    return stopping;
  }

  return {
    start(signal) {
      if (state !== 'idle') return;
      state = 'running';
      ticker = clock.setInterval(tick, intervalMs, WORKER_TICK_TAG);
      if (signal) {
        if (signal.aborted) void stop();
        else signal.addEventListener('abort', () => void stop(), { once: true });
      }
    },
    stop,
    done: () => donePromise,

    async markStale(params) {
      const { workspaceId, branch, chatId } = params;
      // Credentials embedded in an https origin must not be stored (upstream later strips them the same way).
      const origin = stripOriginCredentials(params.origin);
      if (branch === '' || origin === '') return;
      let chatIds: string[];
      if (chatId) {
        chatIds = [chatId];
      } else {
        try {
          chatIds = (await store.getChatsByWorkspaceIds([workspaceId])).map((c) => c.id);
        } catch (err) {
          logger.warn({ err, workspaceId }, 'gitsync: list chats of workspace failed');
          return;
        }
      }
      for (const id of chatIds) {
        let row: ChatDiffStatusRow;
        try {
          // url null keeps a known PR URL; updated_at = now opens the no-PR fast-retry window.
          row = await store.upsertChatDiffStatusReference({
            chat_id: id,
            url: null,
            git_branch: branch,
            git_remote_origin: origin,
            stale_at: new Date(clock.nowMs() - MARK_STALE_OFFSET_MS),
          });
        } catch (err) {
          logger.warn({ err, chatId: id }, 'gitsync: upsert chat diff status reference failed');
          continue;
        }
        await publishSafe(id, row);
      }
    },

    async refreshChat(row, ownerId, refreshOptions = {}) {
      const { signal } = refreshOptions;
      let results: RefreshResult[];
      try {
        results = await refresher.refresh([{ row, ownerId }], { signal });
      } catch (err) {
        throw wrapError('refresh chat diff status', err);
      }
      const result = results[0];
      if (!result) return null;
      if (result.error) throw wrapError('refresh chat diff status', result.error);
      if (!result.params) return null;
      let updated: ChatDiffStatusRow;
      try {
        updated = await store.upsertChatDiffStatus(result.params, signal);
      } catch (err) {
        throw wrapError('upsert chat diff status', err, 'STORE_ERROR');
      }
      await publishSafe(row.chat_id, updated);
      return updated;
    },
  };
}
