// The chat worker that runs in every replica (contract.md#worker): on the clock it acquires
// pending chats (each acquisition is a run with a new run_id), refreshes the heartbeats of its runs
// (a heartbeat that updates no row cancels the run as taken) and hands stale chats of dead workers back.
// `stop()` is the clean shutdown of contract.md#clean-shutdown: runs save their partial replies and their chats go back
// to `pending` at once. Its background loops never throw; failures are logged and retried on the next tick.
import type { Clock, Ticker } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import type { PubSub } from '@chatd/pubsub';
import type { LiveStreams } from '../live/live-buffer.js';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { NOOP_LOGGER, type Logger } from '../logger.js';
import { createChatPublisher, type ChatPublisher } from '../publish/chat-publisher.js';
import { DEFAULT_MAX_CHATS_PER_ACQUIRE, HEARTBEAT_BATCH_SIZE, type AcquiredChat, type ChatStore } from '../store/chat-store.js';
import { createCoalescedRead } from './coalesced-read.js';
import { createRunStateReader } from './run-state-reader.js';
import { startChatRun, type ActiveChatRun, type ChatRunDeps, type ChatRunOutcome, type ChatRunResult, type ModelResolver, type RunCancelReason } from './chat-run.js';
import type { ChatTitler } from './chat-title.js';
import type { ToolRegistry } from '../tools/server-tool.js';
import type { ServerMetrics } from '../server/server-metrics.js';
import { traceRun } from '../telemetry/run-span.js';
import { DEFAULT_ACQUIRE_INTERVAL_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_STALE_AFTER_MS, STALE_RECOVERY_DIVISOR } from './worker-config.js';

/** Tag of the acquisition ticker's timers. */
export const ACQUIRE_TIMER_TAG = 'chat-worker:acquire';
/** Tag of the heartbeat ticker's timers. */
export const HEARTBEAT_TIMER_TAG = 'chat-worker:heartbeat';
/** Tag of the stale-recovery ticker's timers. */
export const STALE_RECOVERY_TIMER_TAG = 'chat-worker:stale-recovery';

/** Options of `createChatWorker`. */
export type ChatWorkerOptions = {
  store: ChatStore;
  pubsub: PubSub;
  /** This replica's live buffers (parts of its runs). */
  live: LiveStreams;
  /** The model (an AI SDK `LanguageModelV3`), or a function picking one per chat (by its model config). */
  model: LanguageModelV3 | ModelResolver;
  clock: Clock;
  /** This replica's id (new at each start), written as the chats' `worker_id`. */
  workerId: string;
  logger?: Logger;
  /** @default createChatPublisher({ pubsub, clock, logger }) */
  publisher?: ChatPublisher;
  /** False (`CHATD_WORKER=0`) makes `start` a no-op: the replica serves clients but never generates. @default true */
  worker?: boolean;
  /** @default DEFAULT_ACQUIRE_INTERVAL_MS */
  acquireIntervalMs?: number;
  /** @default DEFAULT_HEARTBEAT_INTERVAL_MS */
  heartbeatIntervalMs?: number;
  /** @default DEFAULT_STALE_AFTER_MS */
  staleAfterMs?: number;
  /** @default staleAfterMs / STALE_RECOVERY_DIVISOR */
  staleRecoveryIntervalMs?: number;
  /** Chats taken per acquisition at most. @default DEFAULT_MAX_CHATS_PER_ACQUIRE */
  maxChatsPerAcquire?: number;
  /** The server tools (contract.md#server-tools) offered to every chat's model; none when unset. */
  tools?: ToolRegistry;
  /** Model steps per turn (contract.md#steps). @default DEFAULT_MAX_STEPS */
  maxSteps?: number;
  /** How long a chat waits in `requires_action` for client results (contract.md#client-tools). @default DEFAULT_REQUIRES_ACTION_TIMEOUT_MS */
  requiresActionTimeoutMs?: number;
  /** The owner's own system prompt for a chat (e.g. `chat => cache.userSystemPrompt(chat.owner_id)`); none when unset. */
  systemPrompt?: (chat: Chat) => Promise<string>;
  /** Called once per run when it has ended and published (must not throw). */
  onRunEnd?: (result: ChatRunResult) => void;
  /** Compaction (contract.md#compaction): its store and the deployment settings. @default no compaction */
  compaction?: ChatRunDeps['compaction'];
  /** Generated titles after a chat's first reply. @default the title rule at the run's start for `New Chat` chats */
  titler?: ChatTitler;
  /** Runs by outcome and their durations, live runs, stale recoveries, and what each run reports (chat-run.ts). */
  metrics?: ServerMetrics;
  /** Uploaded files whose bytes the newest file parts send to the model (contract.md#files). @default mentions only */
  files?: ChatRunDeps['files'];
  /** The cost ledger and spend limits (contract.md#cost). @default calls are not recorded */
  costs?: ChatRunDeps['costs'];
};

