// A `RelayDialer` decorator that shares one upstream relay connection between every subscriber on this replica
// watching the same remote chat with the same session token (key: chat id, worker id, token). A hub per key
// dials the inner dialer once with no cursor (the peer sends every buffered part of the run in flight), keeps a
// window of the newest run's parts and fans each event out to per-subscriber views. A view's snapshot and live
// stream mirror what the peer would have sent for the view's own cursor; a view the hub cannot serve exactly
// (the window no longer reaches back to its cursor) gets a private connection from the inner dialer instead.
// Dials without a session token are not shared: they go straight to the inner dialer.
import { extractSessionToken, fetchHeaderGetter, type ChatStreamEvent } from '@chatd/protocol';
import { createEventQueue, type EventQueue } from './event-queue.js';
import { RelayDialError } from './relay-dial-error.js';
import type { RelayConnection, RelayCursor, RelayDialParams, RelayDialer } from './relay-dialer.js';

/** Parts of the current run a shared relay keeps for late joiners, and unread events a view may hold. @default 10000 */
export const DEFAULT_SHARED_RELAY_MAX_BUFFERED_PARTS = 10_000;

/** Options for `createSharedRelayDialer`. */
export type SharedRelayDialerOptions = {
  /**
   * Newest parts of the current run the shared connection keeps for late joiners (older ones are dropped; a
   * joiner that needs them gets a private connection), and the unread events after which a slow view is ended.
   * @default DEFAULT_SHARED_RELAY_MAX_BUFFERED_PARTS
   */
  maxBufferedParts?: number;
};

type View = {
  cursor: RelayCursor | undefined;
  queue: EventQueue<ChatStreamEvent>;
  /** Set when the view ends by failure (the upstream threw, or the view fell behind): its iterator throws it. */
  failure: { error: unknown } | undefined;
  detached: boolean;
};

type Waiter = {
  params: RelayDialParams;
  resolve: (conn: RelayConnection) => void;
  reject: (err: unknown) => void;
  onAbort: () => void;
};

type Hub = {
  key: string;
  state: 'dialling' | 'open' | 'closed';
  controller: AbortController;
  waiters: Set<Waiter>;
  views: Set<View>;
  conn: RelayConnection | undefined;
  iterator: AsyncIterator<ChatStreamEvent> | undefined;
  /** The run whose parts the window holds (the newest run seen). */
  runId: string | undefined;
  /** The window: `parts[head..]` are the newest parts of `runId`, in arrival order. */
  parts: (ChatStreamEvent | undefined)[];
  head: number;
  /** Highest seq of `runId` dropped from the window; undefined while the hub holds every part of the run. */
  droppedThrough: number | undefined;
};

const cancelled = () => new RelayDialError(0, 'relay dial cancelled');

/** False for a part the peer would not send to `cursor`: a part of the cursor's run at or before its seq. */
function wanted(cursor: RelayCursor | undefined, event: ChatStreamEvent): boolean {
  if (cursor === undefined || event.type !== 'message_part') return true;
  return event.message_part.run_id !== cursor.runId || event.message_part.seq > cursor.afterSeq;
}

/**
 * Wraps `inner` so that dials for the same chat, worker and session token share one upstream connection.
 * Each dial gets its own snapshot (the shared parts after its cursor), its own live queue and its own
 * `cancel()`; the upstream closes when the last view detaches, and an upstream drop or failure ends every view.
 */
