// PubSub on PostgreSQL LISTEN/NOTIFY. One dedicated connection LISTENs for every channel (LISTEN on
// the first listener of a channel, UNLISTEN after the last); publishes go through a pool with
// `select pg_notify($1, $2)`. When the LISTEN connection is lost it reconnects with backoff on the
// injected clock, re-LISTENs every channel, and only then tells each affected listener
// MESSAGES_DROPPED: at that point the subscription is live again, so a catch-up read from the
// database that follows cannot miss anything.
import { createRealClock, type Clock, type Ticker, type Timer } from '@chatd/clock';
import pg from 'pg';
import { assertValidChannel } from './channels.js';
import { MetricsCounters } from './metrics.js';
import { prepareNotification } from './payload.js';
import { PubSubError } from './pubsub-error.js';
import type { PubSub, PubSubListener, PubSubMetrics, SubscribeOptions, Unsubscribe } from './pubsub.js';
import { DEFAULT_SUBSCRIBER_QUEUE_SIZE, Subscriber } from './subscriber.js';
import { BatchPublisher } from './batch-publisher.js';

/** Clock tag of the timer that waits before each reconnect attempt (for `MockClock.waitForTimer`). */
export const PG_PUBSUB_RECONNECT_TAG = 'pubsub:reconnect';
/** Clock tag of the LISTEN connection's health-check ticker. */
export const PG_PUBSUB_HEALTH_CHECK_TAG = 'pubsub:health-check';
/** Clock tag of the health check's reply deadline. */
export const PG_PUBSUB_HEALTH_TIMEOUT_TAG = 'pubsub:health-timeout';

/** Reconnect backoff: attempt n waits min(initialDelayMs * factor^(n-1), maxDelayMs). */
export type ReconnectBackoff = {
  /** @default 100 */
  initialDelayMs?: number;
  /** @default 10000 */
  maxDelayMs?: number;
  /** @default 2 */
  factor?: number;
};

/** Something that happened to the LISTEN connection, for logs. */
export type PgPubSubEvent =
  | { type: 'disconnected'; error: unknown }
  | { type: 'reconnect_failed'; attempt: number; error: unknown; nextDelayMs: number }
  | { type: 'reconnected'; attempt: number; channels: number };

/** Options for `createPgPubSub`. */
export type PgPubSubOptions = {
  /** PostgreSQL URL. */
  connectionString: string;
  /** Timers for reconnect backoff and health checks. @default createRealClock({ unref: true }) */
  clock?: Clock;
  /** Messages a listener may have waiting before new ones are dropped (it then gets MESSAGES_DROPPED). @default 1024 */
  queueSize?: number;
  /** Publish through this pool instead of an own one (it is not ended by close). */
  pool?: pg.Pool;
  /**
   * Publish connections: batches in flight at once. The own pool has one more connection for other reads, and each
   * publish lane keeps its connection between batches. With `pool`, at most this many of its connections are used at once.
   * @default 4
   */
  poolSize?: number;
  /** Most notifications sent in one batch (one query, one commit). 1 turns batching off. @default 256 */
  maxPublishBatch?: number;
  /** Backoff between reconnect attempts of the LISTEN connection. */
  reconnectBackoff?: ReconnectBackoff;
  /** Timeout of each connection attempt (pg's connectionTimeoutMillis). @default 10000 */
  connectTimeoutMs?: number;
  /** How often the LISTEN connection is checked with `select 1` (0 disables). @default 10000 */
  healthCheckIntervalMs?: number;
  /** A health check with no reply within this time counts as a lost connection. @default 5000 */
  healthCheckTimeoutMs?: number;
  /** `application_name` of the publish pool; the LISTEN connection gets this plus `:listen`. @default 'chatd-pubsub' */
  applicationName?: string;
  /** Extra pg client settings (e.g. `ssl`), applied to the LISTEN connection and the own pool. */
  clientConfig?: Omit<pg.ClientConfig, 'connectionString'>;
  /** Called on connection events (never throws into the pubsub). */
  onEvent?: (event: PgPubSubEvent) => void;
};

/** The PostgreSQL PubSub. */
export interface PgPubSub extends PubSub {
  metrics(): PubSubMetrics;
  notificationQueueUsage(): Promise<number>;
  /** Whether the LISTEN connection is currently up (for a readiness probe). */
  readonly connected: boolean;
}

/** A pg client, pool or pool client: anything with `query(text, values)`. */
export type Queryable = { query(text: string, values?: unknown[]): Promise<unknown> };

const NOTIFY_SQL = 'select pg_notify($1, $2)';

