// Unit tests of createTurnSharedRead: calls for one key in one event-loop turn share one read started at the
// end of that turn; a read that has started is never joined; other keys read apart; a failure reaches every
// caller that shared the read.
import { describe, expect, it } from 'vitest';
import { createTurnSharedRead } from '../src/subscribe/turn-shared-read.js';

/** Resolves after the current turn's immediates (where shared reads start). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('createTurnSharedRead', () => {
  it('calls for one key in one turn share one read, started only at the end of the turn', async () => {
    const shared = createTurnSharedRead<string[]>();
    let started = 0;
    const read = async () => {
      started++;
      return ['a', 'b'];
    };
    const calls = [shared('chat:1', read), shared('chat:1', read), shared('chat:1', read)];
    expect(started).toBe(0); // nothing starts while callers are still arriving
    const results = await Promise.all(calls);
    expect(started).toBe(1);
    expect(results[0]).toBe(results[1]);
    expect(results[2]).toEqual(['a', 'b']);
    expect(shared.counters).toEqual({ started: 1, shared: 2 });
  });

  it('a call after the read started gets a read of its own; other keys never share', async () => {
    const shared = createTurnSharedRead<number>();
    let n = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = async () => {
      const mine = ++n;
      await gate;
      return mine;
    };
    const first = shared('k', slow);
    await nextTurn(); // the first read has started and is still running
    expect(n).toBe(1);
    const second = shared('k', slow);
    const other = shared('other', slow);
    await nextTurn();
    release();
    expect(await first).toBe(1);
    expect([await second, await other].sort()).toEqual([2, 3]);
    expect(shared.counters).toEqual({ started: 3, shared: 0 });
  });

  it('a failed read rejects every caller that shared it, and the next turn reads again', async () => {
    const shared = createTurnSharedRead<number>();
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('database gone');
    };
    const results = await Promise.allSettled([shared('k', failing), shared('k', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await shared('k', async () => 7)).toBe(7);
  });
});
