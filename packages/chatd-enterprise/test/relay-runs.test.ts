// The part cursor at the relay (contract.md#part-cursor): superseded runs are dropped, duplicates after a reconnect are
// dropped, the cursor handed to each dial; and the ENT-3 drain (200 ms) when the chat stops running.
import { createMockClock } from '@chatd/clock';
import type { ChatStreamEvent } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { createMultiReplicaSubscribeFn } from '../src/index.js';
import {
  CHAT_ID,
  LOCAL,
  WORKER_A,
  WORKER_B,
  createFakeConnection,
  createFakeDialer,
  createNotifications,
  createScriptedStore,
  flush,
  labels,
  makeChat,
  part,
  setup,
  silentLogger,
} from './relay-harness.js';

describe('relay part cursor', () => {
  it('drops parts of a run once a part of a newer run has been seen', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    conn.push(part('r2', 1));
    conn.push(part('r1', 2));
    conn.push(part('r2', 2));
    await reader.until(3);
    await flush();
    expect(labels(reader.events)).toEqual(['r1#1', 'r2#1', 'r2#2']);
    t.controller.abort();
    await reader.finished;
  });

  it('skips parts at or before the subscriber cursor in the initial snapshot', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A, runId: 'r1', afterSeq: 3 });
    (await t.dialer.dial(1)).resolve(createFakeConnection([part('r1', 2), part('r1', 3), part('r1', 4)]));
    const reader = await t.started;
    await reader.until(1);
    expect(labels(reader.events)).toEqual(['r1#4']);
    t.controller.abort();
    await reader.finished;
  });

  it('reconnects with the last delivered part as cursor and drops the overlap', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const first = createFakeConnection([part('r1', 1), part('r1', 2)]);
    (await t.dialer.dial(1)).resolve(first);
    const reader = await t.started;
    await reader.until(2);
    first.drop();
    await t.clock.advance((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs);
    const again = await t.dialer.dial(2);
    expect(again.params.cursor).toEqual({ runId: 'r1', afterSeq: 2 });
    again.resolve(createFakeConnection([part('r1', 2), part('r1', 3)]));
    await reader.until(3);
    await flush();
    expect(labels(reader.events)).toEqual(['r1#1', 'r1#2', 'r1#3']);
    t.controller.abort();
    await reader.finished;
  });

  it('does not hand the cursor of another worker run to a new target', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A, runId: 'r1', afterSeq: 5 });
    const a = await t.dialer.dial(1);
    expect(a.params.cursor).toEqual({ runId: 'r1', afterSeq: 5 });
    a.resolve(createFakeConnection());
    const reader = await t.started;
    t.notes.push('running', WORKER_B);
    const b = await t.dialer.dial(2);
    expect(b.params.cursor).toBeUndefined();
    t.controller.abort();
    await reader.finished;
  });

  it('a new run on the same worker (waiting, then running) drops the old run and keeps the connection', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);

    t.notes.push('waiting', null);
    const drain = await t.clock.waitForTimer({ tag: 'relay-drain' });
    expect(drain.delayMs).toBe(200);
    t.notes.push('running', WORKER_A);
    await flush();
    expect(t.clock.pendingTimers()).toEqual([]); // the drain was called off: the same worker runs again
    conn.push(part('r1', 2)); // late part of the finished run
    conn.push(part('r2', 1));
    await reader.until(2);
    await flush();
    expect(labels(reader.events)).toEqual(['r1#1', 'r2#1']);
    expect(conn.cancelled).toBe(0);
    expect(t.dialer.calls).toHaveLength(1);
    t.controller.abort();
    await reader.finished;
  });

  it('a reconnect check that finds another worker and run dials it without the old cursor', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);
    t.store.answer = { status: 'running', workerId: WORKER_B, runId: 'r2' };
    conn.drop();
    await t.clock.advance((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs);
    const next = await t.dialer.dial(2);
    expect(next.params.workerId).toBe(WORKER_B);
    expect(next.params.cursor).toBeUndefined();
    next.resolve(createFakeConnection([part('r1', 2), part('r2', 1)]));
    await reader.until(2);
    await flush();
    expect(labels(reader.events)).toEqual(['r1#1', 'r2#1']);
    t.controller.abort();
    await reader.finished;
  });

  it('a reconnect check that finds another worker (run unknown) dials it without the old worker cursor', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);
    t.store.answer = { status: 'running', workerId: WORKER_B, runId: null };
    conn.drop();
    await t.clock.advance((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs);
    const next = await t.dialer.dial(2);
    expect(next.params.workerId).toBe(WORKER_B);
    expect(next.params.cursor).toBeUndefined();
    t.controller.abort();
    await reader.finished;
  });

  it('a reconnect check that finds the chat stopped ends the leg quietly', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);
    t.store.answer = { status: 'waiting', workerId: null, runId: null };
    conn.drop();
    await t.clock.advance((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs);
    await flush();
    expect(t.dialer.calls).toHaveLength(1);
    expect(labels(reader.events)).toEqual(['r1#1']);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });
});