/**
 * Sends a notification on `client` (typically a pool client inside the caller's transaction), so that
 * it is delivered only if and when that transaction commits, together with the rows it describes.
 * Applies the same checks as `publish` (PubSubError INVALID_CHANNEL, PAYLOAD_TOO_LARGE, MALFORMED_PAYLOAD)
 * before sending anything; database errors are passed through unchanged. Note PostgreSQL delivers
 * identical channel+payload pairs notified in one transaction only once.
 */
export async function notifyInTransaction(client: Queryable, channel: string, payload: Buffer | string): Promise<void> {
  const n = prepareNotification(channel, payload);
  await client.query(NOTIFY_SQL, [n.channel, n.text]);
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const noop = () => {};

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code.startsWith('57P');
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new PubSubError('CLOSED', 'subscribe was aborted');
}

/**
 * Runs commands on one connection strictly one round trip at a time (pg 9 drops its own queue), and
 * batches the commands that wait behind a running one into a single multi-statement query: a burst of
 * subscribes costs one round trip. Order is kept, so LISTEN/UNLISTEN of a channel apply as issued.
 */
class CommandQueue {
  private waiting: { sql: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private busy = false;

  constructor(private readonly client: pg.Client) {}

  run(sql: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ sql, resolve, reject });
      if (!this.busy) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.busy = true;
    while (this.waiting.length) {
      const batch = this.waiting.splice(0, 1000);
      try {
        await this.client.query(batch.map((b) => b.sql).join('; '));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.busy = false;
  }
}

type ChannelState = {
  subs: Set<Subscriber>;
  /** The LISTEN on `listenConn`, once issued. */
  listen: Promise<void> | undefined;
  listenConn: pg.Client | undefined;
};

/**
 * Connects the LISTEN connection and the publish pool. Rejects with PubSubError CONNECTION_FAILED when
 * the first connection fails; later losses are repaired automatically.
 */
export async function createPgPubSub(options: PgPubSubOptions): Promise<PgPubSub> {
  const clock = options.clock ?? createRealClock({ unref: true });
  const queueSize = options.queueSize ?? DEFAULT_SUBSCRIBER_QUEUE_SIZE;
  if (!(Number.isInteger(queueSize) && queueSize > 0)) throw new RangeError(`queueSize must be a positive integer, got ${queueSize}`);
  const backoff = {
    initialDelayMs: options.reconnectBackoff?.initialDelayMs ?? 100,
    maxDelayMs: options.reconnectBackoff?.maxDelayMs ?? 10_000,
    factor: options.reconnectBackoff?.factor ?? 2,
  };
  const healthEveryMs = options.healthCheckIntervalMs ?? 10_000;
  const healthTimeoutMs = options.healthCheckTimeoutMs ?? 5_000;
  const clientConfig: pg.ClientConfig = {
    ...options.clientConfig,
    connectionString: options.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'chatd-pubsub',
    keepAlive: true,
  };

  const ownPool = options.pool === undefined;
  const lanes = Math.max(1, options.poolSize ?? 4);
  // Own pool: one connection per publish lane (held between batches) plus one for other reads.
  const pool = options.pool ?? new pg.Pool({ ...clientConfig, max: lanes + 1, idleTimeoutMillis: 30_000, allowExitOnIdle: true });
  if (ownPool) pool.on('error', noop);
  const publisher = new BatchPublisher(pool, {
    lanes: ownPool ? lanes : Math.max(1, options.poolSize ?? options.pool?.options.max ?? 4),
    maxBatch: options.maxPublishBatch ?? 256,
    // A caller's pool is shared: check out per batch rather than sit on its connections.
    holdConnections: ownPool,
  });

  const counters = new MetricsCounters();
  const channels = new Map<string, ChannelState>();
  const dead = new WeakSet<pg.Client>();
  const openClients = new Set<pg.Client>();
  const queues = new WeakMap<pg.Client, CommandQueue>();
  const exec = (client: pg.Client, sql: string): Promise<void> => {
    let q = queues.get(client);
    if (!q) queues.set(client, (q = new CommandQueue(client)));
    return q.run(sql);
  };
  /** Live listeners since the connection was lost: told MESSAGES_DROPPED once it is back. */
  const affected = new Set<Subscriber>();
  const connWaiters = new Set<{ resolve: () => void; reject: (e: unknown) => void }>();
  let conn: pg.Client | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let listeners = 0;
  let lastLossError: unknown;
  let reconnectTimer: Timer | undefined;
  let healthTicker: Ticker | undefined;

  const emit = (event: PgPubSubEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // A failing logger must not break the pubsub.
    }
  };
  const closedError = () => new PubSubError('CLOSED', 'pubsub is closed');

  function destroyClient(client: pg.Client): void {
    openClients.delete(client);
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    try {
      stream?.destroy();
    } catch {
      // Already gone.
    }
    client.end().catch(noop);
  }