/** Counters of one worker (for `/metrics`); they only grow, except `activeRuns`. */
export type ChatWorkerMetrics = {
  /** Chats acquired (runs started). */
  acquired: number;
  /** Runs ended, by outcome. */
  runsEnded: Record<ChatRunOutcome, number>;
  /** Acquisition passes, heartbeats and recovery passes that failed on the database. */
  acquireFailures: number;
  heartbeatFailures: number;
  recoveryFailures: number;
  /** Runs cancelled because a heartbeat updated no row. */
  heartbeatsLost: number;
  /** Stale chats this worker handed back. */
  recovered: number;
  /** Chats whose client tool calls this worker answered "no result from the client in time". */
  requiresActionExpired: number;
  /** Runs in flight now. */
  activeRuns: number;
};

/** A run of this worker, as `activeRuns` lists it. */
export type ActiveRunInfo = { chatId: string; runId: string; cancelReason: RunCancelReason | undefined };

/** The worker of one replica. */
export interface ChatWorker {
  readonly workerId: string;
  /** False when built with `worker: false`. */
  readonly enabled: boolean;
  /** Recovers stale chats and acquires once at once, then on the clock. Idempotent. */
  start(): void;
  /** Clean shutdown: stops the loops, cancels each run (partial reply saved, chat back to `pending`), waits for them. */
  stop(): Promise<void>;
  /** Asks for an acquisition pass now (e.g. after a chat was created on this replica). */
  wake(): void;
  /** Runs one acquisition pass now; resolves with the number of chats it took. */
  acquireNow(): Promise<number>;
  /** Runs one stale recovery pass now; resolves with the number of chats it handed back. */
  recoverNow(): Promise<number>;
  /** Refreshes every run's heartbeat now, cancelling runs that lost their chat. */
  heartbeatNow(): Promise<void>;
  /** The runs in flight. */
  activeRuns(): ActiveRunInfo[];
  /** Resolves when the current run of `chatId` ends, or the next one if none is in flight. */
  waitForRunEnd(chatId: string): Promise<ChatRunResult>;
  /** Resolves once no run, acquisition or side task is in flight (runs waiting on the clock keep it pending). */
  idle(): Promise<void>;
  /** A snapshot of the counters. */
  metrics(): ChatWorkerMetrics;
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

/** Creates a worker; call `start()` to run it. */
export function createChatWorker(options: ChatWorkerOptions): ChatWorker {
  const { store, pubsub, live, clock, workerId } = options;
  const logger = options.logger ?? NOOP_LOGGER;
  const publisher = options.publisher ?? createChatPublisher({ pubsub, clock, logger });
  const enabled = options.worker ?? true;
  const acquireIntervalMs = positive('acquireIntervalMs', options.acquireIntervalMs ?? DEFAULT_ACQUIRE_INTERVAL_MS);
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
  const staleAfterMs = positive('staleAfterMs', options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS);
  const staleRecoveryIntervalMs = positive('staleRecoveryIntervalMs', options.staleRecoveryIntervalMs ?? staleAfterMs / STALE_RECOVERY_DIVISOR);
  const maxChatsPerAcquire = options.maxChatsPerAcquire ?? DEFAULT_MAX_CHATS_PER_ACQUIRE;
  if (!Number.isSafeInteger(maxChatsPerAcquire) || maxChatsPerAcquire < 1) throw new RangeError(`maxChatsPerAcquire must be a positive integer, got ${maxChatsPerAcquire}`);
  const maxSteps = options.maxSteps;
  if (maxSteps !== undefined && (!Number.isSafeInteger(maxSteps) || maxSteps < 1)) throw new RangeError(`maxSteps must be a positive integer, got ${maxSteps}`);
  const model = options.model;
  const resolveModel: ModelResolver = typeof model === 'function' ? model : () => ({ model, provider: model.provider });

  const runs = new Map<string, ActiveChatRun>();
  const tasks = new Set<Promise<unknown>>();
  const waiters = new Map<string, Array<(r: ChatRunResult) => void>>();
  const tickers: Ticker[] = [];
  let started = false;
  let stopping = false;
  let stopPromise: Promise<void> | undefined;
  let acquiring: Promise<number> | undefined;
  let acquireAgain = false;
  let wakeQueued = false;
  const counters = {
    acquired: 0,
    runsEnded: { finished: 0, interrupted: 0, requeued: 0, failed: 0, fenced: 0, abandoned: 0, requires_action: 0 } as Record<ChatRunOutcome, number>,
    acquireFailures: 0,
    heartbeatFailures: 0,
    recoveryFailures: 0,
    heartbeatsLost: 0,
    recovered: 0,
    requiresActionExpired: 0,
  };

  function track(task: Promise<unknown>): void {
    const t = task.catch((err: unknown) => logger.error({ err, workerId }, 'chat worker task failed'));
    tasks.add(t);
    void t.finally(() => tasks.delete(t));
  }

  const runStates = createRunStateReader(store);
  // The runs' spend checks (one per step, by owner) share their reads.
  const sharedSpendReads = (costs: NonNullable<ChatRunDeps['costs']>): NonNullable<ChatRunDeps['costs']> => {
    const spend = createCoalescedRead((ownerId) => costs.spendState(ownerId));
    return { recordModelCall: (input) => costs.recordModelCall(input), spendState: (ownerId) => spend.read(ownerId) };
  };
  // Side tasks (a title request) give up when the worker stops, so shutdown never waits on a model.
  const sideTasks = new AbortController();
  const runDeps = {
    store,
    pubsub,
    live,
    publisher,
    clock,
    logger,
    workerId,
    resolveModel,
    ...(options.tools ? { tools: options.tools } : {}),
    ...(maxSteps !== undefined ? { maxSteps } : {}),
    ...(options.requiresActionTimeoutMs !== undefined ? { requiresActionTimeoutMs: positive('requiresActionTimeoutMs', options.requiresActionTimeoutMs) } : {}),
    ...(options.systemPrompt ? { systemPrompt: options.systemPrompt } : {}),
    ...(options.compaction ? { compaction: options.compaction } : {}),
    ...(options.titler ? { titler: options.titler } : {}),
    sideSignal: sideTasks.signal,
    track,
    wake: () => worker.wake(),
    readRunState: (chatId: string) => runStates.read(chatId),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.files ? { files: options.files } : {}),
    ...(options.costs ? { costs: sharedSpendReads(options.costs) } : {}),
  };

