import { createMockClock, type MockClock } from '@chatd/clock';
import { partText } from '@chatd/protocol';
import { chatStreamNotifyChannel, createMemoryPubSub } from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { SAVE_RETRY_DELAYS_MS, SAVE_RETRY_TIMER_TAG } from '../src/worker/chat-run.js';
import { HEARTBEAT_TIMER_TAG, STALE_RECOVERY_TIMER_TAG, createChatWorker, type ChatWorker } from '../src/worker/chat-worker.js';
import { createGateModel, recordStream, streamTokens, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(12);
const workers = bed.workers;
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

const text = (t: string) => ({ type: 'text' as const, text: t });

async function newChat(store: ChatStore, prompt: string) {
  const { chat } = await store.createChat({ ownerId, content: [text(prompt)] });
  return chat.id;
}

function track(w: ChatWorker): ChatWorker {
  workers.push(w);
  return w;
}

/** Fires the worker's timers one by one up to `untilMs` of mock time, each time waiting for its ticker to re-arm. */
async function runTimersUntil(clock: MockClock, untilMs: number, tags: string[]): Promise<void> {
  for (;;) {
    const next = clock.pendingTimers().find((t) => t.tag !== undefined && tags.includes(t.tag));
    if (!next || next.dueAtMs > untilMs) return;
    await clock.advance(next.dueAtMs - clock.nowMs());
    // Several tickers may have fired at that instant: wait until each has finished and re-armed.
    const now = clock.nowMs();
    await waitFor(() => tags.every((tag) => clock.pendingTimers().some((t) => t.tag === tag && t.dueAtMs > now)), { what: 'tickers re-armed' });
  }
}

describe('chat worker heartbeat and recovery', () => {
  it('heartbeats keep a long run from being recovered as stale', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const gate = createGateModel(['thinking'], [' done']);
    const w = track(
      createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-1', model: gate.provider, heartbeatIntervalMs: 30_000, staleAfterMs: 60_000, acquireIntervalMs: 600_000 }),
    );
    const chatId = await newChat(store, 'a long one');
    const end = w.waitForRunEnd(chatId);
    w.start();
    await gate.atGate;
    const runId = w.activeRuns()[0]!.runId;
    const start = clock.nowMs();
    await runTimersUntil(clock, start + 300_000, [HEARTBEAT_TIMER_TAG, STALE_RECOVERY_TIMER_TAG]);
    const { rows } = await pool.query<{ heartbeat_at: Date; run_id: string; status: string }>('SELECT heartbeat_at, run_id, status FROM chats WHERE id = $1', [chatId]);
    expect(rows[0]).toEqual({ heartbeat_at: new Date(start + 300_000), run_id: runId, status: 'running' });
    gate.release();
    expect((await end).outcome).toBe('finished');
    expect((await store.getRun(runId))?.outcome).toBe('finished');
  });

  it('recovers a dead worker’s chat at startup and runs it at once', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const pubsub = createMemoryPubSub();
    const chatId = await newChat(store, 'left behind');
    const [dead] = await store.acquireChats('dead-worker');
    expect(dead?.chat.id).toBe(chatId);
    await clock.advance(301_000); // no timers yet: the dead worker's heartbeat is simply 5 min old
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 3 });
    const w = track(createChatWorker({ store, pubsub, publisher: createChatPublisher({ pubsub, clock }), live: createLiveStreams(), clock, workerId: 'worker-new', model: demo }));
    const end = w.waitForRunEnd(chatId);
    w.start();
    await streamTokens(clock, 3);
    expect((await end).outcome).toBe('finished');
    expect((await store.getRun(dead!.runId))?.outcome).toBe('lost');
    await stream.until((n) => n.some((x) => x.status === 'waiting'));
    expect(stream.statuses()).toEqual(['pending', 'running', 'waiting']);
  });

  it('an interrupt-send racing the end of the run is never lost (real concurrency, several rounds)', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const pubsub = createMemoryPubSub();
    const publisher = createChatPublisher({ pubsub, clock });
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 3 });
    const w = track(createChatWorker({ store, pubsub, publisher, live: createLiveStreams(), clock, workerId: 'worker-1', model: demo, acquireIntervalMs: 600_000 }));
    w.start();
    for (let round = 0; round < 6; round++) {
      const chatId = await newChat(store, `round ${round}`);
      const end = w.waitForRunEnd(chatId);
      w.wake();
      await streamTokens(clock, 2);
      const last = await clock.waitForTimer({ tag: 'demo-token' });
      // The last token (then the save and the run's end) and the send race each other for real.
      const [, sent] = await Promise.all([
        clock.advance(last.dueAtMs - clock.nowMs()),
        store.sendMessage({ chatId, content: [text(`interrupting ${round}`)], busyBehavior: 'interrupt' }).then(async (r) => {
          await publisher.publishChange(r.change);
          return r;
        }),
      ]);
      const first = await end;
      expect(['finished', 'interrupted']).toContain(first.outcome);
      // Whatever won, the message is in history (promoted or inserted directly) and the chat is not idle.
      const history = [...(await store.listMessages({ chatId })).messages].reverse();
      expect(history.filter((m) => m.role === 'user').map((m) => partText(m.content?.[0]))).toEqual([`round ${round}`, `interrupting ${round}`]);
      expect(await store.getQueue(chatId)).toEqual([]);
      expect(['pending', 'running']).toContain((await store.getChat(chatId))?.status);
      expect(sent.queued || sent.message !== undefined).toBe(true);
      // The next run answers it.
      const next = w.waitForRunEnd(chatId);
      w.wake();
      await streamTokens(clock, 3);
      expect((await next).outcome).toBe('finished');
      expect((await store.getChat(chatId))?.status).toBe('waiting');
    }
  });

  it('a failed save is retried on the clock (1 s, 2 s) and the run ends normally', async () => {
    const clock = createMockClock();
    const base = createChatStore({ pool, clock });
    let persistFailures = 1;
    let finishFailures = 1;
    const store: ChatStore = {
      ...base,
      async persistMessage(input) {
        if (persistFailures-- > 0) throw new Error('connection reset');
        return base.persistMessage(input);
      },
      async finishRun(input) {
        if (finishFailures-- > 0) throw new Error('connection reset');
        return base.finishRun(input);
      },
    };
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 2 });
    const w = track(createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-1', model: demo }));
    const chatId = await newChat(base, 'retry the save');
    const end = w.waitForRunEnd(chatId);
    w.start();
    await streamTokens(clock, 2);
    for (const expected of [1_000, 1_000]) {
      const t = await clock.waitForTimer({ tag: SAVE_RETRY_TIMER_TAG });
      expect(t.delayMs).toBe(expected);
      await clock.advance(t.dueAtMs - clock.nowMs());
    }
    const result = await end;
    expect(result.outcome).toBe('finished');
    expect((await base.listMessages({ chatId })).messages.map((m) => m.role)).toEqual(['assistant', 'user']);
    expect((await base.getChat(chatId))?.status).toBe('waiting');
  });

  it('a run whose end keeps failing on the database is abandoned, then its own worker recovers the chat and answers it', async () => {
    const clock = createMockClock();
    const base = createChatStore({ pool, clock });
    let failures = SAVE_RETRY_DELAYS_MS.length + 1;
    const store: ChatStore = {
      ...base,
      async finishRun(input) {
        if (failures-- > 0) throw new Error('connection terminated unexpectedly');
        return base.finishRun(input);
      },
    };
    const pubsub = createMemoryPubSub();
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 3 });
    const w = track(
      createChatWorker({ store, pubsub, live: createLiveStreams(), clock, workerId: 'worker-1', model: demo, staleAfterMs: 60_000, heartbeatIntervalMs: 30_000, acquireIntervalMs: 600_000 }),
    );
    const chatId = await newChat(base, 'flaky database');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const first = w.waitForRunEnd(chatId);
    w.start();
    await streamTokens(clock, 3);
    for (const delayMs of SAVE_RETRY_DELAYS_MS) {
      const t = await clock.waitForTimer({ tag: SAVE_RETRY_TIMER_TAG });
      expect(t.delayMs).toBe(delayMs);
      await clock.advance(t.dueAtMs - clock.nowMs());
    }
    const abandoned = await first;
    expect(abandoned.outcome).toBe('abandoned');
    expect((await base.getChat(chatId))?.status).toBe('running');
    expect(w.activeRuns()).toEqual([]);

    const second = w.waitForRunEnd(chatId);
    await runTimersUntil(clock, clock.nowMs() + 75_000, [HEARTBEAT_TIMER_TAG, STALE_RECOVERY_TIMER_TAG]);
    // Recovery at 72 s (the first pass 60 s after the run's last heartbeat) hands it back; the worker takes it again.
    await waitFor(() => w.activeRuns().length === 1, { what: 'the chat re-acquired' });
    await streamTokens(clock, 3);
    expect((await second).outcome).toBe('finished');
    expect((await base.getRun(abandoned.runId))?.outcome).toBe('lost');
    expect(w.metrics()).toMatchObject({ recovered: 1, runsEnded: { abandoned: 1, finished: 1 } });
    const history = [...(await base.listMessages({ chatId })).messages].reverse();
    // The abandoned run's reply was saved before its end failed; the recovered run answers again.
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'assistant']);
    await stream.until((n) => n.some((x) => x.status === 'waiting'));
    expect(stream.statuses()).toEqual(['running', 'pending', 'running', 'waiting']);
  });
});
