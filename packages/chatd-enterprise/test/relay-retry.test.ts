// ENT-3 retry behaviour (contract.md#relay-errors, contract.md#relay-backoff): classification, the golden-ratio backoff read from the mock
// clock's armed timers, the shared budget of 6 reconnects, auth failures and cancellation while waiting.
import type { MockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import {
  RELAY_CONNECTION_FAILED_MESSAGE,
  RELAY_RECONNECT_FAILED_MESSAGE,
  RelayDialError,
  isRelayGiveUpEvent,
  relayBackoffDelayMs,
} from '../src/index.js';
import { WORKER_A, WORKER_B, createFakeConnection, flush, labels, part, setup } from './relay-harness.js';

const EXPECTED_DELAYS_MS = [500, 809, 1309, 2118, 3427, 5545];

/** Fires the pending reconnect timer and returns its delay. */
async function fireReconnect(clock: MockClock): Promise<number> {
  const timer = await clock.waitForTimer({ tag: 'relay-reconnect' });
  await clock.advance(timer.delayMs);
  return timer.delayMs;
}

describe('RelayDialError classification', () => {
  it.each([
    [401, true],
    [403, true],
    [0, false],
    [400, false],
    [404, false],
    [429, false],
    [500, false],
    [502, false],
    [503, false],
  ])('status %i is unrecoverable: %s', (status, unrecoverable) => {
    expect(new RelayDialError(status, 'x').isUnrecoverable()).toBe(unrecoverable);
  });
});

describe('relay reconnect backoff', () => {
  it('grows from 500 ms by the golden ratio and is capped at 15 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 20].map(relayBackoffDelayMs)).toEqual([500, 809, 1309, 2118, 3427, 5545, 8972, 14517, 15000, 15000]);
  });

  it('arms reconnect timers with the exact backoff delays, then gives up after 7 failed dials', async () => {
    const t = setup({ status: 'waiting' });
    t.dialer.auto = () => Promise.reject(new RelayDialError(503, 'peer answered 503'));
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) delays.push(await fireReconnect(t.clock));
    await reader.until(1);
    expect(delays).toEqual(EXPECTED_DELAYS_MS);
    expect(t.dialer.calls).toHaveLength(7);
    expect(t.store.calls).toBe(6);
    expect(labels(reader.events)).toEqual([`error:${RELAY_CONNECTION_FAILED_MESSAGE}`]);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });
});

