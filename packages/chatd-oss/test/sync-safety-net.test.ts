// Unit tests of createSyncSafetyNet with the mock clock and a scripted query: the interval, the lowest cursor per
// chat, who is asked to catch up, a failed query (logged, counted, asked again next tick), and follow/unfollow.
import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import type { ChatBehind, FollowedChat } from '../src/store/chats-behind.js';
import { createSyncSafetyNet } from '../src/subscribe/sync-safety-net.js';

const logger = { debug() {}, info() {}, warn() {}, error() {} };

function follower(delivered: bigint) {
  const f = { delivered, asked: 0, deliveredId: () => f.delivered, catchUp: () => void f.asked++ };
  return f;
}

describe('createSyncSafetyNet', () => {
  it('ticks on the clock every interval; asks once per tick with the lowest cursor of each chat; tells only the subscribers behind', async () => {
    const clock = createMockClock({ now: 0 });
    const asked: FollowedChat[][] = [];
    let answer: ChatBehind[] = [];
    const net = createSyncSafetyNet({ readChatsBehind: async (f) => (asked.push([...f]), answer), clock, logger, intervalMs: 1000 });
    const a1 = follower(5n);
    const a2 = follower(9n);
    const b = follower(3n);
    net.follow('a', a1);
    net.follow('a', a2);
    net.follow('b', b);
    net.start();
    net.start(); // idempotent: one interval
    await clock.advance(999);
    expect(asked).toEqual([]);
    answer = [{ chatId: 'a', newestId: 7n }];
    await clock.advance(1);
    expect(asked).toEqual([[{ chatId: 'a', deliveredId: 5n }, { chatId: 'b', deliveredId: 3n }]]);
    // a1 (at 5) is behind 7; a2 (at 9) is not; b's chat had nothing newer.
    expect([a1.asked, a2.asked, b.asked]).toEqual([1, 0, 0]);
    expect(net.metrics()).toEqual({ ticks: 1, catchUps: 1, failures: 0, followedChats: 2 });
    net.stop();
    await clock.advance(5000);
    expect(asked).toHaveLength(1);
  });

  it('a failed query is counted and logged, never thrown; the next tick asks again', async () => {
    const clock = createMockClock({ now: 0 });
    const warnings: unknown[] = [];
    let fail = true;
    const net = createSyncSafetyNet({
      readChatsBehind: async () => {
        if (fail) throw new Error('database down');
        return [{ chatId: 'a', newestId: 2n }];
      },
      clock,
      logger: { ...logger, warn: (o: unknown) => void warnings.push(o) },
      intervalMs: 1000,
    });
    const a = follower(1n);
    net.follow('a', a);
    net.start();
    await clock.advance(1000);
    expect(net.metrics()).toMatchObject({ ticks: 1, failures: 1, catchUps: 0 });
    expect(warnings).toHaveLength(1);
    fail = false;
    await clock.advance(1000);
    expect(net.metrics()).toMatchObject({ ticks: 2, failures: 1, catchUps: 1 });
    expect(a.asked).toBe(1);
    net.stop();
  });

  it('unfollowing is idempotent and forgets a chat with its last subscriber; nothing followed asks nothing', async () => {
    const clock = createMockClock({ now: 0 });
    let queries = 0;
    const net = createSyncSafetyNet({ readChatsBehind: async () => (queries++, []), clock, logger });
    const leave1 = net.follow('a', follower(1n));
    const leave2 = net.follow('a', follower(2n));
    leave1();
    leave1();
    expect(net.metrics().followedChats).toBe(1);
    leave2();
    expect(net.metrics().followedChats).toBe(0);
    await net.tick();
    expect(queries).toBe(0);
    expect(() => createSyncSafetyNet({ readChatsBehind: async () => [], clock, logger, intervalMs: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
