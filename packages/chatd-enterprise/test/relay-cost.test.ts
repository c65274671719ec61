// The relay edge's per-part cost as deterministic counts: promises created per relayed part (async_hooks) on the
// way from a relay connection to the subscriber's iterable, and through a shared relay's view, with the parts
// already buffered. An await per part (even of a settled promise) or an async function around `next()` shows here.
import { createHook } from 'node:async_hooks';
import type { ChatStreamEvent } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import type { ServerMetrics } from '@chatd/oss';
import { countRelayConnections } from '../src/relay-gauge.js';
import { createSharedRelayDialer } from '../src/index.js';
import { CHAT_ID, WORKER_A, createFakeConnection, createFakeDialer, part, setup } from './relay-harness.js';

const PARTS = 100;

/** Promises created while `fn` runs. */
async function promisesDuring(fn: () => Promise<void>): Promise<number> {
  let promises = 0;
  const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) });
  hook.enable();
  try {
    await fn();
  } finally {
    hook.disable();
  }
  return promises;
}

describe('relay per-part cost', () => {
  it('the relay session creates at most 5 promises per relayed part (it waits for room only when its output is full)', async () => {
    const t = setup({ status: 'running', workerId: WORKER_A });
    const conn = createFakeConnection();
    (await t.dialer.dial(1)).resolve(conn);
    const reader = await t.started;
    conn.push(part('r1', 1));
    await reader.until(1);
    const promises = await promisesDuring(async () => {
      for (let seq = 2; seq <= PARTS + 1; seq++) conn.push(part('r1', seq));
      await reader.until(PARTS + 1);
    });
    expect(reader.events).toHaveLength(PARTS + 1);
    expect(promises / PARTS).toBeLessThanOrEqual(5);
    t.controller.abort();
    await reader.finished;
  });

  it('a shared relay view hands on a buffered part with no promise of its own', async () => {
    const inner = createFakeDialer();
    const shared = createSharedRelayDialer(inner.dialer);
    const dialed = shared({ chatId: CHAT_ID, workerId: WORKER_A, requestHeader: new Headers({ 'Coder-Session-Token': 't' }), cursor: undefined, signal: new AbortController().signal });
    const upstream = createFakeConnection();
    (await inner.dial(1)).resolve(upstream);
    const view = await dialed;
    for (let seq = 1; seq <= PARTS; seq++) upstream.push(part('r1', seq));
    await new Promise((r) => setImmediate(r)); // the hub's pump moves them into the view's queue
    const iterator = view.parts[Symbol.asyncIterator]();
    const got: ChatStreamEvent[] = [];
    const promises = await promisesDuring(async () => {
      for (let i = 0; i < PARTS; i++) {
        const r = await iterator.next();
        if (!r.done) got.push(r.value);
      }
    });
    expect(got).toHaveLength(PARTS);
    // The await in this loop and the queue's resolved promise: two per part; an async next() made it four.
    expect(promises / PARTS).toBeLessThanOrEqual(2.5);
    view.cancel();
  });

  it('the relay gauge counts a connection without an async generator per part, and still counts it closed once', async () => {
    let open = 0;
    const metrics = { inc: (_name: string, by = 1) => void (open += by) } as unknown as ServerMetrics;
    const inner = createFakeDialer();
    const dialed = countRelayConnections(inner.dialer, metrics)({ chatId: CHAT_ID, workerId: WORKER_A, requestHeader: new Headers(), cursor: undefined, signal: new AbortController().signal });
    const upstream = createFakeConnection();
    (await inner.dial(1)).resolve(upstream);
    const conn = await dialed;
    expect(open).toBe(1);
    for (let seq = 1; seq <= PARTS; seq++) upstream.push(part('r1', seq));
    const iterator = conn.parts[Symbol.asyncIterator]();
    let got = 0;
    const promises = await promisesDuring(async () => {
      for (let i = 0; i < PARTS; i++) if (!(await iterator.next()).done) got++;
    });
    expect(got).toBe(PARTS);
    // The await here, the fake's resolved promise and the gauge's one `then`: three per part; the async generator's `yield*` made it four.
    expect(promises / PARTS).toBeLessThanOrEqual(3.5);
    upstream.drop();
    expect((await iterator.next()).done).toBe(true);
    conn.cancel();
    expect(open).toBe(0);
  });
});
