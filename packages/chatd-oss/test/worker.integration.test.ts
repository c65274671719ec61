import { createMockClock, type MockClock } from '@chatd/clock';
import { partText, type Chat, type ChatStreamRetry } from '@chatd/protocol';
import {
  chatEventChannel,
  chatStreamNotifyChannel,
  createMemoryPubSub,
  decodeChatEvent,
  decodeInboxNotificationEvent,
  type ChatEvent,
  inboxNotificationForOwnerEventChannel,
} from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLiveStreams, type LiveSignal } from '../src/live/live-buffer.js';
import { createDemoLanguageModel, demoReplyTokens } from '../src/model/demo-model.js';
import { ModelProviderError } from '../src/model/model-error.js';
import type { LanguageModelV3, LanguageModelV3CallOptions } from '@ai-sdk/provider';
import type { ResolvedModel } from '../src/worker/chat-run.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { RETRY_BACKOFF_TIMER_TAG } from '../src/worker/chat-run.js';
import { ACQUIRE_TIMER_TAG, createChatWorker } from '../src/worker/chat-worker.js';
import { createTestModel, finishPart, textDelta } from './helpers/test-models.js';
import { createFailingModel, driveTimersUntil, recordStream, streamTokens, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
const workers = bed.workers;
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

const text = (t: string) => ({ type: 'text' as const, text: t });
const REPLY_TOKENS = 5;

function setup(
  model?: (clock: MockClock) => LanguageModelV3 | ((chat: Chat) => ResolvedModel),
  extra: { maxChatsPerAcquire?: number; systemPrompt?: (chat: Chat) => Promise<string> } = {},
) {
  const clock = createMockClock();
  const store: ChatStore = createChatStore({ pool, clock });
  const pubsub = createMemoryPubSub();
  const live = createLiveStreams();
  const publisher = createChatPublisher({ pubsub, clock });
  const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: REPLY_TOKENS });
  const worker = createChatWorker({ store, pubsub, live, clock, workerId: 'worker-1', model: model ? model(clock) : demo, ...extra });
  workers.push(worker);
  return { clock, store, pubsub, live, publisher, worker, demo };
}

async function newChat(store: ChatStore, prompt: string) {
  const { chat } = await store.createChat({ ownerId, content: [text(prompt)] });
  return chat.id;
}