  function launch(acquired: AcquiredChat): void {
    const startMs = clock.nowMs();
    const run = traceRun(acquired, workerId, () => startChatRun(runDeps, acquired, stopping));
    runs.set(run.chatId, run);
    counters.acquired++;
    options.metrics?.inc('chatd_live_runs');
    void run.done.then((result) => {
      if (runs.get(run.chatId) === run) runs.delete(run.chatId);
      counters.runsEnded[result.outcome]++;
      options.metrics?.inc('chatd_live_runs', -1);
      options.metrics?.inc('chatd_runs_total', 1, { outcome: result.outcome });
      options.metrics?.observe('chatd_run_duration_seconds', (clock.nowMs() - startMs) / 1000, { outcome: result.outcome });
      try {
        options.onRunEnd?.(result);
      } catch (err) {
        logger.warn({ err, workerId }, 'onRunEnd threw');
      }
      const ws = waiters.get(run.chatId);
      waiters.delete(run.chatId);
      for (const w of ws ?? []) w(result);
    });
  }

  /**
   * Answers the calls of chats whose `requires_action` deadline passed (stored with the chat, so whichever
   * replica acquires next enforces it, also after the one that set it is gone); they become pending and are
   * acquired in the same pass. Counted in `requiresActionExpired`.
   */
  async function expireRequiredActions(): Promise<void> {
    let changes;
    try {
      changes = await store.expireRequiredActions();
    } catch (err) {
      counters.acquireFailures++;
      logger.warn({ err, workerId }, 'expiring client tool calls failed');
      return;
    }
    counters.requiresActionExpired += changes.length;
    for (const change of changes) {
      logger.info({ chatId: change.chat.id, workerId }, 'client tool calls got no result in time');
      await publisher.publishChange(change);
    }
  }

