// Regression tests for the enterprise bugs seed 002 lists, in their TypeScript form: a late dial result
// delivered or leaked, a loop spinning on an ended source, a timer or check outliving cancel, and the two
// permanent stalls. Each was checked to fail with its fix removed.
import { describe, expect, it } from 'vitest';
import { RelayDialError } from '../src/index.js';
import { LOCAL, WORKER_A, WORKER_B, createFakeConnection, flush, labels, part, setup } from './relay-harness.js';

describe('seed 002 regressions', () => {
  it('stale relay dial after interrupt: the old dial completing first is released, not relayed', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const oldDial = await t.dialer.dial(1);
    t.notes.push('waiting', null);
    t.notes.push('running', WORKER_B);
    const newDial = await t.dialer.dial(2);
    expect(oldDial.params.signal.aborted).toBe(true);
    expect(newDial.params.signal.aborted).toBe(false);

    // The old dial ignores its cancellation and completes before the new one.
    const stale = createFakeConnection([part('old', 3)]);
    oldDial.resolve(stale);
    await flush();
    expect(stale.cancelled).toBe(1);
    expect(stale.reads).toBe(0);
    expect(reader.events).toEqual([]);

    const fresh = createFakeConnection([part('new', 1)]);
    newDial.resolve(fresh);
    await reader.until(1);
    stale.push(part('old', 4));
    fresh.push(part('new', 2));
    await reader.until(2);
    expect(labels(reader.events)).toEqual(['new#1', 'new#2']);
    t.controller.abort();
    await reader.finished;
    expect(fresh.cancelled).toBe(1);
  });

  it('spin on a closed StatusNotifications: an ended source is read once and the relay keeps working', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const call = await t.dialer.dial(1);
    t.notes.end();
    await flush();
    expect(t.notes.reads).toBe(2); // one notification, then the end: never read again

    const conn = createFakeConnection([part('r1', 1)]);
    call.resolve(conn);
    conn.push(part('r1', 2));
    await reader.until(2);
    expect(labels(reader.events)).toEqual(['r1#1', 'r1#2']);
    expect(reader.ended).toBe(false); // the relay ends with the subscription, not with the notifications
    await flush();
    expect(t.notes.reads).toBe(2);
    t.controller.abort();
    await reader.finished;
  });

  it('wrappedParts leak on dial cancel: a dial completing after cancel has its connection released unread', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const call = await t.dialer.dial(1);
    t.controller.abort();
    await reader.finished;

    const late = createFakeConnection([part('r1', 1)]);
    call.resolve(late);
    await flush();
    expect(late.cancelled).toBe(1);
    expect(late.reads).toBe(0);
    expect(reader.events).toEqual([]);
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('wrappedParts leak on cancel: an active relay is cancelled and its parts iterator returned', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);
    t.controller.abort();
    await reader.finished;
    expect(conn.cancelled).toBe(1);
    expect(conn.returned).toBe(true);
    conn.push(part('r1', 2));
    await flush();
    expect(labels(reader.events)).toEqual(['r1#1']);
  });

  it('closeRelay drains: a dial result landing after the relay closed is released, and nothing reconnects', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const call = await t.dialer.dial(1);
    t.notes.push('running', LOCAL);
    await flush();
    expect(call.params.signal.aborted).toBe(true);

    const late = createFakeConnection([part('r1', 1)]);
    call.resolve(late);
    await flush();
    expect(late.cancelled).toBe(1);
    late.drop();
    await t.clock.advance(60_000);
    await flush();
    expect(reader.events).toEqual([]);
    expect(t.dialer.calls).toHaveLength(1);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });

  it('closeRelay drains a finished dial still waiting for its drain check', async () => {
    const t = setup({ status: 'waiting' });
    let answerCheck!: (s: { status: 'waiting'; workerId: null; runId: null }) => void;
    t.store.answer = () =>
      new Promise((resolve) => {
        answerCheck = resolve;
      });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const call = await t.dialer.dial(1);
    t.notes.push('waiting', null); // the dial may finish, then is checked against the DB (ENT-3)
    const conn = createFakeConnection([part('r1', 1)]);
    call.resolve(conn);
    await flush();
    expect(t.store.calls).toBe(1);

    t.notes.push('running', LOCAL); // closes the relay while the check is pending
    await flush();
    expect(conn.cancelled).toBe(1);
    expect(t.store.signals[0]?.aborted).toBe(true);
    answerCheck({ status: 'waiting', workerId: null, runId: null });
    await flush();
    expect(reader.events).toEqual([]);
    expect(conn.reads).toBe(0);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });

  it('cancel-closure race on the reconnect timer: cancel during the reconnect check never dials', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);
    let answerCheck!: (s: { status: 'running'; workerId: string; runId: null }) => void;
    t.store.answer = () =>
      new Promise((resolve) => {
        answerCheck = resolve;
      });
    conn.drop();
    const timer = await t.clock.waitForTimer({ tag: 'relay-reconnect' });
    await t.clock.advance(timer.delayMs);
    expect(t.store.calls).toBe(1);

    t.controller.abort(); // the timer has fired and its check is in flight
    expect(t.store.signals[0]?.aborted).toBe(true);
    answerCheck({ status: 'running', workerId: WORKER_A, runId: null });
    await reader.finished;
    await flush();
    expect(t.dialer.calls).toHaveLength(1);
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('cancel-closure race on the reconnect timer: a timer armed before cancel never fires', async () => {
    const t = setup({ status: 'waiting' });
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    (await t.dialer.dial(1)).reject(new RelayDialError(0, 'ECONNRESET'));
    await t.clock.waitForTimer({ tag: 'relay-reconnect' });
    t.controller.abort();
    expect(t.clock.pendingTimers()).toEqual([]);
    await t.clock.advance(60_000);
    await reader.finished;
    expect(t.store.calls).toBe(0);
    expect(t.dialer.calls).toHaveLength(1);
  });

  it('permanent stall after a failed dial: a failed initial dial still reconnects', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    (await t.dialer.dial(1)).reject(new RelayDialError(0, 'ECONNREFUSED'));
    const reader = await t.started; // the SubscribeFn resolves even though its initial relay failed
    expect((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs).toBe(500);
    await t.clock.advance(500);
    (await t.dialer.dial(2)).resolve(createFakeConnection([part('r1', 1)]));
    await reader.until(1);
    expect(labels(reader.events)).toEqual(['r1#1']);
    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('permanent stall after a DB error: the failed reconnect check is retried', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    (await t.dialer.dial(1)).reject(new RelayDialError(503, 'unavailable'));
    const reader = await t.started;
    t.store.answer = new Error('connection reset by peer');
    await t.clock.advance((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs);
    expect(t.store.calls).toBe(1);
    const again = await t.clock.waitForTimer({ tag: 'relay-reconnect' });
    expect(again.delayMs).toBe(809);

    t.store.answer = { status: 'running', workerId: WORKER_A, runId: null };
    await t.clock.advance(809);
    (await t.dialer.dial(2)).resolve(createFakeConnection([part('r1', 1)]));
    await reader.until(1);
    expect(t.store.calls).toBe(2);
    expect(labels(reader.events)).toEqual(['r1#1']);
    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });
});