export function createSharedRelayDialer(inner: RelayDialer, options: SharedRelayDialerOptions = {}): RelayDialer {
  const maxBufferedParts = options.maxBufferedParts ?? DEFAULT_SHARED_RELAY_MAX_BUFFERED_PARTS;
  if (!Number.isInteger(maxBufferedParts) || maxBufferedParts < 1) {
    throw new RangeError(`maxBufferedParts must be a positive integer, got ${String(maxBufferedParts)}`);
  }
  const hubs = new Map<string, Hub>();

  const callInner = (params: RelayDialParams): Promise<RelayConnection> => {
    try {
      return inner(params);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  const forget = (hub: Hub) => {
    if (hubs.get(hub.key) === hub) hubs.delete(hub.key);
  };

  /** True when the hub holds every part a view at `cursor` needs (what the peer would send it). */
  const canServe = (hub: Hub, cursor: RelayCursor | undefined): boolean =>
    hub.droppedThrough === undefined || (cursor !== undefined && cursor.runId === hub.runId && cursor.afterSeq >= hub.droppedThrough);

  /** Adds a part to the window; a part of another run starts a new window. */
  const record = (hub: Hub, event: ChatStreamEvent) => {
    if (event.type !== 'message_part') return;
    if (event.message_part.run_id !== hub.runId) {
      hub.runId = event.message_part.run_id;
      hub.parts = [];
      hub.head = 0;
      hub.droppedThrough = undefined;
    }
    hub.parts.push(event);
    if (hub.parts.length - hub.head <= maxBufferedParts) return;
    const dropped = hub.parts[hub.head];
    hub.parts[hub.head] = undefined;
    hub.head += 1;
    if (dropped?.type === 'message_part') hub.droppedThrough = Math.max(hub.droppedThrough ?? -Infinity, dropped.message_part.seq);
    if (hub.head >= maxBufferedParts) {
      hub.parts = hub.parts.slice(hub.head);
      hub.head = 0;
    }
  };

  /** Releases the upstream; idempotent. */
  const closeUpstream = (hub: Hub) => {
    hub.state = 'closed';
    forget(hub);
    hub.parts = [];
    hub.head = 0;
    const { conn, iterator } = hub;
    hub.conn = undefined;
    hub.iterator = undefined;
    try {
      conn?.cancel();
    } catch {
      // The connection is gone either way; a failing release has nobody to tell.
    }
    // Fire and forget: a generator parked in next() only returns once it resumes.
    iterator?.return?.().catch(() => undefined);
  };

  const detach = (hub: Hub, view: View) => {
    if (view.detached) return;
    view.detached = true;
    view.queue.end();
    hub.views.delete(view);
    if (hub.views.size === 0 && hub.state === 'open') closeUpstream(hub);
  };

  /** Creates a view on an open hub: its snapshot now, then every later event, in order. Synchronous. */
  const attach = (hub: Hub, cursor: RelayCursor | undefined): RelayConnection => {
    const view: View = {
      cursor,
      queue: createEventQueue<ChatStreamEvent>({ highWaterMark: maxBufferedParts, onReturn: () => detach(hub, view) }),
      failure: undefined,
      detached: false,
    };
    hub.views.add(view);
    const snapshot: ChatStreamEvent[] = [];
    for (let i = hub.head; i < hub.parts.length; i++) {
      const event = hub.parts[i];
      if (event && wanted(cursor, event)) snapshot.push(event);
    }
    const source = view.queue[Symbol.asyncIterator]();
    // The view's end carries the hub's failure, if any. A part passes straight through: no async function around
    // each `next()` (its own promise and an await per part).
    const ended = (result: IteratorResult<ChatStreamEvent>): IteratorResult<ChatStreamEvent> => {
      if (result.done && view.failure) {
        const { error } = view.failure;
        view.failure = undefined;
        throw error;
      }
      return result;
    };
    const iterator: AsyncIterator<ChatStreamEvent> = {
      next() {
        // A buffered value is never the end (ending a queue drops its buffer): pass it through.
        if (view.queue.size > 0) return source.next();
        return source.next().then(ended);
      },
      return: () => source.return?.() ?? Promise.resolve({ value: undefined, done: true }),
    };
    return {
      snapshot,
      parts: { [Symbol.asyncIterator]: () => iterator },
      cancel: () => detach(hub, view),
    };
  };

  /** Hands one live event to every view that wants it; a view too far behind is ended. */
  const fanOut = (hub: Hub, event: ChatStreamEvent) => {
    record(hub, event);
    // Deleting the view being visited is safe while iterating a Set; no copy per event.
    for (const view of hub.views) {
      if (!wanted(view.cursor, event)) continue;
      view.queue.push(event);
      if (view.queue.size > maxBufferedParts) {
        view.failure = { error: new Error(`relay subscriber fell behind by more than ${maxBufferedParts} events`) };
        view.detached = true;
        hub.views.delete(view);
        view.queue.end();
        if (hub.views.size === 0) closeUpstream(hub);
      }
    }
  };

  /** The upstream dropped (`failure` unset) or failed: every view ends the same way after its buffered events. */
  const upstreamEnded = (hub: Hub, failure: { error: unknown } | undefined) => {
    const views = [...hub.views];
    hub.views.clear();
    closeUpstream(hub);
    for (const view of views) {
      view.detached = true;
      view.failure = failure;
      view.queue.close();
    }
  };

  const pump = async (hub: Hub, conn: RelayConnection) => {
    let failure: { error: unknown } | undefined;
    try {
      const iterator = conn.parts[Symbol.asyncIterator]();
      hub.iterator = iterator;
      for (;;) {
        const result = await iterator.next();
        if (hub.state !== 'open') return;
        if (result.done) break;
        fanOut(hub, result.value);
      }
    } catch (err) {
      if (hub.state !== 'open') return;
      failure = { error: err };
    }
    upstreamEnded(hub, failure);
  };

  /** A dial the hub cannot serve exactly: its own connection, with its own cursor and signal. */
  const privateDial = (params: RelayDialParams) => callInner(params);

  const onDialed = (hub: Hub, conn: RelayConnection) => {
    if (hub.state !== 'dialling') {
      try {
        conn.cancel(); // every view gave up while the dial was in flight
      } catch {
        // released either way
      }
      return;
    }
    hub.state = 'open';
    hub.conn = conn;
    for (const event of conn.snapshot) record(hub, event);
    const waiters = [...hub.waiters];
    hub.waiters.clear();
    for (const waiter of waiters) {
      waiter.params.signal.removeEventListener('abort', waiter.onAbort);
      if (canServe(hub, waiter.params.cursor)) waiter.resolve(attach(hub, waiter.params.cursor));
      else privateDial(waiter.params).then(waiter.resolve, waiter.reject);
    }
    if (hub.views.size === 0) closeUpstream(hub);
    else void pump(hub, conn);
  };

  const onDialFailed = (hub: Hub, err: unknown) => {
    if (hub.state !== 'dialling') return;
    hub.state = 'closed';
    forget(hub);
    const waiters = [...hub.waiters];
    hub.waiters.clear();
    for (const waiter of waiters) {
      waiter.params.signal.removeEventListener('abort', waiter.onAbort);
      waiter.reject(err);
    }
  };

  const wait = (hub: Hub, params: RelayDialParams): Promise<RelayConnection> =>
    new Promise<RelayConnection>((resolve, reject) => {
      const waiter: Waiter = {
        params,
        resolve,
        reject,
        onAbort: () => {
          if (!hub.waiters.delete(waiter)) return;
          reject(cancelled());
          if (hub.waiters.size === 0 && hub.state === 'dialling') {
            hub.state = 'closed';
            forget(hub);
            hub.controller.abort();
          }
        },
      };
      hub.waiters.add(waiter);
      params.signal.addEventListener('abort', waiter.onAbort, { once: true });
    });

  return (params) => {
    const token = extractSessionToken(fetchHeaderGetter(params.requestHeader));
    // No token: the peer refuses the dial anyway; let each subscriber get its own answer.
    if (token === undefined) return callInner(params);
    if (params.signal.aborted) return Promise.reject(cancelled());
    const key = JSON.stringify([params.chatId, params.workerId, token]);
    const existing = hubs.get(key);
    if (existing?.state === 'open') {
      return canServe(existing, params.cursor) ? Promise.resolve(attach(existing, params.cursor)) : privateDial(params);
    }
    if (existing) return wait(existing, params);

    const hub: Hub = {
      key,
      state: 'dialling',
      controller: new AbortController(),
      waiters: new Set(),
      views: new Set(),
      conn: undefined,
      iterator: undefined,
      runId: undefined,
      parts: [],
      head: 0,
      droppedThrough: undefined,
    };
    hubs.set(key, hub);
    const pending = wait(hub, params);
    callInner({ chatId: params.chatId, workerId: params.workerId, requestHeader: params.requestHeader, cursor: undefined, signal: hub.controller.signal }).then(
      (conn) => onDialed(hub, conn),
      (err: unknown) => onDialFailed(hub, err),
    );
    return pending;
  };
}