  /**
   * What a pass has to do, from one probe (issue 36): an idle pass was six round trips (expiry read, BEGIN, lock,
   * take, capacity flags, COMMIT), and a worker polling every 20 ms spent a quarter of its queries on them. A failed
   * probe is counted and the pass goes on in full.
   */
  async function passWork(): Promise<{ pending: boolean; expired: boolean }> {
    try {
      return await store.acquisitionWork();
    } catch (err) {
      counters.acquireFailures++;
      logger.warn({ err, workerId }, 'probing for pending chats failed');
      return { pending: true, expired: true };
    }
  }

  async function acquireOnce(): Promise<number> {
    let acquired: AcquiredChat[];
    const work = await passWork();
    if (work.expired) await expireRequiredActions();
    // Expired client calls make their chats pending: take them in the same pass.
    if (!work.pending && !work.expired) return 0;
    try {
      acquired = await store.acquireChats(workerId, maxChatsPerAcquire);
    } catch (err) {
      counters.acquireFailures++;
      logger.warn({ err, workerId }, 'acquiring chats failed');
      return 0;
    }
    for (const a of acquired) {
      logger.info({ chatId: a.chat.id, runId: a.runId, workerId }, 'acquired chat');
      launch(a);
    }
    return acquired.length;
  }

  function acquire(): Promise<number> {
    if (acquiring) {
      acquireAgain = true;
      return acquiring;
    }
    acquiring = (async () => {
      let total = 0;
      do {
        acquireAgain = false;
        if (stopping) break;
        total += await acquireOnce();
      } while (acquireAgain);
      return total;
    })().finally(() => {
      acquiring = undefined;
    });
    return acquiring;
  }

  async function recover(): Promise<number> {
    let changes;
    try {
      changes = await store.recoverStaleChats(staleAfterMs);
    } catch (err) {
      counters.recoveryFailures++;
      logger.warn({ err, workerId }, 'stale chat recovery failed');
      return 0;
    }
    counters.recovered += changes.length;
    if (changes.length > 0) options.metrics?.inc('chatd_stale_recoveries_total', changes.length);
    for (const change of changes) {
      logger.info({ chatId: change.chat.id, workerId }, 'handed a stale chat back');
      await publisher.publishChange(change);
    }
    if (changes.some((c) => c.chat.status === 'pending')) worker.wake();
    return changes.length;
  }

