// Test doubles for the relay session: a fake dialer whose dials the test settles by hand, fake relay
// connections, a status-notification channel, a scripted store and an event reader. No sockets, no sleeps:
// time moves only through the mock clock, and `flush()` merely lets pending promise callbacks run.
import { createMockClock, type Clock, type MockClock } from '@chatd/clock';
import type { ChatStreamEvent, Logger, StatusNotification, SubscribeFnParams, SubscribeFnStore } from '@chatd/oss';
import type { Chat, ChatStatus } from '@chatd/protocol';
import { createMultiReplicaSubscribeFn, type RelayConnection, type RelayDialParams } from '../src/index.js';

export const CHAT_ID = '11111111-1111-4111-8111-111111111111';
export const LOCAL = 'replica-local';
export const WORKER_A = 'worker-a';
export const WORKER_B = 'worker-b';

/** Lets every already-queued promise callback and I/O callback run (does not advance any clock). */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A relay `message_part` event. */
export function part(runId: string, seq: number, text = `${runId}#${seq}`): ChatStreamEvent {
  return { type: 'message_part', chat_id: CHAT_ID, message_part: { role: 'assistant', part: { type: 'text', text }, seq, run_id: runId } };
}

/** `run#seq` labels of the message_part events, for compact assertions. */
export function labels(events: ChatStreamEvent[]): string[] {
  return events.map((e) => (e.type === 'message_part' ? `${e.message_part.run_id}#${e.message_part.seq}` : e.type === 'error' ? `error:${e.error.message}` : e.type));
}

/** A relay connection the test feeds by hand. */
export type FakeConnection = {
  conn: RelayConnection;
  push(event: ChatStreamEvent): void;
  /** The peer drops the connection. */
  drop(): void;
  /** Times `cancel()` was called. */
  cancelled: number;
  /** Times the session called `next()` on the parts iterator. */
  reads: number;
  /** The session called `return()` on the parts iterator. */
  returned: boolean;
};

export function createFakeConnection(snapshot: ChatStreamEvent[] = []): FakeConnection {
  const buffer: ChatStreamEvent[] = [];
  let waiter: ((r: IteratorResult<ChatStreamEvent>) => void) | undefined;
  let done = false;
  const finish = () => {
    done = true;
    const w = waiter;
    waiter = undefined;
    w?.({ value: undefined, done: true });
  };
  const fake: FakeConnection = {
    cancelled: 0,
    reads: 0,
    returned: false,
    push(event) {
      if (done) return;
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w({ value: event, done: false });
      } else buffer.push(event);
    },
    drop: finish,
    conn: {
      snapshot,
      parts: {
        [Symbol.asyncIterator]: () => ({
          next() {
            fake.reads += 1;
            const value = buffer.shift();
            if (value) return Promise.resolve({ value, done: false });
            if (done) return Promise.resolve({ value: undefined, done: true });
            return new Promise((resolve) => {
              waiter = resolve;
            });
          },
          return() {
            fake.returned = true;
            finish();
            return Promise.resolve({ value: undefined, done: true });
          },
        }),
      },
      cancel() {
        fake.cancelled += 1;
        finish();
      },
    },
  };
  return fake;
}

/** One call of the fake dialer, settled by the test. */
export type DialCall = {
  params: RelayDialParams;
  resolve(conn: FakeConnection): void;
  reject(err: unknown): void;
};

/** A dialer that records each call; `auto` (when set) settles new calls at once. */
export function createFakeDialer() {
  const calls: DialCall[] = [];
  const waiters: { n: number; resolve: (c: DialCall) => void }[] = [];
  const state = {
    calls,
    auto: undefined as ((params: RelayDialParams) => Promise<RelayConnection>) | undefined,
    dialer(params: RelayDialParams): Promise<RelayConnection> {
      if (state.auto) {
        const p = state.auto(params);
        calls.push({ params, resolve: () => undefined, reject: () => undefined });
        notify();
        return p;
      }
      return new Promise<RelayConnection>((resolve, reject) => {
        calls.push({ params, resolve: (c) => resolve(c.conn), reject });
        notify();
      });
    },
    /** Resolves with the n-th call (1-based) once it has been made. */
    dial(n: number): Promise<DialCall> {
      const existing = calls[n - 1];
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
  const notify = () => {
    for (const w of [...waiters]) {
      const c = calls[w.n - 1];
      if (c) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(c);
      }
    }
  };
  return state;
}

const MAX_NOTIFICATION_READS = 50;

/** A status-notification channel the test pushes into; counts how often the session reads it. */
export function createNotifications() {
  const buffer: (StatusNotification | null)[] = [];
  let waiter: ((r: IteratorResult<StatusNotification>) => void) | undefined;
  const state = {
    reads: 0,
    push(status: ChatStatus, workerId: string | null) {
      state.deliver({ status, workerId });
    },
    deliver(n: StatusNotification | null) {
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w(n ? { value: n, done: false } : { value: undefined, done: true });
      } else buffer.push(n);
    },
    end() {
      state.deliver(null);
    },
    iterable: {
      [Symbol.asyncIterator]: (): AsyncIterator<StatusNotification> => ({
        next() {
          state.reads += 1;
          // A reader that spins on the ended source fails here instead of hanging the test run.
          if (state.reads > MAX_NOTIFICATION_READS) return Promise.reject(new Error('status notifications read in a loop'));
          if (buffer.length > 0) {
            const n = buffer.shift();
            return Promise.resolve(n ? { value: n, done: false } : { value: undefined, done: true });
          }
          return new Promise((resolve) => {
            waiter = resolve;
          });
        },
        return() {
          return Promise.resolve({ value: undefined, done: true });
        },
      }),
    } as AsyncIterable<StatusNotification>,
  };
  return state;
}

