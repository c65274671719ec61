import { createMockClock } from '@chatd/clock';
import { partText } from '@chatd/protocol';
import { chatStreamNotifyChannel, createMemoryPubSub, decodeChatStreamNotify } from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { isChatdError } from '../src/chatd-error.js';
import { createLiveStreams, type LiveSignal, type LiveStreams, type RunWriter } from '../src/live/live-buffer.js';
import { createDemoLanguageModel, demoReplyTokens } from '../src/model/demo-model.js';
import { createTestModel, textDelta } from './helpers/test-models.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { createChatWorker, HEARTBEAT_TIMER_TAG, STALE_RECOVERY_TIMER_TAG, type ChatWorker } from '../src/worker/chat-worker.js';
import { createGateModel, pauseNextFinishRun, recordingPubSub, recordStream, streamTokens, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(12);
const workers = bed.workers;
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

const text = (t: string) => ({ type: 'text' as const, text: t });
const REPLY_TOKENS = 5;
/** Timings that keep a worker's own loops quiet for the length of a test (it "stopped heartbeating"). */
const QUIET = { heartbeatIntervalMs: 600_000, acquireIntervalMs: 600_000, staleRecoveryIntervalMs: 600_000 };

async function newChat(store: ChatStore, prompt: string) {
  const { chat, message } = await store.createChat({ ownerId, content: [text(prompt)] });
  return { chatId: chat.id, firstMessageId: message.id };
}

function track<W extends ChatWorker>(w: W): W {
  workers.push(w);
  return w;
}

/** Live streams that keep every run writer they hand out, so a test can check a writer was ended. */
function capturingLive(): LiveStreams & { writers: RunWriter[] } {
  const inner = createLiveStreams();
  const writers: RunWriter[] = [];
  return {
    writers,
    begin(chatId, runId) {
      const w = inner.begin(chatId, runId);
      writers.push(w);
      return w;
    },
    subscribe: (chatId, listener, afterSeq) => inner.subscribe(chatId, listener, afterSeq),
    currentRun: (chatId) => inner.currentRun(chatId),
    size: () => inner.size(),
  };
}

async function history(store: ChatStore, chatId: string) {
  return [...(await store.listMessages({ chatId })).messages].reverse();
}

describe('chat worker handover', () => {
  it('a worker that stops heartbeating loses its chat to another worker; its late writes and parts are refused', async () => {
    const clock = createMockClock();
    const shared = createMemoryPubSub();
    // Worker A is partitioned: it publishes (recorded) but hears nothing, like a replica cut off from the others.
    const aPubSub = recordingPubSub(shared, createMemoryPubSub());
    const storeA = createChatStore({ pool, clock });
    const storeB = createChatStore({ pool, clock });
    const gate = createGateModel(['Partial', ' words'], [' late', ' ending']);
    const liveA = capturingLive();
    const liveB = createLiveStreams();
    const a = track(createChatWorker({ store: storeA, pubsub: aPubSub, live: liveA, clock, workerId: 'worker-a', model: gate.provider, staleAfterMs: 60_000, ...QUIET }));
    const { chatId } = await newChat(storeA, 'who keeps this chat');
    const aSignals: LiveSignal[] = [];
    liveA.subscribe(chatId, (s) => aSignals.push(s));
    const aEnd = a.waitForRunEnd(chatId);
    a.start();
    await gate.atGate;
    const aRunId = a.activeRuns()[0]!.runId;
    const aPublishedBefore = aPubSub.published.length;

    const stream = await recordStream(shared, chatStreamNotifyChannel(chatId));
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: REPLY_TOKENS });
    const b = track(createChatWorker({ store: storeB, pubsub: shared, live: liveB, clock, workerId: 'worker-b', model: demo, staleAfterMs: 60_000 }));
    const bEnd = b.waitForRunEnd(chatId);
    b.start();
    // Drive B's stale recovery (every 12 s) until A's run is 60 s without a heartbeat and B takes the chat.
    // A's own (quiet) tickers share the tag, so B's are told apart by their 12 s period.
    let due = (await clock.waitForTimer({ tag: STALE_RECOVERY_TIMER_TAG, delayMs: 12_000 })).dueAtMs;
    for (let i = 0; i < 10; i++) {
      await clock.advance(due - clock.nowMs());
      const next = due + 12_000;
      // The ticker re-arms once the pass has finished.
      await waitFor(() => clock.pendingTimers().some((t) => t.tag === STALE_RECOVERY_TIMER_TAG && t.dueAtMs === next), { what: 'recovery pass' });
      due = next;
      if ((await storeB.getRun(aRunId))?.outcome === 'lost') break;
    }
    expect((await storeB.getRun(aRunId))?.outcome).toBe('lost');
    await streamTokens(clock, REPLY_TOKENS);
    const bResult = await bEnd;
    expect(bResult.outcome).toBe('finished');

    // A's model now finishes: its reply is refused (fenced) and it publishes nothing at all.
    gate.release();
    const aResult = await aEnd;
    expect(aResult.outcome).toBe('fenced');
    expect(aPubSub.published.slice(aPublishedBefore)).toEqual([]);
    expect(aSignals.at(-1)).toEqual({ kind: 'run_ended', runId: aRunId, persisted: false });
    expect(liveA.currentRun(chatId)).toBeUndefined();
    const aWriter = liveA.writers.find((w) => w.runId === aRunId)!;
    expect(aWriter.ended).toBe(true);
    expect(aWriter.append(text('later still'), 'assistant')).toBeUndefined();
    const late = await storeA.persistMessage({ chatId, runId: aRunId, role: 'assistant', content: [text('too late')] }).catch((e: unknown) => e);
    expect(isChatdError(late, 'RUN_FENCED')).toBe(true);

    const msgs = await history(storeB, chatId);
    expect(msgs.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(msgs[1]?.content).toEqual([text(demoReplyTokens('who keeps this chat', REPLY_TOKENS).join(''))]);
    await stream.until((n) => n.some((x) => x.status === 'waiting'));
    expect(stream.notes.filter((n) => n.status !== undefined)).toEqual([
      { status: 'pending' },
      { status: 'running', worker_id: 'worker-b', run_id: expect.any(String) },
      { status: 'waiting' },
    ]);
  });

  it('a heartbeat that updates no row cancels the run as taken', async () => {
    const clock = createMockClock();
    const wPubSub = recordingPubSub(createMemoryPubSub(), createMemoryPubSub());
    const store = createChatStore({ pool, clock });
    const gate = createGateModel(['Some', ' text'], []);
    // What the run had published when it ended (its end nudges acquisition, and a new run may follow).
    let publishedAtEnd = -1;
    const w = track(
      createChatWorker({
        store,
        pubsub: wPubSub,
        live: createLiveStreams(),
        clock,
        workerId: 'worker-w',
        model: gate.provider,
        heartbeatIntervalMs: 30_000,
        acquireIntervalMs: 600_000,
        onRunEnd: () => {
          if (publishedAtEnd < 0) publishedAtEnd = wPubSub.published.length;
        },
      }),
    );
    const { chatId, firstMessageId } = await newChat(store, 'edit me later');
    const end = w.waitForRunEnd(chatId);
    w.start();
    await gate.atGate;
    const firstRunId = w.activeRuns()[0]!.runId;
    const before = wPubSub.published.length;
    // An edit elsewhere takes the chat (its run ends, the chat is pending); the partitioned worker hears nothing.
    await store.editMessage({ chatId, messageId: firstMessageId, content: [text('edited')] });
    const hb = await clock.waitForTimer({ tag: HEARTBEAT_TIMER_TAG });
    await clock.advance(hb.dueAtMs - clock.nowMs());
    const result = await end;
    expect(result.cancelReason).toBe('taken');
    expect(result.outcome).toBe('fenced');
    expect(publishedAtEnd).toBe(before);
    expect((await history(store, chatId)).map((m) => m.content)).toEqual([[text('edited')]]);
    expect((await store.getChatRunState(chatId))?.runId).not.toBe(firstRunId);
  });

  it('clean shutdown hands the chat back as pending at once with the partial reply saved', async () => {
    const clock = createMockClock();
    const pubsub = createMemoryPubSub();
    const store = createChatStore({ pool, clock });
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: REPLY_TOKENS });
    const w1 = track(createChatWorker({ store, pubsub, live: createLiveStreams(), clock, workerId: 'worker-1', model: demo }));
    const { chatId } = await newChat(store, 'shut down midway');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const end = w1.waitForRunEnd(chatId);
    w1.start();
    await streamTokens(clock, 3);
    await clock.waitForTimer({ tag: 'demo-token' });
    await w1.stop();
    const result = await end;
    expect(result.outcome).toBe('requeued');
    expect(result.cancelReason).toBe('shutdown');

    const chat = await store.getChat(chatId);
    expect(chat?.status).toBe('pending');
    expect(chat?.worker_id).toBeNull();
    expect((await store.getRun(result.runId))?.outcome).toBe('interrupted');
    const msgs = await history(store, chatId);
    expect(msgs.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(msgs[1]?.content).toEqual([text(demoReplyTokens('shut down midway', REPLY_TOKENS).slice(0, 3).join(''))]);
    await stream.until((n) => n.some((x) => x.status === 'pending'));
    expect(stream.statuses()).toEqual(['running', 'pending']);
    expect(clock.pendingTimers()).toEqual([]);

    // Another replica picks it up at once, without waiting for the stale timeout.
    const w2 = track(createChatWorker({ store, pubsub, live: createLiveStreams(), clock, workerId: 'worker-2', model: demo }));
    const end2 = w2.waitForRunEnd(chatId);
    w2.start();
    await streamTokens(clock, REPLY_TOKENS);
    expect((await end2).outcome).toBe('finished');
  });

  it('seed 002 errChatTakenByOtherWorker: a run whose chat was taken between its save and its end publishes nothing', async () => {
    const clock = createMockClock();
    const wPubSub = recordingPubSub(createMemoryPubSub(), createMemoryPubSub());
    const base = createChatStore({ pool, clock });
    const paused = pauseNextFinishRun(base);
    const gate = createGateModel(['A reply'], [' that completes']);
    const w = track(createChatWorker({ store: paused.store, pubsub: wPubSub, live: createLiveStreams(), clock, workerId: 'worker-w', model: gate.provider, ...QUIET }));
    const { chatId } = await newChat(base, 'race the takeover');
    const end = w.waitForRunEnd(chatId);
    w.start();
    await gate.atGate;
    gate.release();
    await paused.atGate; // the reply is saved; the run is about to end
    const before = wPubSub.published.length;
    expect(wPubSub.published.map((p) => decodeChatStreamNotify(p.payload))).toContainEqual(expect.objectContaining({ after_message_id: expect.any(Number) }));

    // Another worker takes the chat: w's run goes stale and is recovered, then acquired elsewhere.
    await clock.advance(301_000);
    const other = createChatStore({ pool, clock });
    expect(await other.recoverStaleChats(300_000)).toHaveLength(1);
    expect(await other.acquireChats('worker-x')).toHaveLength(1);
    paused.release();
    const result = await end;
    expect(result.outcome).toBe('fenced');
    expect(wPubSub.published.slice(before)).toEqual([]);
    const chat = await base.getChat(chatId);
    expect(chat?.status).toBe('running');
    expect(chat?.worker_id).toBe('worker-x');
  });

  it('seed 002 setChatWaiting race: an interrupt-send while the run ends is never lost and leaves the chat pending', async () => {
    const clock = createMockClock();
    const pubsub = createMemoryPubSub();
    const base = createChatStore({ pool, clock });
    const publisher = createChatPublisher({ pubsub, clock });
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: REPLY_TOKENS });

    // Order 1: the send commits while the run's end is in flight (its reply already saved).
    const paused = pauseNextFinishRun(base);
    const w = track(createChatWorker({ store: paused.store, pubsub, live: createLiveStreams(), clock, workerId: 'worker-1', model: demo, acquireIntervalMs: 600_000 }));
    const { chatId } = await newChat(base, 'first');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const end1 = w.waitForRunEnd(chatId);
    w.start();
    await streamTokens(clock, REPLY_TOKENS);
    await paused.atGate;
    const sent = await base.sendMessage({ chatId, content: [text('second')], busyBehavior: 'interrupt' });
    expect(sent.queued).toBe(true);
    await publisher.publishChange(sent.change);
    paused.release();
    const r1 = await end1;
    expect(r1.outcome).toBe('finished');
    expect(r1.status).toBe('pending');
    let msgs = await history(base, chatId);
    expect(msgs.map((m) => [m.role, partText(m.content?.[0])])).toEqual([
      ['user', 'first'],
      ['assistant', demoReplyTokens('first', REPLY_TOKENS).join('')],
      ['user', 'second'],
    ]);
    expect(await base.getQueue(chatId)).toEqual([]);
    const end2 = w.waitForRunEnd(chatId);
    await streamTokens(clock, REPLY_TOKENS);
    expect((await end2).outcome).toBe('finished');
    await stream.until((n) => n.some((x) => x.status === 'waiting'));
    expect(stream.statuses()).toEqual(['running', 'pending', 'running', 'waiting']);

    // Order 2: the run has ended (waiting) when the interrupt-send arrives: it goes straight in as pending.
    const late = await base.sendMessage({ chatId, content: [text('third')], busyBehavior: 'interrupt' });
    expect(late.queued).toBe(false);
    expect((await base.getChat(chatId))?.status).toBe('pending');
    msgs = await history(base, chatId);
    expect(msgs.at(-1)?.content).toEqual([text('third')]);
  });

  it('clean shutdown does not wait for a model that ignores cancellation', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    let reached!: () => void;
    const atHang = new Promise<void>((r) => (reached = r));
    const deaf = createTestModel('deaf', async function* () {
      yield textDelta('half an answer');
      reached();
      await new Promise(() => {}); // never settles and never looks at the signal
    });
    const w = track(createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-1', model: deaf }));
    const { chatId } = await newChat(store, 'hang on');
    const end = w.waitForRunEnd(chatId);
    w.start();
    await atHang;
    await w.stop();
    expect((await end).outcome).toBe('requeued');
    expect((await store.getChat(chatId))?.status).toBe('pending');
    expect((await history(store, chatId)).at(-1)?.content).toEqual([text('half an answer')]);
  });

  it('an edit mid-run stops the run without saving its partial reply, then the edited message is answered', async () => {
    const clock = createMockClock();
    const pubsub = createMemoryPubSub();
    const store = createChatStore({ pool, clock });
    const publisher = createChatPublisher({ pubsub, clock });
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: REPLY_TOKENS });
    const w = track(createChatWorker({ store, pubsub, live: createLiveStreams(), clock, workerId: 'worker-1', model: demo }));
    const { chatId, firstMessageId } = await newChat(store, 'original question');
    const first = w.waitForRunEnd(chatId);
    w.start();
    await streamTokens(clock, 2);
    await clock.waitForTimer({ tag: 'demo-token' });
    const edited = await store.editMessage({ chatId, messageId: firstMessageId, content: [text('edited question')] });
    await publisher.publishChange(edited.change);
    const r1 = await first;
    expect(r1.cancelReason).toBe('taken');
    expect(r1.outcome).toBe('fenced');
    // The fenced run nudges acquisition: the edited chat is taken again without waiting for the next tick.
    const second = w.waitForRunEnd(chatId);
    await streamTokens(clock, REPLY_TOKENS);
    expect((await second).outcome).toBe('finished');
    const msgs = await history(store, chatId);
    expect(msgs.map((m) => [m.role, partText(m.content?.[0])])).toEqual([
      ['user', 'edited question'],
      ['assistant', demoReplyTokens('edited question', REPLY_TOKENS).join('')],
    ]);
  });
});
