// The relay state machine of one subscription (contract.md#relay, ENT-3): it follows status notifications to
// open, switch, drain and close a relay to the replica running the chat, reconnects with a capped backoff, and
// discards stale dials. Every handler runs synchronously on the event loop and re-checks that the dial or
// connection it holds is still the current one, so a late result is released, never delivered.
// It yields relay `message_part` events and give-up `error` events only; OSS owns everything else.
import type { Clock, Timer } from '@chatd/clock';
import type { ChatStreamEvent, StatusNotification, SubscribeFnParams } from '@chatd/oss';
import type { ChatStatus } from '@chatd/protocol';
import { createEventQueue, type EventQueue } from './event-queue.js';
import { RELAY_DRAIN_TIMEOUT_MS, RELAY_RETRY_MAX_ATTEMPTS, relayBackoffDelayMs } from './relay-backoff.js';
import { RelayDialError } from './relay-dial-error.js';
import type { RelayConnection, RelayCursor, RelayDialer } from './relay-dialer.js';
import { relayGiveUpEvent, type RelayGiveUpReason } from './relay-error-event.js';
import { traceRelayDial } from './relay-span.js';

/** Relay events buffered for the consumer before the relay stops reading from the peer. @default 128 */
export const RELAY_EVENT_BUFFER_SIZE = 128;
/** Clock tag of the reconnect timer. */
export const RELAY_RECONNECT_TIMER_TAG = 'relay-reconnect';
/** Clock tag of the drain timer. */
export const RELAY_DRAIN_TIMER_TAG = 'relay-drain';

/** What a relay session needs beyond the subscription's own parameters. */
export type RelaySessionOptions = {
  params: SubscribeFnParams;
  dialer: RelayDialer;
  /** This replica's id, read lazily. */
  localReplicaId: () => string;
  clock: Clock;
};

type DialAttempt = {
  workerId: string;
  controller: AbortController;
  /** The chat stopped running while this dial was in flight: let it finish, check the DB, then drain (ENT-3). */
  draining: boolean;
  /** Set while a draining dial's connection waits for its DB check. */
  conn: RelayConnection | undefined;
  /** Resolves once the attempt is settled or abandoned; the synchronous initial relay waits on it. */
  finished: Promise<void>;
  finish: () => void;
};

type ActiveRelay = {
  workerId: string;
  conn: RelayConnection;
  iterator: AsyncIterator<ChatStreamEvent> | undefined;
};

type SeenRun = {
  /** The replica whose relay delivered the run's parts. */
  workerId: string | null;
  /** The run was already known when a non-running status was seen, so a later `running` is a newer run. */
  atRest: boolean;
};