  async function openListenClient(): Promise<pg.Client> {
    const client = new pg.Client({ ...clientConfig, application_name: `${clientConfig.application_name}:listen` });
    openClients.add(client);
    client.on('error', (err) => handleLost(client, err));
    client.on('end', () => handleLost(client, new Error('LISTEN connection ended')));
    client.on('notification', (n) => {
      if (dead.has(client)) return;
      const state = channels.get(n.channel);
      if (!state) return;
      const message = Buffer.from(n.payload ?? '', 'utf8');
      for (const s of state.subs) s.pushMessage(message);
    });
    try {
      await client.connect();
    } catch (err) {
      dead.add(client);
      destroyClient(client);
      throw err;
    }
    return client;
  }

  function handleLost(client: pg.Client, err: unknown): void {
    if (dead.has(client)) return;
    dead.add(client);
    destroyClient(client);
    if (client !== conn || closed) return;
    conn = undefined;
    lastLossError = err;
    healthTicker?.stop();
    healthTicker = undefined;
    for (const state of channels.values()) {
      state.listen = undefined;
      state.listenConn = undefined;
      for (const s of state.subs) if (s.live) affected.add(s);
    }
    emit({ type: 'disconnected', error: err });
    scheduleReconnect(1);
  }

  function scheduleReconnect(attempt: number): number {
    const delay = Math.min(backoff.initialDelayMs * backoff.factor ** (attempt - 1), backoff.maxDelayMs);
    reconnectTimer = clock.setTimeout(
      () => {
        reconnectTimer = undefined;
        void reconnect(attempt);
      },
      delay,
      PG_PUBSUB_RECONNECT_TAG,
    );
    return delay;
  }

  async function reconnect(attempt: number): Promise<void> {
    if (closed) return;
    let client: pg.Client | undefined;
    let listened: string[] = [];
    try {
      client = await openListenClient();
      listened = [...channels.keys()];
      if (listened.length) await exec(client, listened.map((c) => `LISTEN ${quoteIdent(c)}`).join('; '));
      if (dead.has(client)) throw new Error('LISTEN connection lost while re-subscribing');
    } catch (err) {
      if (client) {
        dead.add(client);
        destroyClient(client);
      }
      if (closed) return;
      const nextDelayMs = scheduleReconnect(attempt + 1);
      emit({ type: 'reconnect_failed', attempt, error: err, nextDelayMs });
      return;
    }
    if (closed) {
      dead.add(client);
      destroyClient(client);
      return;
    }
    conn = client;
    const stale: string[] = [];
    const ack = Promise.resolve();
    for (const c of listened) {
      const state = channels.get(c);
      if (state) {
        state.listen = ack;
        state.listenConn = client;
      } else {
        stale.push(c);
      }
    }
    if (stale.length) exec(client, stale.map((c) => `UNLISTEN ${quoteIdent(c)}`).join('; ')).catch(noop);
    counters.reconnects++;
    startHealthCheck();
    for (const w of [...connWaiters]) w.resolve();
    connWaiters.clear();
    const reason = `the pubsub connection was lost (${lastLossError instanceof Error ? lastLossError.message : String(lastLossError)}) and is back; messages may have been dropped`;
    for (const s of affected) s.pushDropped(reason, lastLossError);
    affected.clear();
    emit({ type: 'reconnected', attempt, channels: listened.length });
  }

  function startHealthCheck(): void {
    if (healthEveryMs <= 0 || closed) return;
    healthTicker?.stop();
    healthTicker = clock.setInterval(
      async () => {
        const c = conn;
        if (!c || dead.has(c)) return;
        await new Promise<void>((resolve) => {
          const deadline = clock.setTimeout(
            () => {
              handleLost(c, new PubSubError('CONNECTION_FAILED', `LISTEN connection did not answer a health check within ${healthTimeoutMs} ms`));
              resolve();
            },
            healthTimeoutMs,
            PG_PUBSUB_HEALTH_TIMEOUT_TAG,
          );
          exec(c, 'select 1').then(
            () => {
              deadline.cancel();
              resolve();
            },
            (err: unknown) => {
              deadline.cancel();
              handleLost(c, err);
              resolve();
            },
          );
        });
      },
      healthEveryMs,
      PG_PUBSUB_HEALTH_CHECK_TAG,
    );
  }