  // One UPDATE per HEARTBEAT_BATCH_SIZE runs per tick (issue 36), not one per run: with a thousand runs the
  // per-run statements took the pool's connections for the whole tick, ahead of creates and stream opens.
  async function heartbeat(): Promise<void> {
    const all = [...runs.values()];
    const batches: ActiveChatRun[][] = [];
    for (let i = 0; i < all.length; i += HEARTBEAT_BATCH_SIZE) batches.push(all.slice(i, i + HEARTBEAT_BATCH_SIZE));
    await Promise.all(
      batches.map(async (batch) => {
        let alive: Set<string>;
        try {
          alive = await store.heartbeatRuns(batch.map((run) => ({ chatId: run.chatId, runId: run.runId })));
        } catch (err) {
          counters.heartbeatFailures++;
          logger.warn({ err, workerId, runs: batch.length }, 'heartbeat failed');
          return;
        }
        for (const run of batch) {
          if (alive.has(run.chatId)) continue;
          // A run that ended while the statement was in flight no longer owns its chat, rightly: leave it be.
          if (runs.get(run.chatId) !== run) continue;
          counters.heartbeatsLost++;
          logger.warn({ workerId, chatId: run.chatId, runId: run.runId }, 'heartbeat updated no row; stopping the run');
          run.cancel('taken');
        }
      }),
    );
  }

  const worker: ChatWorker = {
    workerId,
    enabled,

    start() {
      if (!enabled || started) return;
      started = true;
      track(recover());
      track(acquire());
      tickers.push(clock.setInterval(() => acquire().then(() => undefined), acquireIntervalMs, ACQUIRE_TIMER_TAG));
      tickers.push(clock.setInterval(heartbeat, heartbeatIntervalMs, HEARTBEAT_TIMER_TAG));
      tickers.push(clock.setInterval(() => recover().then(() => undefined), staleRecoveryIntervalMs, STALE_RECOVERY_TIMER_TAG));
    },

    stop() {
      stopPromise ??= (async () => {
        stopping = true;
        for (const t of tickers) t.stop();
        await acquiring?.catch(() => 0);
        // A run started by an acquisition that was in flight is cancelled at birth (see launch).
        for (const run of runs.values()) run.cancel('shutdown');
        sideTasks.abort(new Error('chat worker stopping'));
        while (runs.size > 0 || tasks.size > 0) {
          await Promise.allSettled([...[...runs.values()].map((r) => r.done), ...tasks]);
        }
      })();
      return stopPromise;
    },

    wake() {
      if (!started || stopping || wakeQueued) return;
      // Wakes until the pass begins are one: a run's end that leaves its chat pending wakes the worker itself and
      // through the publisher's `onPending` (start-chatd-server), and stale recovery once per chat handed back;
      // each used to be a pass of its own (the second found nothing). A wake during a pass still asks for another.
      wakeQueued = true;
      track(
        new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          wakeQueued = false;
          return acquire();
        }),
      );
    },

    acquireNow() {
      return stopping ? Promise.resolve(0) : acquire();
    },

    recoverNow() {
      return recover();
    },

    heartbeatNow() {
      return heartbeat();
    },

    activeRuns() {
      return [...runs.values()].map((r) => ({ chatId: r.chatId, runId: r.runId, cancelReason: r.cancelReason }));
    },

    waitForRunEnd(chatId) {
      return new Promise((resolve) => {
        const list = waiters.get(chatId) ?? [];
        list.push(resolve);
        waiters.set(chatId, list);
      });
    },

    metrics() {
      return { ...counters, runsEnded: { ...counters.runsEnded }, activeRuns: runs.size };
    },

    async idle() {
      while (runs.size > 0 || tasks.size > 0 || acquiring) {
        await Promise.allSettled([...[...runs.values()].map((r) => r.done), ...tasks, ...(acquiring ? [acquiring] : [])]);
      }
    },
  };
  return worker;
}