type FailureKind = 'connection' | 'reconnect';

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Starts the relay session of one subscription; resolves once any synchronous initial relay has settled. */
export async function startRelaySession(options: RelaySessionOptions): Promise<AsyncIterable<ChatStreamEvent>> {
  const { params, dialer, clock } = options;
  const { chatId, logger, store, signal } = params;
  const log = { chat_id: chatId };

  let closed = false;
  /** The worker the relay leg is meant to reach (the expected worker id); null when no relay is wanted. */
  let target: string | null = null;
  let dial: DialAttempt | null = null;
  /** Trace context of the run the chat's last `running` notification came from (relay-span.ts). */
  let runTraceparent: string | undefined;
  let active: ActiveRelay | null = null;
  let reconnectTimer: Timer | null = null;
  let drainTimer: Timer | null = null;
  let runCheck: AbortController | null = null;
  /** Consecutive failures of the current leg: dial failures, drops and DB errors share it. */
  let failures = 0;
  /** Workers that refused the subscriber's token (401/403): never dialled again in this subscription. */
  const refused = new Set<string>();
  /** The worker whose leg gave up after the budget; only a new run or another worker opens a new leg. */
  let gaveUpOn: string | null = null;

  // Part bookkeeping: the newest run seen, its last seq, and runs whose parts are dropped from now on.
  let currentRunId: string | undefined;
  let lastSeq = 0;
  const superseded = new Set<string>();
  const seenRuns = new Map<string, SeenRun>();
  let notificationIterator: AsyncIterator<StatusNotification> | undefined;

  let lastStatus: ChatStatus = params.chat.status;
  let lastWorker: string | null = params.workerId ?? params.chat.worker_id;

  if (params.runId !== undefined) {
    currentRunId = params.runId;
    lastSeq = params.afterSeq ?? 0;
    seenRuns.set(params.runId, { workerId: lastWorker, atRest: lastStatus !== 'running' });
  }

  const output: EventQueue<ChatStreamEvent> = createEventQueue<ChatStreamEvent>({
    highWaterMark: RELAY_EVENT_BUFFER_SIZE,
    onReturn: () => shutdown('consumer stopped reading'),
  });

  const isRemote = (workerId: string | null | undefined): workerId is string =>
    typeof workerId === 'string' && workerId !== '' && workerId !== options.localReplicaId();

  // ---- parts ---------------------------------------------------------------------------------------------

  const supersede = (runId: string) => {
    superseded.add(runId);
    seenRuns.delete(runId);
    if (currentRunId === runId) {
      currentRunId = undefined;
      lastSeq = 0;
    }
  };

  /** Forwards one relay event if it is a fresh part of a run that has not been superseded. */
  const deliver = (event: ChatStreamEvent, fromWorker: string) => {
    if (event.type !== 'message_part' || event.chat_id !== chatId) return;
    const { run_id: runId, seq } = event.message_part;
    if (superseded.has(runId)) return;
    if (currentRunId !== runId) {
      // A part of a newer run: every older run is over, and its late parts are dropped from now on.
      if (currentRunId !== undefined) supersede(currentRunId);
      currentRunId = runId;
      lastSeq = 0;
      seenRuns.set(runId, { workerId: fromWorker, atRest: false });
    } else if (seq <= lastSeq) {
      return; // already delivered (a reconnect's snapshot overlapping what the subscriber has)
    }
    lastSeq = seq;
    // A relay that delivers is healthy: the leg's budget starts again.
    failures = 0;
    output.push(event);
  };

  /** The cursor for a dial to `workerId`: only a run that worker delivered (another worker's run means nothing to it). */
  const cursorFor = (workerId: string): RelayCursor | undefined => {
    if (currentRunId === undefined || seenRuns.get(currentRunId)?.workerId !== workerId) return undefined;
    return { runId: currentRunId, afterSeq: lastSeq };
  };

  // ---- tear-down -----------------------------------------------------------------------------------------

  const release = (conn: RelayConnection, iterator?: AsyncIterator<ChatStreamEvent>) => {
    try {
      conn.cancel();
    } catch (err) {
      logger.warn({ ...log, err: errorText(err) }, 'relay connection cancel failed');
    }
    if (iterator?.return) {
      // Fire and forget: a generator parked in next() only returns once it resumes.
      iterator.return().catch(() => undefined);
    }
  };

  const cancelTimers = () => {
    reconnectTimer?.cancel();
    reconnectTimer = null;
    drainTimer?.cancel();
    drainTimer = null;
    runCheck?.abort();
    runCheck = null;
  };

  /** Cancels the in-flight dial (its late result is released when it lands), closes the active relay, disarms timers. */
  const closeRelay = () => {
    cancelTimers();
    if (dial) {
      const attempt = dial;
      dial = null;
      attempt.controller.abort();
      if (attempt.conn) release(attempt.conn);
      attempt.conn = undefined;
      attempt.finish();
    }
    if (active) {
      const relay = active;
      active = null;
      release(relay.conn, relay.iterator);
    }
  };

  const shutdown = (why: string) => {
    if (closed) return;
    closed = true;
    target = null;
    closeRelay();
    output.end();
    notificationIterator?.return?.().catch(() => undefined);
    logger.debug({ ...log, why }, 'relay session ended');
  };

  const giveUp = (reason: RelayGiveUpReason) => {
    const event = relayGiveUpEvent(chatId, reason);
    logger.warn({ ...log, worker_id: target, err: reason.cause === undefined ? undefined : errorText(reason.cause) }, event.type === 'error' ? event.error.message : 'relay gave up');
    gaveUpOn = target;
    target = null;
    failures = 0;
    closeRelay();
    output.push(event);
  };

  // ---- dialling ------------------------------------------------------------------------------------------

  const startActive = (workerId: string, conn: RelayConnection) => {
    const relay: ActiveRelay = { workerId, conn, iterator: undefined };
    active = relay;
    for (const event of conn.snapshot) deliver(event, workerId);
    void pump(relay);
  };

  /** Reads the live parts of `relay` until it drops or stops being the active relay. */
  const pump = async (relay: ActiveRelay) => {
    let cause: unknown;
    try {
      const iterator = relay.conn.parts[Symbol.asyncIterator]();
      relay.iterator = iterator;
      for (;;) {
        // Wait only when the output is full: an await per part, even of a settled promise, is a promise hop per part.
        if (output.size >= RELAY_EVENT_BUFFER_SIZE) await output.room();
        if (active !== relay) return;
        const result = await iterator.next();
        // Closed while we waited: whatever arrived belongs to a released connection.
        if (active !== relay) return;
        if (result.done) break;
        deliver(result.value, relay.workerId);
      }
    } catch (err) {
      if (active !== relay) return;
      cause = err;
    }
    onDrop(relay, cause);
  };

  const onDrop = (relay: ActiveRelay, cause: unknown) => {
    active = null;
    release(relay.conn, relay.iterator);
    if (drainTimer) {
      // The chat had stopped running; the peer closing ends the drain early.
      drainTimer.cancel();
      drainTimer = null;
      return;
    }
    if (closed || target !== relay.workerId) return;
    if (cause instanceof RelayDialError && cause.isUnrecoverable()) {
      // The peer closed the leg because the session token was revoked: re-dialling it is futile.
      refused.add(relay.workerId);
      giveUp({ kind: 'auth', httpStatus: cause.httpStatus, cause });
      return;
    }
    logger.info({ ...log, worker_id: relay.workerId, err: cause === undefined ? undefined : errorText(cause) }, 'relay dropped');
    onFailure('connection', cause ?? new Error('relay closed by peer'));
  };

  const openDial = (workerId: string): DialAttempt => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const attempt: DialAttempt = { workerId, controller: new AbortController(), draining: false, conn: undefined, finished, finish };
    dial = attempt;
    let pending: Promise<RelayConnection>;
    try {
      pending = traceRelayDial(chatId, workerId, runTraceparent, () => dialer({ chatId, workerId, requestHeader: params.requestHeader, cursor: cursorFor(workerId), signal: attempt.controller.signal }));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending
      .then(
        (conn) => onDialed(attempt, conn),
        (err: unknown) => onDialFailed(attempt, err),
      )
      .catch((err: unknown) => logger.error({ ...log, err: errorText(err) }, 'relay dial handling failed'))
      .finally(attempt.finish);
    return attempt;
  };

  const onDialed = (attempt: DialAttempt, conn: RelayConnection) => {
    if (closed || dial !== attempt || attempt.controller.signal.aborted) {
      logger.debug({ ...log, worker_id: attempt.workerId }, 'stale relay dial discarded');
      release(conn);
      return;
    }
    if (attempt.draining) {
      // ENT-3 drain-and-close: the chat stopped running while we dialled. Keep the connection only if no
      // other worker has taken the chat meanwhile, and then only for the drain timer.
      attempt.conn = conn;
      store.getChatRunState(chatId, attempt.controller.signal).then(
        (state) => onDrainCheck(attempt, state?.status === 'running' ? state.workerId : null),
        (err: unknown) => {
          if (dial !== attempt) return;
          logger.warn({ ...log, err: errorText(err) }, 'relay drain check failed; discarding the dial');
          dial = null;
          attempt.conn = undefined;
          release(conn);
        },
      );
      return;
    }
    dial = null;
    if (attempt.workerId !== target) {
      logger.debug({ ...log, worker_id: attempt.workerId, expected: target }, 'relay dial for an unexpected worker discarded');
      release(conn);
      return;
    }
    startActive(attempt.workerId, conn);
  };

  const onDrainCheck = (attempt: DialAttempt, runningOn: string | null) => {
    if (dial !== attempt || !attempt.conn) return;
    const conn = attempt.conn;
    dial = null;
    attempt.conn = undefined;
    if (attempt.draining && runningOn !== null && runningOn !== attempt.workerId) {
      logger.debug({ ...log, worker_id: attempt.workerId, running_on: runningOn }, 'draining relay dial discarded: another worker took the chat');
      release(conn);
      return;
    }
    startActive(attempt.workerId, conn);
    if (attempt.draining && active?.conn === conn) armDrain();
  };

  const onDialFailed = (attempt: DialAttempt, err: unknown) => {
    if (closed || dial !== attempt) return;
    dial = null;
    if (attempt.draining || attempt.workerId !== target) return;
    if (err instanceof RelayDialError && err.isUnrecoverable()) {
      refused.add(attempt.workerId);
      giveUp({ kind: 'auth', httpStatus: err.httpStatus, cause: err });
      return;
    }
    logger.info({ ...log, worker_id: attempt.workerId, err: errorText(err) }, 'relay dial failed');
    onFailure('connection', err);
  };

  // ---- reconnecting --------------------------------------------------------------------------------------

  const onFailure = (kind: FailureKind, cause: unknown) => {
    failures += 1;
    if (failures > RELAY_RETRY_MAX_ATTEMPTS) {
      giveUp({ kind, cause });
      return;
    }
    const delayMs = relayBackoffDelayMs(failures);
    reconnectTimer?.cancel();
    reconnectTimer = clock.setTimeout(onReconnectTimer, delayMs, RELAY_RECONNECT_TIMER_TAG);
  };

  const onReconnectTimer = () => {
    reconnectTimer = null;
    if (closed || target === null) return;
    // Re-read the chat: re-dial only if it still runs on a remote worker. A DB error costs one attempt.
    const check = new AbortController();
    runCheck = check;
    store.getChatRunState(chatId, check.signal).then(
      (state) => {
        if (runCheck !== check) return;
        runCheck = null;
        if (closed || target === null) return;
        if (!state || state.status !== 'running' || !isRemote(state.workerId)) {
          logger.debug({ ...log, status: state?.status }, 'relay not reconnected: the chat no longer runs remotely');
          target = null;
          return;
        }
        if (state.runId && currentRunId !== undefined && state.runId !== currentRunId) supersede(currentRunId);
        if (state.workerId !== target) {
          target = state.workerId;
          failures = 0;
        }
        if (refused.has(target)) {
          target = null;
          return;
        }
        openDial(target);
      },
      (err: unknown) => {
        if (runCheck !== check) return;
        runCheck = null;
        if (closed || target === null) return;
        logger.warn({ ...log, err: errorText(err) }, 'relay reconnect check failed');
        onFailure('reconnect', err);
      },
    );
  };

  // ---- status notifications ------------------------------------------------------------------------------

  const armDrain = () => {
    if (drainTimer) return;
    drainTimer = clock.setTimeout(
      () => {
        drainTimer = null;
        if (target === null) closeRelay();
      },
      RELAY_DRAIN_TIMEOUT_MS,
      RELAY_DRAIN_TIMER_TAG,
    );
  };

  /** The chat stopped running: drain the active relay, let an in-flight dial finish, stop reconnecting. */
  const softClose = () => {
    target = null;
    reconnectTimer?.cancel();
    reconnectTimer = null;
    runCheck?.abort();
    runCheck = null;
    if (dial) dial.draining = true;
    if (active) armDrain();
  };

  const wantRelay = (workerId: string, newRun: boolean) => {
    if (refused.has(workerId)) return;
    if (target === workerId) return; // the leg is already dialling, relaying or waiting to reconnect
    if (gaveUpOn === workerId && !newRun) return;
    if (target === null && active?.workerId === workerId && drainTimer) {
      // A new run on the worker we are draining: keep its connection.
      drainTimer.cancel();
      drainTimer = null;
      target = workerId;
      failures = 0;
      gaveUpOn = null;
      return;
    }
    if (target === null && dial?.workerId === workerId && dial.draining) {
      dial.draining = false;
      target = workerId;
      failures = 0;
      gaveUpOn = null;
      return;
    }
    closeRelay();
    target = workerId;
    failures = 0;
    gaveUpOn = null;
    openDial(workerId);
  };

  const onStatus = (n: StatusNotification) => {
    if (n.historyReset) {
      // An edit rewrote the history (contract.md#history-reset): every run seen so far belongs to the old one,
      // the one the edit fenced included; their late parts (a draining relay, a shared relay's window) are dropped.
      for (const runId of [...seenRuns.keys()]) supersede(runId);
      if (currentRunId !== undefined) supersede(currentRunId);
    }
    const previousStatus = lastStatus;
    const previousWorker = lastWorker;
    lastStatus = n.status;
    lastWorker = n.workerId;
    if (n.status !== 'running' || n.traceparent) runTraceparent = n.traceparent;
    if (n.status !== 'running') {
      for (const run of seenRuns.values()) run.atRest = true;
      softClose();
      return;
    }
    const newRun = previousStatus !== 'running' || previousWorker !== n.workerId;
    if (newRun) {
      // A new run began: parts of runs that ended before it, or that came from another worker, are stale.
      for (const [runId, run] of [...seenRuns]) if (run.atRest || run.workerId !== n.workerId) supersede(runId);
    }
    if (isRemote(n.workerId)) {
      wantRelay(n.workerId, newRun);
    } else {
      // This replica (or nobody) runs the chat: its parts are local, the relay has nothing left to add.
      target = null;
      closeRelay();
    }
  };

  const followNotifications = async () => {
    try {
      const iterator = params.statusNotifications[Symbol.asyncIterator]();
      notificationIterator = iterator;
      for (;;) {
        const result = await iterator.next();
        if (closed) return;
        if (result.done) {
          // Read no further (the original spun here); the relay keeps going until the subscription ends.
          logger.debug(log, 'status notifications ended');
          return;
        }
        try {
          onStatus(result.value);
        } catch (err) {
          logger.error({ ...log, err: errorText(err) }, 'relay status handling failed');
        }
      }
    } catch (err) {
      if (!closed) logger.warn({ ...log, err: errorText(err) }, 'status notifications failed');
    }
  };

  // ---- start ---------------------------------------------------------------------------------------------

  if (signal.aborted) {
    output.end();
    return output;
  }
  signal.addEventListener('abort', () => shutdown('subscription cancelled'), { once: true });

  let initial: DialAttempt | undefined;
  const initialWorker = params.workerId ?? params.chat.worker_id;
  if (params.chat.status === 'running' && isRemote(initialWorker) && !refused.has(initialWorker)) {
    target = initialWorker;
    initial = openDial(initialWorker);
  }
  void followNotifications();
  // The synchronous initial relay: its snapshot parts are queued before the caller sees the iterable.
  if (initial) await initial.finished;
  return output;
}
