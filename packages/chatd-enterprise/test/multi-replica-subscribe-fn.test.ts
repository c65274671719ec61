// The nine enterprise subscribe tests of seed 002 (contract.md#relay), at the SubscribeFn level: the dialer is
// overridden, time is the mock clock, and every test ends with no timer armed.
import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import { RelayDialError, createMultiReplicaSubscribeFn } from '../src/index.js';
import {
  CHAT_ID,
  LOCAL,
  WORKER_A,
  WORKER_B,
  createFakeConnection,
  createNotifications,
  createScriptedStore,
  flush,
  labels,
  makeChat,
  part,
  setup,
  silentLogger,
} from './relay-harness.js';

describe('createMultiReplicaSubscribeFn', () => {
  it('reconnects after the relay drops, on a 500 ms reconnect timer', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const first = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(first);
    const reader = await t.started;
    await reader.until(1);

    first.drop();
    const timer = await t.clock.waitForTimer({ tag: 'relay-reconnect' });
    expect(timer.delayMs).toBe(500);
    expect(t.dialer.calls).toHaveLength(1);
    expect(first.cancelled).toBe(1);

    await t.clock.advance(500);
    const second = await t.dialer.dial(2);
    expect(t.store.calls).toBe(1);
    expect(second.params.workerId).toBe(WORKER_A);
    expect(second.params.cursor).toEqual({ runId: 'r1', afterSeq: 1 });
    const conn = createFakeConnection();
    second.resolve(conn);
    await flush();
    conn.push(part('r1', 2));
    await reader.until(2);
    expect(labels(reader.events)).toEqual(['r1#1', 'r1#2']);

    t.controller.abort();
    await reader.finished;
    expect(conn.cancelled).toBe(1);
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('does not block on an async dial: later notifications are still handled', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started; // no initial relay: returns at once
    t.notes.push('running', WORKER_A);
    const blocked = await t.dialer.dial(1); // never settled by the test

    t.notes.push('waiting', null);
    t.notes.push('running', WORKER_B);
    const second = await t.dialer.dial(2);
    expect(second.params.workerId).toBe(WORKER_B);
    expect(blocked.params.signal.aborted).toBe(true);
    const conn = createFakeConnection([part('rb', 1)]);
    second.resolve(conn);
    conn.push(part('rb', 2));
    await reader.until(2);
    expect(labels(reader.events)).toEqual(['rb#1', 'rb#2']);
    expect(t.notes.reads).toBe(4); // three notifications read, and waiting for the fourth

    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('delivers the relay snapshot first, in order, then live parts; non-part events are dropped', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A, runId: 'r1', afterSeq: 1 });
    const call = await t.dialer.dial(1);
    expect(call.params.cursor).toEqual({ runId: 'r1', afterSeq: 1 });
    expect(call.params.requestHeader.get('Coder-Session-Token')).toBe('token-1');
    const conn = createFakeConnection([
      { type: 'status', chat_id: call.params.chatId, status: { status: 'running' } },
      part('r1', 2),
      part('r1', 3),
      part('r1', 4),
    ]);
    call.resolve(conn);
    // The SubscribeFn resolves only after the synchronous initial relay; its snapshot is already queued.
    const reader = await t.started;
    conn.push({ type: 'message', chat_id: call.params.chatId, message: { id: 9, chat_id: call.params.chatId, created_at: 'x', role: 'assistant' } });
    conn.push(part('r1', 5));
    await reader.until(4);
    expect(labels(reader.events)).toEqual(['r1#2', 'r1#3', 'r1#4', 'r1#5']);

    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('discards a stale dial after an interrupt: running(old), waiting, running(new)', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const oldDial = await t.dialer.dial(1);
    t.notes.push('waiting', null);
    t.notes.push('running', WORKER_B);
    const newDial = await t.dialer.dial(2);
    expect(oldDial.params.signal.aborted).toBe(true);

    const fresh = createFakeConnection([part('new', 1)]);
    newDial.resolve(fresh);
    await reader.until(1);
    // The old worker's dial completes late, with a part of the interrupted run.
    const stale = createFakeConnection([part('old', 7)]);
    stale.push(part('old', 8));
    oldDial.resolve(stale);
    await flush();
    fresh.push(part('new', 2));
    await reader.until(2);
    expect(labels(reader.events)).toEqual(['new#1', 'new#2']);
    expect(stale.cancelled).toBe(1);
    expect(stale.reads).toBe(0);

    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('cancelling the subscription cancels a dial still in flight', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const call = await t.dialer.dial(1);
    expect(call.params.signal.aborted).toBe(false);

    t.controller.abort();
    expect(call.params.signal.aborted).toBe(true);
    await reader.finished;
    expect(reader.events).toEqual([]);
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('cancelling the subscription during the synchronous initial dial returns an ended iterable', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const call = await t.dialer.dial(1);
    t.controller.abort();
    expect(call.params.signal.aborted).toBe(true);
    const reader = await t.started;
    await reader.finished;
    expect(reader.events).toEqual([]);
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('switches running(A) to running(B): cancels A, delivers B, exactly two dials', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const a = await t.dialer.dial(1);
    t.notes.push('running', WORKER_B);
    const b = await t.dialer.dial(2);
    expect(a.params.signal.aborted).toBe(true);
    expect(b.params.workerId).toBe(WORKER_B);
    b.resolve(createFakeConnection([part('rb', 1), part('rb', 2)]));
    await reader.until(2);
    expect(labels(reader.events)).toEqual(['rb#1', 'rb#2']);
    await flush();
    expect(t.dialer.calls).toHaveLength(2);

    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('retries a failed async dial: the reconnect re-checks the DB and dials again', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    (await t.dialer.dial(1)).reject(new RelayDialError(503, 'peer answered 503'));
    const timer = await t.clock.waitForTimer({ tag: 'relay-reconnect' });
    expect(timer.delayMs).toBe(500);
    expect(t.store.calls).toBe(0);

    await t.clock.advance(500);
    const retry = await t.dialer.dial(2);
    expect(t.store.calls).toBe(1);
    retry.resolve(createFakeConnection([part('r1', 1)]));
    await reader.until(1);
    expect(labels(reader.events)).toEqual(['r1#1']);

    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('closes the relay when the local replica now runs the chat, and dials no more', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);

    t.notes.push('running', LOCAL);
    await flush();
    expect(conn.cancelled).toBe(1);
    expect(conn.returned).toBe(true);
    expect(t.clock.pendingTimers()).toEqual([]);
    conn.push(part('r1', 2));
    await t.clock.advance(60_000);
    await flush();
    expect(t.dialer.calls).toHaveLength(1);
    expect(labels(reader.events)).toEqual(['r1#1']);

    t.controller.abort();
    await reader.finished;
  });

  it('reconnects after each of several consecutive drops (three dials)', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const c1 = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(c1);
    const reader = await t.started;
    await reader.until(1);

    c1.drop();
    expect((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs).toBe(500);
    await t.clock.advance(500);
    const c2 = createFakeConnection([part('r1', 2)]);
    (await t.dialer.dial(2)).resolve(c2);
    await reader.until(2);

    c2.drop();
    // Each relay delivered a part, so the budget started again: 500 ms once more.
    expect((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs).toBe(500);
    await t.clock.advance(500);
    const c3 = createFakeConnection([part('r1', 3)]);
    (await t.dialer.dial(3)).resolve(c3);
    await reader.until(3);

    expect(labels(reader.events)).toEqual(['r1#1', 'r1#2', 'r1#3']);
    expect(t.dialer.calls).toHaveLength(3);
    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('tears everything down when the consumer stops iterating', async () => {
    const clock = createMockClock();
    const conn = createFakeConnection([part('r1', 1)]);
    const iterable = await createMultiReplicaSubscribeFn({
      resolveReplicaAddress: () => Promise.resolve(undefined),
      replicaId: () => LOCAL,
      dialer: () => Promise.resolve(conn.conn),
      clock,
    })({
      chatId: CHAT_ID,
      chat: makeChat('running', WORKER_A),
      workerId: WORKER_A,
      statusNotifications: createNotifications().iterable,
      requestHeader: new Headers(),
      store: createScriptedStore().store,
      logger: silentLogger,
      clock,
      signal: new AbortController().signal,
    });
    const got: string[] = [];
    for await (const e of iterable) {
      got.push(...labels([e]));
      break;
    }
    expect(got).toEqual(['r1#1']);
    expect(conn.cancelled).toBe(1);
    expect(conn.returned).toBe(true);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('counts a dialer that throws synchronously as a failed dial', async () => {
    const t = setup({
      status: 'running',
      workerId: WORKER_A,
      autoDial: () => {
        throw new Error('dialer exploded');
      },
    });
    const reader = await t.started;
    expect((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs).toBe(500);
    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });
});