type RunState = { status: ChatStatus; workerId: string | null; runId: string | null };

/** A scripted store: `answer` is a state, an error to reject with, or a function returning the promise. */
export type ScriptedStore = {
  calls: number;
  signals: (AbortSignal | undefined)[];
  answer: RunState | Error | (() => Promise<RunState | undefined>);
  store: SubscribeFnStore;
};

/** A store whose `getChatRunState` answers from `answer`. */
export function createScriptedStore(initial: RunState = { status: 'running', workerId: WORKER_A, runId: null }): ScriptedStore {
  const state: ScriptedStore = {
    calls: 0,
    signals: [] as (AbortSignal | undefined)[],
    answer: initial,
    store: {
      getChatRunState(_chatId: string, signal?: AbortSignal) {
        state.calls += 1;
        state.signals.push(signal);
        const a = state.answer;
        if (typeof a === 'function') return a();
        if (a instanceof Error) return Promise.reject(a);
        return Promise.resolve(a);
      },
    },
  };
  return state;
}

/** Reads a relay iterable in the background. */
export function createReader(iterable: AsyncIterable<ChatStreamEvent>) {
  const events: ChatStreamEvent[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let ended = false;
  const ping = () => {
    for (const w of [...waiters]) {
      if (events.length >= w.n || ended) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const finished = (async () => {
    for await (const e of iterable) {
      events.push(e);
      ping();
    }
    ended = true;
    ping();
  })();
  return {
    events,
    finished,
    get ended() {
      return ended;
    },
    /** Resolves once at least `n` events have been read in total (or the iterable ended). */
    async until(n: number): Promise<ChatStreamEvent[]> {
      if (events.length < n && !ended) await new Promise<void>((resolve) => waiters.push({ n, resolve }));
      return events;
    },
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function makeChat(status: ChatStatus, workerId: string | null): Chat {
  return {
    id: CHAT_ID,
    organization_id: 'org',
    owner_id: 'owner',
    root_chat_id: CHAT_ID,
    title: 'relay test',
    status,
    last_error: null,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    archived: false,
    worker_id: workerId,
  };
}

export type SubscribeOptions = {
  status?: ChatStatus;
  workerId?: string | null;
  runId?: string;
  afterSeq?: number;
  clock?: MockClock;
  /** Settles every dial at once (set before the synchronous initial dial is made). */
  autoDial?: (params: RelayDialParams) => Promise<RelayConnection>;
};

/** Subscribes through `createMultiReplicaSubscribeFn` with fakes; `started` resolves with the reader. */
export function setup(options: SubscribeOptions = {}) {
  const clock = options.clock ?? createMockClock();
  const dialer = createFakeDialer();
  dialer.auto = options.autoDial;
  const notes = createNotifications();
  const store = createScriptedStore();
  const controller = new AbortController();
  const status = options.status ?? 'waiting';
  const workerId = options.workerId === undefined ? null : options.workerId;
  const subscribeFn = createMultiReplicaSubscribeFn({
    resolveReplicaAddress: () => Promise.resolve(undefined),
    replicaId: () => LOCAL,
    dialer: dialer.dialer,
    clock,
  });
  const params: SubscribeFnParams = {
    chatId: CHAT_ID,
    chat: makeChat(status, workerId),
    workerId,
    ...(options.runId !== undefined ? { runId: options.runId } : {}),
    ...(options.afterSeq !== undefined ? { afterSeq: options.afterSeq } : {}),
    statusNotifications: notes.iterable,
    requestHeader: new Headers({ 'Coder-Session-Token': 'token-1' }),
    store: store.store,
    logger: silentLogger,
    clock,
    signal: controller.signal,
  };
  const started = subscribeFn(params).then(createReader);
  return { clock, dialer, notes, store, controller, params, started };
}

/** Parameters of one subscription to CHAT_ID running on WORKER_A (run r1), with `token` as its session token. */
export function runningOnWorkerA(token: string, clock: Clock, signal: AbortSignal): SubscribeFnParams {
  return {
    chatId: CHAT_ID,
    chat: makeChat('running', WORKER_A),
    workerId: WORKER_A,
    statusNotifications: createNotifications().iterable,
    requestHeader: new Headers({ 'Coder-Session-Token': token }),
    store: createScriptedStore({ status: 'running', workerId: WORKER_A, runId: 'r1' }).store,
    logger: silentLogger,
    clock,
    signal,
  };
}