  function waitForConnection(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        connWaiters.delete(w);
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      connWaiters.add(w);
    });
  }

  function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (!signal) return p;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** Resolves once `channel` is LISTENed on the current connection, then marks `sub` live. */
  async function ensureListening(channel: string, state: ChannelState, sub: Subscriber, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      if (closed) throw closedError();
      if (signal?.aborted) throw abortError(signal);
      const c = conn;
      if (!c) {
        await waitForConnection(signal);
        continue;
      }
      if (!state.listen || state.listenConn !== c) {
        state.listenConn = c;
        state.listen = exec(c, `LISTEN ${quoteIdent(channel)}`);
        state.listen.catch(noop);
      }
      const p = state.listen;
      try {
        await raceAbort(p, signal);
      } catch (err) {
        if (closed) throw closedError();
        if (signal?.aborted) throw abortError(signal);
        // LISTEN on a valid name fails only when the connection is broken: repair it and wait.
        if (state.listen === p) state.listen = undefined;
        handleLost(c, err);
        continue;
      }
      // Still the same healthy connection? Otherwise the LISTEN died with it: go round again.
      if (conn === c && !dead.has(c) && state.listenConn === c) {
        sub.live = true;
        return;
      }
    }
  }

  try {
    conn = await openListenClient();
  } catch (cause) {
    closed = true;
    if (ownPool) await pool.end().catch(noop);
    throw new PubSubError('CONNECTION_FAILED', `cannot open the LISTEN connection: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  startHealthCheck();

  return {
    get connected() {
      return conn !== undefined && !closed;
    },

    async publish(channel, payload) {
      if (closed) throw closedError();
      const n = prepareNotification(channel, payload);
      try {
        await publisher.publish(n.channel, n.text);
      } catch (cause) {
        counters.publishFailures++;
        if (closed) throw closedError();
        const code = isConnectionError(cause) ? 'CONNECTION_FAILED' : 'PUBLISH_FAILED';
        throw new PubSubError(code, `publish on ${channel} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
      counters.published++;
    },

    async publishAll(notifications) {
      if (closed) throw closedError();
      const prepared = notifications.map((n) => prepareNotification(n.channel, n.payload));
      try {
        await publisher.publishAll(prepared);
      } catch (cause) {
        counters.publishFailures += prepared.length;
        if (closed) throw closedError();
        const code = isConnectionError(cause) ? 'CONNECTION_FAILED' : 'PUBLISH_FAILED';
        throw new PubSubError(code, `publish of ${prepared.length} notifications failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
      counters.published += prepared.length;
    },

    async subscribe(channel: string, listener: PubSubListener, opts?: SubscribeOptions): Promise<Unsubscribe> {
      if (closed) throw closedError();
      assertValidChannel(channel);
      if (typeof listener !== 'function') throw new TypeError('listener must be a function');
      const signal = opts?.signal;
      if (signal?.aborted) throw abortError(signal);
      const sub = new Subscriber(channel, listener, queueSize, counters);
      let state = channels.get(channel);
      if (!state) channels.set(channel, (state = { subs: new Set(), listen: undefined, listenConn: undefined }));
      state.subs.add(sub);
      listeners++;
      const st = state;
      let done = false;
      const unsubscribe: Unsubscribe = () => {
        if (done) return;
        done = true;
        sub.close();
        affected.delete(sub);
        if (!st.subs.delete(sub)) return;
        listeners--;
        if (st.subs.size > 0 || channels.get(channel) !== st) return;
        channels.delete(channel);
        const c = conn;
        if (c && !closed && st.listen && st.listenConn === c) exec(c, `UNLISTEN ${quoteIdent(channel)}`).catch(noop);
      };
      try {
        await ensureListening(channel, st, sub, signal);
      } catch (err) {
        unsubscribe();
        throw err;
      }
      return unsubscribe;
    },

    close() {
      closing ??= (async () => {
        closed = true;
        reconnectTimer?.cancel();
        reconnectTimer = undefined;
        healthTicker?.stop();
        healthTicker = undefined;
        for (const w of connWaiters) w.reject(closedError());
        connWaiters.clear();
        for (const state of channels.values()) for (const s of state.subs) s.close();
        channels.clear();
        affected.clear();
        listeners = 0;
        const c = conn;
        conn = undefined;
        for (const other of [...openClients]) {
          if (other === c) continue;
          dead.add(other);
          destroyClient(other);
        }
        if (c) {
          dead.add(c);
          openClients.delete(c);
          // A graceful goodbye, but never hang on a connection that stopped answering.
          const stream = (c as unknown as { connection?: { stream?: { setTimeout?(ms: number, cb: () => void): void; destroy(): void } } }).connection?.stream;
          stream?.setTimeout?.(1_000, () => stream.destroy());
          await c.end().catch(noop);
        }
        publisher.release();
        if (ownPool) await pool.end().catch(noop);
      })();
      return closing;
    },

    metrics() {
      return counters.snapshot({ listeners, channels: channels.size, connected: conn !== undefined && !closed });
    },

    async notificationQueueUsage() {
      if (closed) throw closedError();
      try {
        const r = (await pool.query('select pg_notification_queue_usage() as usage')) as { rows: { usage: number | string }[] };
        return Number(r.rows[0]?.usage ?? 0);
      } catch (cause) {
        throw new PubSubError('CONNECTION_FAILED', 'cannot read pg_notification_queue_usage()', { cause });
      }
    },
  };
}
