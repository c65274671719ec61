// createSharedRelayDialer with a fake inner dialer (relay-harness): one upstream per chat, worker and token;
// each view's snapshot + live stream equals what the peer would send for its cursor, with no gap and no repeat.
// No sockets and no sleeps: `flush()` only lets pending promise callbacks run.
import type { ChatStreamEvent } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { RelayDialError, createSharedRelayDialer, type RelayConnection, type RelayCursor, type RelayDialParams } from '../src/index.js';
import { CHAT_ID, WORKER_A, WORKER_B, createFakeConnection, createFakeDialer, flush, labels, part } from './relay-harness.js';

function params(overrides: Partial<RelayDialParams> & { token?: string | null } = {}): RelayDialParams {
  const { token = 'token-1', ...rest } = overrides;
  return {
    chatId: CHAT_ID,
    workerId: WORKER_A,
    requestHeader: new Headers(token === null ? {} : { 'Coder-Session-Token': token }),
    cursor: undefined,
    signal: new AbortController().signal,
    ...rest,
  };
}

/** Reads `n` live events of a view. */
async function take(conn: RelayConnection, n: number): Promise<ChatStreamEvent[]> {
  const iterator = conn.parts[Symbol.asyncIterator]();
  const out: ChatStreamEvent[] = [];
  while (out.length < n) {
    const r = await iterator.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

/** Reads a view's live events until it ends; `error` is what the iterator threw, if anything. */
async function drain(conn: RelayConnection): Promise<{ events: ChatStreamEvent[]; error: unknown }> {
  const events: ChatStreamEvent[] = [];
  try {
    for await (const e of conn.parts) events.push(e);
  } catch (error) {
    return { events, error };
  }
  return { events, error: undefined };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('the dial should have failed'),
    (e: unknown) => e,
  );
}

const runParts = (runId: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => part(runId, from + i));

/** A shared dialer over a fake inner dialer. */
function setupShared(maxBufferedParts?: number) {
  const inner = createFakeDialer();
  const shared = createSharedRelayDialer(inner.dialer, maxBufferedParts === undefined ? {} : { maxBufferedParts });
  return { inner, shared };
}

describe('createSharedRelayDialer', () => {
  it('dials the inner dialer once, without a cursor, for two views of the same chat, worker and token', async () => {
    const { inner, shared } = setupShared();
    // The first dial's cursor is its own: the upstream asks for every buffered part.
    const first = shared(params({ cursor: { runId: 'r1', afterSeq: 1 } }));
    const second = shared(params({ requestHeader: new Headers({ authorization: 'Bearer token-1' }) }));
    const call = await inner.dial(1);
    expect(call.params.cursor).toBeUndefined();
    const upstream = createFakeConnection([part('r1', 1), part('r1', 2)]);
    call.resolve(upstream);
    const [a, b] = await Promise.all([first, second]);
    expect(inner.calls).toHaveLength(1);
    expect(labels(a.snapshot)).toEqual(['r1#2']);
    expect(labels(b.snapshot)).toEqual(['r1#1', 'r1#2']);

    upstream.push(part('r1', 3));
    expect(labels(await take(a, 1))).toEqual(['r1#3']);
    expect(labels(await take(b, 1))).toEqual(['r1#3']);

    // A third view on the open upstream: no new dial, the buffer as its snapshot.
    const c = await shared(params());
    expect(inner.calls).toHaveLength(1);
    expect(labels(c.snapshot)).toEqual(['r1#1', 'r1#2', 'r1#3']);
    a.cancel();
    b.cancel();
    c.cancel();
  });

  it('gives a late joiner at (r, 5) exactly the parts after 5, split between snapshot and live, never twice', async () => {
    const { inner, shared } = setupShared();
    const first = shared(params());
    const upstream = createFakeConnection(runParts('r', 1, 3));
    (await inner.dial(1)).resolve(upstream);
    const a = await first;

    // Joins while the hub holds 1..3 only: 4 and 5 arrive live and are not for it.
    const early = await shared(params({ cursor: { runId: 'r', afterSeq: 5 } }));
    expect(early.snapshot).toEqual([]);
    for (const p of runParts('r', 4, 8)) upstream.push(p);
    await flush();

    // Joins once the hub holds 1..8: 6..8 in the snapshot, then live.
    const late = await shared(params({ cursor: { runId: 'r', afterSeq: 5 } }));
    expect(labels(late.snapshot)).toEqual(['r#6', 'r#7', 'r#8']);
    upstream.push(part('r', 9));
    upstream.push(part('r', 10));
    expect(labels(await take(late, 2))).toEqual(['r#9', 'r#10']);
    expect(labels([...early.snapshot, ...(await take(early, 5))])).toEqual(['r#6', 'r#7', 'r#8', 'r#9', 'r#10']);
    expect(labels(await take(a, 7))).toEqual(labels(runParts('r', 4, 10)));

    upstream.drop();
    expect((await drain(late)).events).toEqual([]);
    expect(inner.calls).toHaveLength(1);
  });

  it('opens separate upstreams for another token or another worker, and does not share dials without a token', async () => {
    const { inner, shared } = setupShared();
    void shared(params());
    void shared(params({ token: 'token-2' }));
    void shared(params({ workerId: WORKER_B }));
    void shared(params({ chatId: 'another-chat' }));
    await inner.dial(4);
    expect(inner.calls.map((c) => [c.params.chatId, c.params.workerId, c.params.requestHeader.get('Coder-Session-Token')])).toEqual([
      [CHAT_ID, WORKER_A, 'token-1'],
      [CHAT_ID, WORKER_A, 'token-2'],
      [CHAT_ID, WORKER_B, 'token-1'],
      ['another-chat', WORKER_A, 'token-1'],
    ]);

    // No session token: each dial goes to the inner dialer as it is, cursor and signal included.
    const cursor: RelayCursor = { runId: 'r1', afterSeq: 3 };
    const anonymous = params({ token: null, cursor });
    void shared(anonymous);
    void shared(params({ token: null }));
    await inner.dial(6);
    expect(inner.calls[4]?.params).toBe(anonymous);
    expect(inner.calls[5]?.params.cursor).toBeUndefined();
  });

  it('rejects every waiting view with the inner 401 and dials again on the next dial', async () => {
    const { inner, shared } = setupShared();
    const first = rejection(shared(params()));
    const second = rejection(shared(params({ cursor: { runId: 'r1', afterSeq: 2 } })));
    const refused = new RelayDialError(401, 'relay dial failed: peer answered 401');
    (await inner.dial(1)).reject(refused);
    const [e1, e2] = await Promise.all([first, second]);
    expect(e1).toBe(refused);
    expect(e2).toBe(refused);
    expect((e1 as RelayDialError).httpStatus).toBe(401);
    expect((e1 as RelayDialError).isUnrecoverable()).toBe(true);

    const third = shared(params());
    const retry = await inner.dial(2);
    retry.resolve(createFakeConnection([part('r1', 1)]));
    expect(labels((await third).snapshot)).toEqual(['r1#1']);
  });

  it('aborts the upstream dial only when every waiting view has aborted', async () => {
    const { inner, shared } = setupShared();
    const c1 = new AbortController();
    const c2 = new AbortController();
    const c3 = new AbortController();
    const v1 = shared(params({ signal: c1.signal }));
    const v2 = shared(params({ signal: c2.signal }));
    const call = await inner.dial(1);

    c1.abort();
    const e1 = await rejection(v1);
    expect(e1).toBeInstanceOf(RelayDialError);
    expect((e1 as RelayDialError).httpStatus).toBe(0);
    expect((e1 as RelayDialError).message).toBe('relay dial cancelled');
    expect(call.params.signal.aborted).toBe(false);
    call.resolve(createFakeConnection([part('r1', 1)]));
    const kept = await v2;
    expect(labels(kept.snapshot)).toEqual(['r1#1']);
    kept.cancel();

    // Both waiters of a new upstream abort: its dial is aborted, and a late connection is released.
    const v3 = shared(params({ signal: c3.signal }));
    const c4 = new AbortController();
    const v4 = shared(params({ signal: c4.signal }));
    const second = await inner.dial(2);
    c3.abort();
    expect(second.params.signal.aborted).toBe(false);
    c4.abort();
    expect(second.params.signal.aborted).toBe(true);
    expect(((await rejection(v3)) as RelayDialError).httpStatus).toBe(0);
    expect(((await rejection(v4)) as RelayDialError).httpStatus).toBe(0);
    const late = createFakeConnection();
    second.resolve(late);
    await flush();
    expect(late.cancelled).toBe(1);

    // An already-aborted signal fails at once; the next live dial starts a fresh upstream.
    expect(((await rejection(shared(params({ signal: AbortSignal.abort() })))) as RelayDialError).httpStatus).toBe(0);
    void shared(params());
    await inner.dial(3);
    expect(inner.calls).toHaveLength(3);
  });

  it('ends every view when the upstream ends, after their buffered events, and dials again next time', async () => {
    const { inner, shared } = setupShared();
    const pending = [shared(params()), shared(params())];
    const upstream = createFakeConnection();
    (await inner.dial(1)).resolve(upstream);
    const [a, b] = await Promise.all(pending);
    upstream.push(part('r1', 1));
    upstream.push(part('r1', 2));
    upstream.drop();
    await flush();
    const [ra, rb] = await Promise.all([drain(a!), drain(b!)]);
    expect(labels(ra.events)).toEqual(['r1#1', 'r1#2']);
    expect(ra.error).toBeUndefined();
    expect(labels(rb.events)).toEqual(['r1#1', 'r1#2']);
    expect(upstream.cancelled).toBe(1);

    const next = shared(params());
    (await inner.dial(2)).resolve(createFakeConnection());
    a!.cancel();
    b!.cancel();
    expect(upstream.cancelled).toBe(1);
    (await next).cancel();
  });

  it('makes every view throw when the upstream throws, so the session sees a failure', async () => {
    const { inner, shared } = setupShared();
    const pending = [shared(params()), shared(params())];
    const boom = new Error('socket reset');
    let fail!: (err: unknown) => void;
    let cancels = 0;
    const upstream: RelayConnection = {
      snapshot: [part('r1', 1)],
      parts: {
        [Symbol.asyncIterator]: () => ({
          next: () =>
            new Promise<IteratorResult<ChatStreamEvent>>((_resolve, reject) => {
              fail = reject;
            }),
        }),
      },
      cancel: () => {
        cancels += 1;
      },
    };
    (await inner.dial(1)).resolve({ ...createFakeConnection(), conn: upstream });
    const views = await Promise.all(pending);
    fail(boom);
    const results = await Promise.all(views.map(drain));
    expect(results.map((r) => r.error)).toEqual([boom, boom]);
    expect(cancels).toBe(1);
    void shared(params());
    await inner.dial(2);
  });

  it('cancels the upstream once, when the last view cancels (cancel is idempotent)', async () => {
    const { inner, shared } = setupShared();
    const pending = [shared(params()), shared(params())];
    const upstream = createFakeConnection();
    (await inner.dial(1)).resolve(upstream);
    const [a, b] = await Promise.all(pending);
    a!.cancel();
    a!.cancel();
    expect(upstream.cancelled).toBe(0);
    upstream.push(part('r1', 1));
    expect(labels(await take(b!, 1))).toEqual(['r1#1']);
    expect((await drain(a!)).events).toEqual([]);

    // Stopping the iteration detaches like cancel().
    await b!.parts[Symbol.asyncIterator]().return?.();
    expect(upstream.cancelled).toBe(1);
    b!.cancel();
    expect(upstream.cancelled).toBe(1);
    void shared(params());
    await inner.dial(2);
  });

  it('keeps only the newest run: a joiner after a new run gets that run only', async () => {
    const { inner, shared } = setupShared();
    const first = shared(params());
    const upstream = createFakeConnection(runParts('r1', 1, 3));
    (await inner.dial(1)).resolve(upstream);
    await first;
    upstream.push(part('r2', 1));
    upstream.push(part('r2', 2));
    await flush();
    const fresh = await shared(params());
    expect(labels(fresh.snapshot)).toEqual(['r2#1', 'r2#2']);
    // A cursor in the old run: every part of the new run, as the peer would send.
    const old = await shared(params({ cursor: { runId: 'r1', afterSeq: 3 } }));
    expect(labels(old.snapshot)).toEqual(['r2#1', 'r2#2']);
    const current = await shared(params({ cursor: { runId: 'r2', afterSeq: 1 } }));
    expect(labels(current.snapshot)).toEqual(['r2#2']);
  });

  it('gives a joiner the overflowed window cannot serve a private connection with its own cursor', async () => {
    const { inner, shared } = setupShared(4);
    const first = shared(params());
    const upstream = createFakeConnection(runParts('r', 1, 3));
    (await inner.dial(1)).resolve(upstream);
    const a = await first;
    for (const p of runParts('r', 4, 6)) upstream.push(p);
    expect(labels(await take(a, 3))).toEqual(['r#4', 'r#5', 'r#6']); // the window now holds 3..6

    const cursor: RelayCursor = { runId: 'r', afterSeq: 1 };
    const privateSignal = new AbortController().signal;
    const behind = shared(params({ cursor, signal: privateSignal }));
    const call = await inner.dial(2);
    expect(call.params.cursor).toEqual(cursor);
    expect(call.params.signal).toBe(privateSignal);
    const own = createFakeConnection([part('r', 2)]);
    call.resolve(own);
    expect((await behind).snapshot).toEqual([part('r', 2)]);

    // No cursor needs the whole run: private too. A cursor inside the window shares.
    void shared(params());
    expect((await inner.dial(3)).params.cursor).toBeUndefined();
    const inside = await shared(params({ cursor: { runId: 'r', afterSeq: 2 } }));
    expect(labels(inside.snapshot)).toEqual(['r#3', 'r#4', 'r#5', 'r#6']);
    expect(inner.calls).toHaveLength(3);

    // A new run starts a full window again: no cursor shares.
    upstream.push(part('r2', 1));
    await flush();
    const next = await shared(params());
    expect(labels(next.snapshot)).toEqual(['r2#1']);
    expect(inner.calls).toHaveLength(3);
  });

  it('ends a view that falls too far behind, without affecting the others', async () => {
    const { inner, shared } = setupShared(3);
    const pending = [shared(params()), shared(params())];
    const upstream = createFakeConnection();
    (await inner.dial(1)).resolve(upstream);
    const [stuck, reader] = await Promise.all(pending);
    const live = reader!.parts[Symbol.asyncIterator]();
    const got: ChatStreamEvent[] = [];
    for (const p of runParts('r', 1, 5)) {
      upstream.push(p);
      got.push((await live.next()).value as ChatStreamEvent);
    }
    expect(labels(got)).toEqual(labels(runParts('r', 1, 5)));
    const stuckResult = await drain(stuck!);
    expect(stuckResult.events).toEqual([]); // ended at once: what it held is discarded, its session re-dials
    expect(String(stuckResult.error)).toContain('fell behind');
    expect(upstream.cancelled).toBe(0);
    upstream.push(part('r', 6));
    expect((await live.next()).value).toEqual(part('r', 6));
    reader!.cancel();
    expect(upstream.cancelled).toBe(1);
  });

  it('rejects a maxBufferedParts that is not a positive integer', () => {
    const { inner } = setupShared();
    expect(() => createSharedRelayDialer(inner.dialer, { maxBufferedParts: 0 })).toThrow(RangeError);
    expect(() => createSharedRelayDialer(inner.dialer, { maxBufferedParts: 1.5 })).toThrow(RangeError);
  });
});
