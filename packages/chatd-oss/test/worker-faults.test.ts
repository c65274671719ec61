import { createMockClock } from '@chatd/clock';
import { createMemoryPubSub } from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import type { ChatStore } from '../src/store/chat-store.js';
import { ACQUIRE_TIMER_TAG, STALE_RECOVERY_TIMER_TAG, createChatWorker } from '../src/worker/chat-worker.js';

let unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('chat worker loops under database faults', () => {
  it('logs failed acquisitions and recoveries, never throws, and keeps ticking', async () => {
    const clock = createMockClock();
    let acquireCalls = 0;
    let recoverCalls = 0;
    const store = {
      async acquireChats() {
        acquireCalls++;
        throw new Error('connection refused');
      },
      async recoverStaleChats() {
        recoverCalls++;
        throw new Error('connection refused');
      },
    } as unknown as ChatStore;
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_o: object, m?: string) => warnings.push(m ?? ''), error: (_o: object, m?: string) => warnings.push(m ?? '') };
    const worker = createChatWorker({
      store,
      pubsub: createMemoryPubSub(),
      live: createLiveStreams(),
      clock,
      logger,
      workerId: 'w',
      model: createDemoLanguageModel({ clock }),
      staleAfterMs: 50_000,
    });
    worker.start();
    await waitFor(() => acquireCalls === 1 && recoverCalls === 1, { what: 'start-up passes' });
    for (let i = 0; i < 3; i++) {
      const t = await clock.waitForTimer({ tag: ACQUIRE_TIMER_TAG });
      await clock.advance(t.dueAtMs - clock.nowMs());
      await waitFor(() => acquireCalls === i + 2, { what: `acquire pass ${i + 2}` });
    }
    const r = await clock.waitForTimer({ tag: STALE_RECOVERY_TIMER_TAG });
    expect(r.delayMs).toBe(10_000);
    await clock.advance(r.dueAtMs - clock.nowMs());
    await waitFor(() => recoverCalls === 2, { what: 'second recovery pass' });
    await waitFor(() => worker.metrics().recoveryFailures === 2, { what: 'failures counted' });
    expect(worker.metrics().acquireFailures).toBeGreaterThanOrEqual(4);
    expect(warnings).toContain('acquiring chats failed');
    expect(warnings).toContain('stale chat recovery failed');
    await worker.stop();
    expect(clock.pendingTimers()).toEqual([]);
    expect(unhandled).toEqual([]);
  });

  it('rejects unusable timings at construction', () => {
    const clock = createMockClock();
    const base = { store: {} as ChatStore, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'w', model: createDemoLanguageModel({ clock }) };
    expect(() => createChatWorker({ ...base, heartbeatIntervalMs: 0 })).toThrow(RangeError);
    expect(() => createChatWorker({ ...base, maxChatsPerAcquire: 1.5 })).toThrow(RangeError);
  });
});