describe('relay after a history reset (an edit)', () => {
  it('drops the late parts of every run seen before the reset, the draining one included; the next run flows on the same connection', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);

    // The edit: the chat goes pending (the relay drains) and the subscriber sent history_reset.
    t.notes.push('pending', null);
    await t.clock.waitForTimer({ tag: 'relay-drain', delayMs: 200 });
    t.notes.deliver({ status: 'pending', workerId: null, historyReset: true });
    await flush();
    conn.push(part('r1', 2)); // the fenced run's worker has not stopped yet
    // The next run starts on the same worker before the drain ends: the connection is kept.
    t.notes.push('running', WORKER_A);
    await flush();
    conn.push(part('r1', 3));
    conn.push(part('r2', 1));
    await reader.until(2);
    await flush();
    expect(labels(reader.events)).toEqual(['r1#1', 'r2#1']);
    expect(t.dialer.calls).toHaveLength(1);
    t.controller.abort();
    await reader.finished;
  });
});

describe('relay drain (ENT-3)', () => {
  it('keeps an active relay for 200 ms after the chat stops running, then closes it', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);

    t.notes.push('waiting', null);
    await t.clock.waitForTimer({ tag: 'relay-drain', delayMs: 200 });
    conn.push(part('r1', 2)); // trailing part during the drain
    await reader.until(2);
    await t.clock.advance(199);
    expect(conn.cancelled).toBe(0);
    await t.clock.advance(1);
    expect(conn.cancelled).toBe(1);
    await t.clock.advance(60_000);
    await flush();
    expect(t.dialer.calls).toHaveLength(1);
    expect(labels(reader.events)).toEqual(['r1#1', 'r1#2']);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });

  it('a peer closing during the drain ends it without a reconnect', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection();
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    t.notes.push('error', null);
    await t.clock.waitForTimer({ tag: 'relay-drain' });
    conn.drop();
    await flush();
    expect(t.clock.pendingTimers()).toEqual([]);
    expect(t.dialer.calls).toHaveLength(1);
    t.controller.abort();
    await reader.finished;
  });

  it('lets an in-flight dial finish, checks the DB, then drains it', async () => {
    const t = setup({ status: 'waiting' });
    t.store.answer = { status: 'waiting', workerId: null, runId: null };
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const call = await t.dialer.dial(1);
    t.notes.push('waiting', null);
    await flush();
    expect(call.params.signal.aborted).toBe(false);
    const conn = createFakeConnection([part('r1', 7)]);
    call.resolve(conn);
    await reader.until(1);
    expect(t.store.calls).toBe(1);
    await t.clock.waitForTimer({ tag: 'relay-drain' });
    await t.clock.advance(200);
    expect(conn.cancelled).toBe(1);
    expect(labels(reader.events)).toEqual(['r1#7']);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });

  it('discards an in-flight dial that finishes after another worker took the chat', async () => {
    const t = setup({ status: 'waiting' });
    t.store.answer = { status: 'running', workerId: WORKER_B, runId: 'r2' };
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const call = await t.dialer.dial(1);
    t.notes.push('pending', null);
    const conn = createFakeConnection([part('r1', 1)]);
    call.resolve(conn);
    await flush();
    expect(t.store.calls).toBe(1);
    expect(conn.cancelled).toBe(1);
    expect(reader.events).toEqual([]);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });

  it('running on the local replica closes at once, without a drain', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection();
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    t.notes.push('running', LOCAL);
    await flush();
    expect(conn.cancelled).toBe(1);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });
});

describe('relay back-pressure', () => {
  it('stops reading from the peer while the consumer is behind, and resumes as it reads', async () => {
    const clock = createMockClock();
    const dialer = createFakeDialer();
    const notes = createNotifications();
    const conn = createFakeConnection();
    dialer.auto = () => Promise.resolve(conn.conn);
    const controller = new AbortController();
    const iterable = await createMultiReplicaSubscribeFn({
      resolveReplicaAddress: () => Promise.resolve(undefined),
      replicaId: () => LOCAL,
      dialer: dialer.dialer,
      clock,
    })({
      chatId: CHAT_ID,
      chat: makeChat('running', WORKER_A),
      workerId: WORKER_A,
      statusNotifications: notes.iterable,
      requestHeader: new Headers(),
      store: createScriptedStore().store,
      logger: silentLogger,
      clock,
      signal: controller.signal,
    });
    for (let i = 1; i <= 300; i++) conn.push(part('r1', i));
    await flush();
    expect(conn.reads).toBeLessThanOrEqual(130);
    const it = iterable[Symbol.asyncIterator]();
    const got: ChatStreamEvent[] = [];
    for (let i = 0; i < 300; i++) {
      const r = await it.next();
      if (!r.done) got.push(r.value);
    }
    expect(labels(got)).toEqual(Array.from({ length: 300 }, (_, i) => `r1#${i + 1}`));
    controller.abort();
    expect((await it.next()).done).toBe(true);
    expect(conn.cancelled).toBe(1);
  });
});