describe('chat worker', () => {
  it('streams a reply as parts with seq and run_id, then persists it as one message', async () => {
    const { clock, store, pubsub, live, worker } = setup();
    const chatId = await newChat(store, 'tell me about queues');
    const signals: LiveSignal[] = [];
    live.subscribe(chatId, (s) => signals.push(s));
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    await streamTokens(clock, REPLY_TOKENS);
    const result = await ended;

    expect(result.outcome).toBe('finished');
    const tokens = demoReplyTokens('tell me about queues', REPLY_TOKENS);
    const parts = signals.flatMap((s) => (s.kind === 'part' ? [s.part] : []));
    expect(parts.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(parts.map((p) => p.runId))).toEqual(new Set([result.runId]));
    expect(parts.map((p) => partText(p.event.message_part.part))).toEqual(tokens);
    expect(parts.every((p) => p.event.message_part.role === 'assistant')).toBe(true);
    expect(signals.at(-1)).toEqual({ kind: 'run_ended', runId: result.runId, persisted: true });

    const page = await store.listMessages({ chatId });
    const [reply, prompt] = page.messages;
    expect(page.messages).toHaveLength(2);
    expect(prompt?.role).toBe('user');
    expect(reply?.role).toBe('assistant');
    expect(reply?.content).toEqual([text(tokens.join(''))]);
    expect(reply?.usage?.output_tokens).toBe(REPLY_TOKENS);
    expect(result.messageIds).toEqual([reply?.id]);

    await stream.until((n) => n.some((x) => x.status === 'waiting'), 'waiting');
    expect(stream.notes).toEqual([
      { status: 'running', worker_id: 'worker-1', run_id: result.runId },
      { after_message_id: reply!.id - 1 },
      { status: 'waiting' },
    ]);
    const chat = await store.getChat(chatId);
    expect(chat?.status).toBe('waiting');
    expect(chat?.worker_id).toBeNull();
    expect((await store.getRun(result.runId))?.outcome).toBe('finished');
  });

  it('an interrupt keeps the partial reply, then runs the queued message without showing waiting in between', async () => {
    const { clock, store, pubsub, publisher, worker } = setup();
    const chatId = await newChat(store, 'first question');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const firstEnd = worker.waitForRunEnd(chatId);
    worker.start();
    await streamTokens(clock, 3);
    // Let the third token reach the buffer before interrupting.
    await clock.waitForTimer({ tag: 'demo-token' });

    const sent = await store.sendMessage({ chatId, content: [text('second question')], busyBehavior: 'interrupt' });
    expect(sent.queued).toBe(true);
    await publisher.publishChange(sent.change);
    const first = await firstEnd;
    expect(first.outcome).toBe('interrupted');
    expect(first.cancelReason).toBe('interrupt');

    const secondEnd = worker.waitForRunEnd(chatId);
    await streamTokens(clock, REPLY_TOKENS);
    const second = await secondEnd;
    expect(second.outcome).toBe('finished');

    const page = await store.listMessages({ chatId });
    const history = [...page.messages].reverse();
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(history[1]?.content).toEqual([text(demoReplyTokens('first question', REPLY_TOKENS).slice(0, 3).join(''))]);
    expect(history[2]?.content).toEqual([text('second question')]);
    expect(history[3]?.content).toEqual([text(demoReplyTokens('second question', REPLY_TOKENS).join(''))]);
    expect(page.queued_messages).toEqual([]);

    await stream.until((n) => n.filter((x) => x.status === 'waiting').length > 0, 'final waiting');
    expect(stream.statuses()).toEqual(['running', 'pending', 'running', 'waiting']);
    expect((await store.getChat(chatId))?.status).toBe('waiting');
  });

  it('retries a retryable model error with 1000 then 2000 ms of backoff and retry events, then succeeds', async () => {
    const { clock, store, pubsub, worker } = setup((clock) => {
      const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: REPLY_TOKENS });
      const fail = () => new ModelProviderError('OVERLOADED', 'model is overloaded', { provider: 'flaky', statusCode: 529 });
      return createFailingModel([fail(), fail()], demo).provider;
    });
    const chatId = await newChat(store, 'retry me');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const ended = worker.waitForRunEnd(chatId);
    worker.start();

    const first = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG });
    expect(first.delayMs).toBe(1000);
    const firstAt = clock.nowMs();
    await clock.advance(first.dueAtMs - clock.nowMs());
    const second = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG });
    expect(second.delayMs).toBe(2000);
    const secondAt = clock.nowMs();
    await clock.advance(second.dueAtMs - clock.nowMs());
    await streamTokens(clock, REPLY_TOKENS);
    const result = await ended;
    expect(result.outcome).toBe('finished');

    const retries = stream.notes.flatMap((n) => (n.retry ? [n.retry] : []));
    const expected: ChatStreamRetry[] = [
      { attempt: 1, delay_ms: 1000, error: 'model is overloaded', retrying_at: new Date(firstAt + 1000).toISOString(), kind: 'overloaded', provider: 'flaky', status_code: 529 },
      { attempt: 2, delay_ms: 2000, error: 'model is overloaded', retrying_at: new Date(secondAt + 2000).toISOString(), kind: 'overloaded', provider: 'flaky', status_code: 529 },
    ];
    expect(retries).toEqual(expected);
    const chat = await store.getChat(chatId);
    expect(chat?.status).toBe('waiting');
    expect(chat?.last_error).toBeNull();
  });

  it('a permanent model error ends in error with last_error, an error event and an inbox notification', async () => {
    const { store, pubsub, worker } = setup(() =>
      createFailingModel([new ModelProviderError('AUTH', 'invalid API key', { provider: 'flaky', statusCode: 401 })]).provider,
    );
    const chatId = await newChat(store, 'this will fail');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const inbox: unknown[] = [];
    await pubsub.subscribe(inboxNotificationForOwnerEventChannel(ownerId), (m) => {
      if (m) inbox.push(decodeInboxNotificationEvent(m));
    });
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const result = await ended;

    const lastError = { message: 'invalid API key', kind: 'auth', provider: 'flaky', retryable: false, status_code: 401 };
    expect(result.outcome).toBe('failed');
    expect(result.error).toEqual(lastError);
    const chat = await store.getChat(chatId);
    expect(chat?.status).toBe('error');
    expect(chat?.last_error).toEqual(lastError);
    await stream.until((n) => n.some((x) => x.status === 'error'), 'error status');
    expect(stream.notes).toEqual([
      { status: 'running', worker_id: 'worker-1', run_id: expect.any(String) },
      // `retryable: false` is left out on the wire (Go omitempty).
      { error_payload: { message: 'invalid API key', kind: 'auth', provider: 'flaky', status_code: 401 }, error: 'invalid API key' },
      { status: 'error' },
    ]);
    await waitFor(() => inbox.length === 1, { what: 'inbox notification' });
    expect(inbox[0]).toMatchObject({ kind: 'new', inbox_notification: { user_id: ownerId, targets: [chatId] } });
    expect((await store.getRun(result.runId))?.error).toEqual(lastError);
  });

  it('an unexpected failure (a real database error) reaches last_error and the stream as "internal error"; its text goes to the log', async () => {
    const errors: { obj: object; msg?: string }[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (obj: object, msg?: string) => void errors.push({ obj, msg }) };
    const broken = createTestModel('broken', async function* () {
      await pool.query('SELECT secret FROM internal_table_that_does_not_exist');
    });
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const pubsub = createMemoryPubSub();
    const worker = createChatWorker({ store, pubsub, live: createLiveStreams(), clock, workerId: 'worker-1', model: broken, logger });
    workers.push(worker);
    const chatId = await newChat(store, 'this will break');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const result = await ended;

    const internal = { message: 'internal error', kind: 'unknown', retryable: false };
    expect(result.outcome).toBe('failed');
    expect(result.error).toEqual(internal);
    const chat = await store.getChat(chatId);
    expect(chat?.status).toBe('error');
    expect(chat?.last_error).toEqual(internal);
    expect((await store.getRun(result.runId))?.error).toEqual(internal);
    await stream.until((n) => n.some((x) => x.status === 'error'), 'error status');
    expect(JSON.stringify(stream.notes)).not.toContain('internal_table_that_does_not_exist');
    expect(stream.notes.find((n) => n.error_payload)?.error_payload).toEqual({ message: 'internal error', kind: 'unknown' });
    // The operator still learns what happened.
    const logged = errors.find((e) => e.msg === 'chat run failed on an unexpected error');
    expect(logged?.obj).toMatchObject({ chatId, runId: result.runId });
    expect(String((logged?.obj as { err?: Error }).err?.message)).toContain('internal_table_that_does_not_exist');
  });

  it('does nothing with worker: false', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const pubsub = createMemoryPubSub();
    const worker = createChatWorker({ store, pubsub, live: createLiveStreams(), clock, workerId: 'api-only', worker: false, model: createDemoLanguageModel({ clock }) });
    const chatId = await newChat(store, 'nobody generates this');
    worker.start();
    expect(worker.enabled).toBe(false);
    expect(clock.pendingTimers()).toEqual([]);
    await clock.advance(5_000);
    expect((await store.getChat(chatId))?.status).toBe('pending');
  });

  it('gives a new chat a title from its first message and publishes title_change only when it changes', async () => {
    const { clock, store, pubsub, worker } = setup();
    const untitled = await newChat(store, 'plan a trip to the mountains next week please');
    const titled = await newChat(store, 'keep my title');
    await pool.query(`UPDATE chats SET title = 'New Chat' WHERE id = $1`, [untitled]);
    const events: ChatEvent[] = [];
    await pubsub.subscribe(chatEventChannel(ownerId), (m) => {
      if (m) events.push(decodeChatEvent(m));
    });
    const ends = [worker.waitForRunEnd(untitled), worker.waitForRunEnd(titled)];
    worker.start();
    await driveTimersUntil(clock, Promise.all(ends));
    await worker.idle();
    await waitFor(() => events.filter((e) => e.kind === 'status_change' && e.chat.status === 'waiting').length === 2, { what: 'both runs published' });
    const titleChanges = events.filter((e) => e.kind === 'title_change');
    expect(titleChanges.map((e) => [e.chat.id, e.chat.title])).toEqual([[untitled, 'plan a trip to the mountains\u2026']]);
    expect((await store.getChat(untitled))?.title).toBe('plan a trip to the mountains\u2026');
    expect((await store.getChat(titled))?.title).toBe('keep my title');
  });

  it('resolves the model per chat through a resolver', async () => {
    const seen: Array<string | null | undefined> = [];
    const { clock, store, worker } = setup((clock) => (chat) => {
      seen.push(chat.last_model_config_id);
      return { model: createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 2 }), provider: 'demo' };
    });
    const chatId = await newChat(store, 'which model');
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    await streamTokens(clock, 2);
    expect((await ended).outcome).toBe('finished');
    const chat = await store.getChat(chatId);
    expect(seen).toEqual([chat?.last_model_config_id]);
    expect(seen[0]).toEqual(expect.any(String));
  });

  it('POST /interrupt with nothing queued stops the run as waiting with the partial reply saved', async () => {
    const { clock, store, pubsub, publisher, worker } = setup();
    const chatId = await newChat(store, 'stop me');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    await streamTokens(clock, 2);
    await clock.waitForTimer({ tag: 'demo-token' });
    await publisher.publishChange(await store.interruptChat(chatId));
    const result = await ended;
    expect(result.outcome).toBe('interrupted');
    expect(result.status).toBe('waiting');
    const page = await store.listMessages({ chatId });
    expect(page.messages[0]?.content).toEqual([text(demoReplyTokens('stop me', REPLY_TOKENS).slice(0, 2).join(''))]);
    expect((await store.getChat(chatId))?.status).toBe('waiting');
    await stream.until((n) => n.filter((x) => x.status === 'waiting').length === 2, 'interrupt and run-end waiting');
    expect(stream.statuses()).toEqual(['running', 'waiting', 'waiting']);
  });

  it('takes at most maxChatsPerAcquire chats per pass and the rest on the next tick', async () => {
    const { clock, store, worker } = setup(undefined, { maxChatsPerAcquire: 2 });
    const ids = [await newChat(store, 'one'), await newChat(store, 'two'), await newChat(store, 'three')];
    worker.start();
    await waitFor(() => worker.activeRuns().length === 2, { what: 'two runs' });
    const taken = worker.activeRuns().map((r) => r.chatId);
    const rest = ids.find((id) => !taken.includes(id))!;
    expect(new Set([...taken, rest])).toEqual(new Set(ids));
    expect((await store.getChat(rest))?.status).toBe('pending');
    const tick = await clock.waitForTimer({ tag: ACQUIRE_TIMER_TAG });
    expect(tick.delayMs).toBe(1000);
    await clock.advance(tick.dueAtMs - clock.nowMs());
    await waitFor(async () => (await store.getChat(rest))?.status === 'running', { what: 'third chat acquired' });
    expect((await store.getChat(rest))?.worker_id).toBe('worker-1');
  });

  it("sends the owner's system prompt and the whole model-visible history to the model", async () => {
    const requests: LanguageModelV3CallOptions[] = [];
    const { store, worker } = setup(
      () =>
        createTestModel('spy', async function* (call) {
          requests.push(call);
          yield textDelta('ok');
          yield finishPart('stop');
        }),
      { systemPrompt: async (chat) => `Be brief with ${chat.owner_id.slice(0, 4)}.` },
    );
    const { chat } = await store.createChat({ ownerId, content: [text('hi')], systemPrompt: 'chat system prompt' });
    const ended = worker.waitForRunEnd(chat.id);
    worker.start();
    expect((await ended).outcome).toBe('finished');
    expect(requests).toHaveLength(1);
    expect(requests[0]?.prompt).toEqual([
      { role: 'system', content: `Be brief with ${ownerId.slice(0, 4)}.` },
      { role: 'system', content: 'chat system prompt' },
      { role: 'user', content: [text('hi')] },
    ]);
  });

  it('a shutdown during a retry backoff hands the chat back at once and leaves no timer', async () => {
    const { clock, store, worker } = setup(() => createFailingModel([new ModelProviderError('RATE_LIMITED', 'slow down', { provider: 'flaky', statusCode: 429 })]).provider);
    const chatId = await newChat(store, 'back off');
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const t = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG });
    expect(t.delayMs).toBe(1000);
    await worker.stop();
    const result = await ended;
    expect(result.outcome).toBe('requeued');
    expect(result.messageIds).toEqual([]);
    expect((await store.getChat(chatId))?.status).toBe('pending');
    expect(clock.pendingTimers()).toEqual([]);
  });
});