describe('relay retry cap', () => {
  it('counts a peer that accepts and then drops: 7 dials, then "relay connection failed"', async () => {
    const conns: ReturnType<typeof createFakeConnection>[] = [];
    const t = setup({
      status: 'running',
      workerId: WORKER_A,
      autoDial: () => {
        const c = createFakeConnection();
        conns.push(c);
        c.drop();
        return Promise.resolve(c.conn);
      },
    });
    const reader = await t.started;
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) delays.push(await fireReconnect(t.clock));
    await reader.until(1);
    expect(delays).toEqual(EXPECTED_DELAYS_MS);
    expect(t.dialer.calls).toHaveLength(7);
    expect(conns.every((c) => c.cancelled === 1)).toBe(true);
    expect(reader.events).toHaveLength(1);
    const [event] = reader.events;
    expect(event && isRelayGiveUpEvent(event)).toBe(true);
    expect(event?.type === 'error' && event.error.message).toBe('relay connection failed after 6 attempts');
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });

  it('stops after the intermittent cap: one error mentioning 6, and no more dials', async () => {
    const t = setup({ status: 'waiting' });
    t.dialer.auto = () => Promise.reject(new RelayDialError(0, 'ECONNREFUSED'));
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    for (let i = 0; i < 6; i++) await fireReconnect(t.clock);
    await reader.until(1);
    await t.clock.advance(10 * 60_000);
    await flush();
    expect(t.dialer.calls).toHaveLength(7);
    expect(reader.events).toHaveLength(1);
    const [event] = reader.events;
    expect(event?.type === 'error' && event.error.message).toContain('6');
    expect(event?.type === 'error' && event.error.detail).toBeUndefined();
    // The same worker is not retried by a repeated notification of the same run.
    t.notes.push('running', WORKER_A);
    await flush();
    expect(t.dialer.calls).toHaveLength(7);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });

  it('shares the budget with DB errors on the reconnect check: 1 dial, 6 DB failures, then the error', async () => {
    const t = setup({ status: 'waiting' });
    t.dialer.auto = () => Promise.reject(new RelayDialError(502, 'peer answered 502'));
    t.store.answer = new Error('connection terminated');
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) delays.push(await fireReconnect(t.clock));
    await reader.until(1);
    expect(delays).toEqual(EXPECTED_DELAYS_MS);
    expect(t.dialer.calls).toHaveLength(1);
    expect(t.store.calls).toBe(6);
    expect(labels(reader.events)).toEqual([`error:${RELAY_RECONNECT_FAILED_MESSAGE}`]);
    expect(t.clock.pendingTimers()).toEqual([]);
    t.controller.abort();
    await reader.finished;
  });

  it.each([401, 403])('stops at once on %i: one dial, one "relay authentication failed" error', async (status) => {
    const t = setup({ status: 'running', workerId: WORKER_A, autoDial: () => Promise.reject(new RelayDialError(status, `peer answered ${status}`)) });
    const reader = await t.started;
    await reader.until(1);
    expect(t.dialer.calls).toHaveLength(1);
    expect(labels(reader.events)).toEqual([`error:relay authentication failed (status ${status})`]);
    const [event] = reader.events;
    expect(event?.type === 'error' && event.error.status_code).toBe(status);
    expect(t.clock.pendingTimers()).toEqual([]);
    // A new run on the same worker is not dialled again with the same dead token.
    t.notes.push('waiting', null);
    t.notes.push('running', WORKER_A);
    await flush();
    expect(t.dialer.calls).toHaveLength(1);
    t.controller.abort();
    await reader.finished;
  });

  it.each([500, 0])('retries on %i', async (status) => {
    const t = setup({ status: 'running', workerId: WORKER_A, autoDial: () => Promise.reject(new RelayDialError(status, 'intermittent')) });
    const reader = await t.started;
    expect((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs).toBe(500);
    expect(reader.events).toEqual([]);
    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('resets the backoff to 500 ms when a status change brings a new target', async () => {
    const t = setup({ status: 'waiting' });
    t.dialer.auto = () => Promise.reject(new RelayDialError(503, 'unavailable'));
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    expect(await fireReconnect(t.clock)).toBe(500);
    expect((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs).toBe(809);

    t.notes.push('waiting', null);
    await flush();
    expect(t.clock.pendingTimers()).toEqual([]); // the run ended: no reconnect pending
    t.notes.push('running', WORKER_B);
    const timer = await t.clock.waitForTimer({ tag: 'relay-reconnect' });
    expect(timer.delayMs).toBe(500);
    expect(t.dialer.calls.map((c) => c.params.workerId)).toEqual([WORKER_A, WORKER_A, WORKER_B]);
    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('resets the backoff on a direct switch to another worker', async () => {
    const t = setup({ status: 'waiting' });
    t.dialer.auto = () => Promise.reject(new RelayDialError(503, 'unavailable'));
    const reader = await t.started;
    t.notes.push('running', WORKER_A);
    await fireReconnect(t.clock);
    expect((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs).toBe(809);
    t.notes.push('running', WORKER_B);
    await t.dialer.dial(3);
    expect((await t.clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs).toBe(500);
    expect(t.clock.pendingTimers()).toHaveLength(1);
    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('closes the events promptly when cancelled while a reconnect is pending', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection([part('r1', 1)]);
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    await reader.until(1);
    conn.drop();
    await t.clock.waitForTimer({ tag: 'relay-reconnect' });

    t.controller.abort();
    await reader.finished;
    expect(t.clock.pendingTimers()).toEqual([]);
    await t.clock.advance(60_000);
    await flush();
    expect(t.store.calls).toBe(0);
    expect(t.dialer.calls).toHaveLength(1);
  });
});
