// Fault tests against real PostgreSQL: the LISTEN connection is killed (pg_terminate_backend), cut
// (TCP proxy), refused and stalled. Each time every affected listener is told MESSAGES_DROPPED once the
// subscription is live again, and delivery resumes with no manual action. Reconnect backoff and health
// checks run on the mock clock: the tests wait for the tagged timer, then advance past it.
import { createMockClock, type MockClock } from '@chatd/clock';
import { createTcpProxy, useTestDatabase, waitFor, type TcpProxy } from '@chatd/testkit';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PG_PUBSUB_HEALTH_CHECK_TAG,
  PG_PUBSUB_HEALTH_TIMEOUT_TAG,
  PG_PUBSUB_RECONNECT_TAG,
  createPgPubSub,
  type PgPubSub,
  type PgPubSubEvent,
  type PgPubSubOptions,
} from '../src/index.js';
import { recorder } from './helpers.js';

const db = useTestDatabase();

function viaProxy(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

describe('createPgPubSub under faults', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  let appSeq = 0;
  async function setup(extra: Partial<PgPubSubOptions> & { proxy?: boolean } = {}) {
    const clock = createMockClock();
    let proxy: TcpProxy | undefined;
    let url = db.url;
    if (extra.proxy) {
      proxy = await createTcpProxy({ port: Number(new URL(db.url).port) });
      cleanups.push(() => proxy!.close());
      url = viaProxy(db.url, proxy.port);
    }
    const events: PgPubSubEvent[] = [];
    const applicationName = `faults-${process.pid}-${++appSeq}`;
    const ps = await createPgPubSub({ connectionString: url, clock, applicationName, onEvent: (e) => events.push(e), ...extra });
    cleanups.push(() => ps.close());
    const admin = new pg.Client({ connectionString: db.url });
    admin.on('error', () => {});
    await admin.connect();
    cleanups.push(() => admin.end());
    const listenPid = async (): Promise<number | undefined> => {
      const { rows } = await admin.query('select pid from pg_stat_activity where application_name = $1', [`${applicationName}:listen`]);
      return rows[0]?.pid as number | undefined;
    };
    return { clock, proxy, ps, events, admin, listenPid };
  }

  /** Waits for the reconnect timer, checks its delay, and fires it. */
  async function fireReconnect(clock: MockClock, expectedDelayMs?: number): Promise<void> {
    const t = await clock.waitForTimer({ tag: PG_PUBSUB_RECONNECT_TAG });
    if (expectedDelayMs !== undefined) expect(t.delayMs).toBe(expectedDelayMs);
    await clock.advance(t.dueAtMs - clock.nowMs());
  }

  it('pg_terminate_backend of the LISTEN connection: dropped signal, re-LISTEN of every channel, delivery resumes', async () => {
    const { clock, ps, events, admin, listenPid } = await setup();
    const a = recorder();
    const a2 = recorder();
    const b = recorder();
    await ps.subscribe('fault:a', a.listener);
    await ps.subscribe('fault:a', a2.listener);
    await ps.subscribe('fault:b', b.listener);
    await ps.publish('fault:a', 'before');
    await Promise.all([a.waitForMessage('before'), a2.waitForMessage('before')]);
    const pid = await listenPid();
    expect(pid).toBeTypeOf('number');

    await admin.query('select pg_terminate_backend($1)', [pid]);
    await waitFor(() => !ps.connected, { what: 'the loss to be noticed' });
    expect(events.map((e) => e.type)).toEqual(['disconnected']);
    // Nothing is delivered to listeners until the subscription is live again.
    expect(a.errors).toEqual([]);

    await fireReconnect(clock, 100);
    await Promise.all([a.waitForError('MESSAGES_DROPPED'), a2.waitForError('MESSAGES_DROPPED'), b.waitForError('MESSAGES_DROPPED')]);
    expect(ps.connected).toBe(true);
    expect(await listenPid()).not.toBe(pid);

    await ps.publish('fault:a', 'after a');
    await ps.publish('fault:b', 'after b');
    await Promise.all([a.waitForMessage('after a'), a2.waitForMessage('after a'), b.waitForMessage('after b')]);
    expect(a.events).toEqual(['before', '!MESSAGES_DROPPED', 'after a']);
    expect(b.events).toEqual(['!MESSAGES_DROPPED', 'after b']);
    expect(ps.metrics()).toMatchObject({ reconnects: 1, droppedSignals: 3, listeners: 3, channels: 2, connected: true });
    expect(events.map((e) => e.type)).toEqual(['disconnected', 'reconnected']);
  });

  it('a cut TCP connection (proxy): dropped signal, re-subscription, delivery resumes; publishing recovers too', async () => {
    const { clock, proxy, ps } = await setup({ proxy: true });
    const r = recorder();
    await ps.subscribe('fault:cut', r.listener);
    await ps.publish('fault:cut', 'before');
    await r.waitForMessage('before');

    proxy!.cut();
    await waitFor(() => !ps.connected, { what: 'the cut to be noticed' });
    await fireReconnect(clock);
    await r.waitForError('MESSAGES_DROPPED');
    // The publish connections were cut too; they were dropped on the spot, so the first publish just works.
    await ps.publish('fault:cut', 'after');
    await r.waitForMessage('after');
    expect(r.events.slice(0, 2)).toEqual(['before', '!MESSAGES_DROPPED']);
    expect(r.events.at(-1)).toBe('after');
  });

  it('reconnect attempts back off on the clock while the server refuses, then succeed', async () => {
    const { clock, proxy, ps, events } = await setup({ proxy: true, reconnectBackoff: { initialDelayMs: 100, maxDelayMs: 300 } });
    const r = recorder();
    await ps.subscribe('fault:refuse', r.listener);
    proxy!.refuse(true);
    proxy!.cut();
    await waitFor(() => !ps.connected);
    // 100, 200, then capped at 300.
    for (const delay of [100, 200, 300, 300]) {
      const trap = clock.trap({ tag: PG_PUBSUB_RECONNECT_TAG });
      await fireReconnect(clock, delay);
      // The attempt fails and arms the next timer.
      await trap.wait();
      trap.close();
    }
    expect(events.filter((e) => e.type === 'reconnect_failed').map((e) => (e as { nextDelayMs: number }).nextDelayMs)).toEqual([200, 300, 300, 300]);
    expect(r.errors).toEqual([]);
    proxy!.refuse(false);
    await fireReconnect(clock, 300);
    await r.waitForError('MESSAGES_DROPPED');
    expect(r.errors).toHaveLength(1);
    await ps.publish('fault:refuse', 'back');
    await r.waitForMessage('back');
    expect(ps.metrics().reconnects).toBe(1);
  });

  it('a stalled connection is caught by the health check and replaced', async () => {
    const { clock, proxy, ps, events } = await setup({ proxy: true, healthCheckIntervalMs: 1_000, healthCheckTimeoutMs: 500 });
    const r = recorder();
    await ps.subscribe('fault:stall', r.listener);
    // A healthy check passes.
    await clock.waitForTimer({ tag: PG_PUBSUB_HEALTH_CHECK_TAG });
    await clock.advance(1_000);
    await waitFor(() => clock.pendingTimers().some((t) => t.tag === PG_PUBSUB_HEALTH_CHECK_TAG));
    expect(events).toEqual([]);

    proxy!.stall();
    await clock.advance(1_000);
    const deadline = await clock.waitForTimer({ tag: PG_PUBSUB_HEALTH_TIMEOUT_TAG });
    await clock.advance(deadline.dueAtMs - clock.nowMs());
    expect(ps.connected).toBe(false);
    expect(events[0]?.type).toBe('disconnected');
    proxy!.resume();
    proxy!.cut();
    await fireReconnect(clock);
    await r.waitForError('MESSAGES_DROPPED');
    await waitFor(async () => (await ps.publish('fault:stall', 'alive').then(() => true, () => false)) || undefined);
    await r.waitForMessage('alive');
  });

  it('a subscribe during an outage waits for the reconnect and then gets no dropped signal (it missed nothing)', async () => {
    const { clock, ps, admin, listenPid } = await setup();
    const old = recorder();
    await ps.subscribe('fault:during', old.listener);
    await admin.query('select pg_terminate_backend($1)', [await listenPid()]);
    await waitFor(() => !ps.connected);
    const late = recorder();
    let resolved = false;
    const sub = ps.subscribe('fault:late', late.listener).then((u) => {
      resolved = true;
      return u;
    });
    const ac = new AbortController();
    const abandoned = ps.subscribe('fault:abandoned', () => {}, { signal: ac.signal });
    ac.abort(new Error('client went away'));
    await expect(abandoned).rejects.toThrow('client went away');
    await clock.waitForTimer({ tag: PG_PUBSUB_RECONNECT_TAG });
    expect(resolved).toBe(false);
    await fireReconnect(clock);
    await sub;
    await old.waitForError('MESSAGES_DROPPED');
    await ps.publish('fault:late', 'hello');
    await late.waitForMessage('hello');
    expect(late.events).toEqual(['hello']);
    expect(ps.metrics().listeners).toBe(2);
  });

  it('repeated losses: one dropped signal per recovery, nothing lost after each', async () => {
    const { clock, ps, admin, listenPid } = await setup();
    const r = recorder();
    await ps.subscribe('fault:repeat', r.listener);
    for (let i = 0; i < 3; i++) {
      await admin.query('select pg_terminate_backend($1)', [await listenPid()]);
      await waitFor(() => !ps.connected);
      await fireReconnect(clock, 100);
      await waitFor(() => r.errors.length === i + 1);
      await ps.publish('fault:repeat', `round ${i}`);
      await r.waitForMessage(`round ${i}`);
    }
    expect(r.events).toEqual(['!MESSAGES_DROPPED', 'round 0', '!MESSAGES_DROPPED', 'round 1', '!MESSAGES_DROPPED', 'round 2']);
    expect(ps.metrics().reconnects).toBe(3);
  });

  it('close during an outage releases every timer and connection and rejects waiting subscribes', async () => {
    const { clock, proxy, ps } = await setup({ proxy: true });
    await ps.subscribe('fault:close', () => {});
    proxy!.refuse(true);
    proxy!.cut();
    await waitFor(() => !ps.connected);
    await clock.waitForTimer({ tag: PG_PUBSUB_RECONNECT_TAG });
    const waiting = ps.subscribe('fault:close-2', () => {});
    await ps.close();
    await expect(waiting).rejects.toMatchObject({ code: 'CLOSED' });
    expect(clock.pendingTimers()).toEqual([]);
    await waitFor(() => proxy!.connections === 0, { what: 'every proxied connection to close' });
  });

  it('close on a healthy pubsub leaves no timers behind', async () => {
    const { clock, ps } = await setup();
    await ps.subscribe('fault:clean', () => {});
    expect(clock.pendingTimers().map((t) => t.tag)).toEqual([PG_PUBSUB_HEALTH_CHECK_TAG]);
    await ps.close();
    expect(clock.pendingTimers()).toEqual([]);
    expect((ps as PgPubSub).connected).toBe(false);
  });
});
