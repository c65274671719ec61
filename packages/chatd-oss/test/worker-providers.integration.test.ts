// The run loop (real PostgreSQL, a real worker, the mock clock) driving the real AI SDK provider packages
// against the testkit's stand-in servers of each wire format: streamed text and reasoning stored in the
// reply, usage on the message, the reasoning effort in the request body, 429 with retry-after retried after
// that delay, 401 failing as auth without a retry, 500 retried, a malformed stream failing, a connection cut
// mid-stream retried, and an interrupt closing the provider request.
import { createMockClock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import { chatStreamNotifyChannel, createMemoryPubSub } from '@chatd/pubsub';
import { startModelStandIn, STAND_IN_THINKING_SIGNATURE, waitFor, type ModelStandIn, type StandInWireName } from '@chatd/testkit';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import type { ProviderKind } from '../src/model/model-settings.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { RETRY_BACKOFF_TIMER_TAG } from '../src/worker/chat-run.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { createModelConfigResolver, type ResolverModelConfig, type ResolverProviderSettings } from '../src/worker/model-config-resolver.js';
import { recordStream, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

const CONFIG_ID = '88888888-8888-4888-8888-888888888888';
const KINDS: Array<{ kind: Exclude<ProviderKind, 'demo'>; wire: StandInWireName; model: string; effortIn: (body: any) => unknown }> = [
  { kind: 'openai-compatible', wire: 'openai-chat', model: 'llama3.2', effortIn: (b) => b.reasoning_effort },
  { kind: 'openai', wire: 'openai-responses', model: 'o4-mini', effortIn: (b) => b.reasoning?.effort },
  { kind: 'anthropic', wire: 'anthropic-messages', model: 'claude-sonnet-4-5', effortIn: (b) => b.thinking },
];

const standIns: ModelStandIn[] = [];
afterEach(async () => {
  await Promise.all(standIns.splice(0).map((s) => s.close()));
});

/** A worker whose one model configuration points at a fresh stand-in of `wire` through the real resolver. */
async function setup(kind: Exclude<ProviderKind, 'demo'>, wire: StandInWireName, model: string) {
  const standIn = await startModelStandIn({ wire });
  standIns.push(standIn);
  const clock = createMockClock();
  const store: ChatStore = createChatStore({ pool, clock });
  const pubsub = createMemoryPubSub();
  const publisher = createChatPublisher({ pubsub, clock });
  const config: ResolverModelConfig = { id: CONFIG_ID, provider: 'standin', model, callOptions: { maxOutputTokens: 256, reasoningEffort: 'high' }, providerOptions: null };
  const settings: ResolverProviderSettings = { provider: 'standin', kind, baseUrl: standIn.baseUrl, apiKey: null, apiKeyEnv: 'STANDIN_KEY', enabled: true };
  const resolver = createModelConfigResolver({
    configs: { resolveModelConfig: async () => config, getProviderSettings: async () => settings },
    clock,
    env: { STANDIN_KEY: 'sk-from-env' },
  });
  const worker = createChatWorker({ store, pubsub, publisher, live: createLiveStreams(), clock, workerId: 'worker-1', model: resolver });
  bed.workers.push(worker);
  return { standIn, clock, store, pubsub, publisher, worker };
}

async function newChat(store: ChatStore, prompt: string) {
  const { chat } = await store.createChat({ ownerId, content: [{ type: 'text', text: prompt }] });
  return chat.id;
}

async function reply(store: ChatStore, chatId: string) {
  const page = await store.listMessages({ chatId });
  return page.messages.find((m) => m.role === 'assistant');
}

describe.each(KINDS)('the run loop with $kind against a $wire stand-in', ({ kind, wire, model, effortIn }) => {
  it('streams reasoning and text into one reply with usage, sending the key from api_key_env and the reasoning effort', async () => {
    const { standIn, store, worker } = await setup(kind, wire, model);
    standIn.script({ steps: [{ reasoning: 'Let me think.' }, { text: 'Hello' }, { text: ' there.' }], usage: { inputTokens: 12, outputTokens: 7, reasoningTokens: 3, cachedInputTokens: 2 } });
    const chatId = await newChat(store, 'hi');
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    expect((await ended).outcome).toBe('finished');

    const msg = await reply(store, chatId);
    const reasoning = { type: 'reasoning', text: 'Let me think.', ...(kind === 'anthropic' ? { signature: STAND_IN_THINKING_SIGNATURE } : {}) };
    expect(msg?.content).toEqual([reasoning, { type: 'text', text: 'Hello there.' }]);
    // Anthropic's wire counts cache reads apart from input_tokens; the SDK's total (and ours) includes them.
    const input = kind === 'anthropic' ? 14 : 12;
    expect(msg?.usage).toMatchObject({ input_tokens: input, output_tokens: 7, total_tokens: input + 7, cache_read_tokens: 2 });
    if (kind !== 'anthropic') expect(msg?.usage?.reasoning_tokens).toBe(3);

    const body = standIn.requests[0]?.body;
    expect(effortIn(body)).toEqual(kind === 'anthropic' ? { type: 'enabled', budget_tokens: 16384 } : 'high');
    const auth = kind === 'anthropic' ? standIn.requests[0]?.headers['x-api-key'] : standIn.requests[0]?.headers.authorization;
    expect(auth).toBe(kind === 'anthropic' ? 'sk-from-env' : 'Bearer sk-from-env');
  });

  it('retries a 429 after its retry-after delay on the clock, publishing a rate_limit retry', async () => {
    const { standIn, clock, store, pubsub, worker } = await setup(kind, wire, model);
    standIn.script({ status: 429, headers: { 'retry-after': '7' } }, { steps: [{ text: 'finally' }], usage: { inputTokens: 1, outputTokens: 1 } });
    const chatId = await newChat(store, 'hurry');
    const stream = await recordStream(pubsub, chatStreamNotifyChannel(chatId));
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const backoff = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG });
    expect(backoff.delayMs).toBe(7000);
    expect(standIn.requests).toHaveLength(1);
    await clock.advance(7000);
    expect((await ended).outcome).toBe('finished');
    expect(standIn.requests).toHaveLength(2);
    expect((await reply(store, chatId))?.content).toEqual([{ type: 'text', text: 'finally' }]);
    const retries = stream.notes.flatMap((n) => (n.retry ? [n.retry] : []));
    expect(retries).toEqual([expect.objectContaining({ attempt: 1, delay_ms: 7000, kind: 'rate_limit', provider: 'standin', status_code: 429 })]);
  });

  it('fails a 401 as auth without a retry, and retries a 500 as server_error', async () => {
    const { standIn, clock, store, worker } = await setup(kind, wire, model);
    standIn.script({ status: 401 });
    const denied = await newChat(store, 'who am i');
    const deniedEnd = worker.waitForRunEnd(denied);
    worker.start();
    const failed = await deniedEnd;
    expect(failed.outcome).toBe('failed');
    expect(failed.error).toMatchObject({ kind: 'auth', provider: 'standin', status_code: 401 });
    expect(standIn.requests).toHaveLength(1);
    expect((await store.getChat(denied))?.last_error).toMatchObject({ kind: 'auth' });

    standIn.script({ status: 500 }, { steps: [{ text: 'recovered' }] });
    const flaky = await newChat(store, 'try again');
    const flakyEnd = worker.waitForRunEnd(flaky);
    worker.wake();
    const backoff = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG });
    expect(backoff.delayMs).toBe(1000);
    await clock.advance(1000);
    expect((await flakyEnd).outcome).toBe('finished');
    expect(standIn.requests).toHaveLength(3);
  });

  it('fails a malformed stream as malformed_stream, and retries a connection cut mid-stream', async () => {
    const { standIn, clock, store, worker } = await setup(kind, wire, model);
    standIn.script({ steps: [{ text: 'half' }], end: 'malformed' });
    const broken = await newChat(store, 'garbage');
    const brokenEnd = worker.waitForRunEnd(broken);
    worker.start();
    const failed = await brokenEnd;
    expect(failed.error).toMatchObject({ kind: 'malformed_stream', retryable: false });
    await standIn.requests[0]?.closed;
    expect(standIn.requests[0]?.closedByClient).toBe(true);

    standIn.script({ steps: [{ text: 'cut ' }], end: 'cut' }, { steps: [{ text: 'whole' }] });
    const cut = await newChat(store, 'cut me');
    const cutEnd = worker.waitForRunEnd(cut);
    worker.wake();
    const backoff = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG });
    expect(backoff.delayMs).toBe(1000);
    await clock.advance(1000);
    expect((await cutEnd).outcome).toBe('finished');
    // The failed attempt's text is not kept: the reply is the retry's alone.
    expect((await reply(store, cut))?.content).toEqual([{ type: 'text', text: 'whole' }]);
  });

  it('an interrupt closes the provider request and keeps the partial reply', async () => {
    const { standIn, store, publisher, worker } = await setup(kind, wire, model);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    standIn.script({ steps: [{ text: 'partial answer' }, { hold: held }, { text: ' never sent' }] });
    const chatId = await newChat(store, 'long story');
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const req = await standIn.waitForRequest(0);
    await waitFor(async () => (await store.getChat(chatId))?.status === 'running', { what: 'running' });
    await publisher.publishChange(await store.interruptChat(chatId));
    const result = await ended;
    expect(result.outcome).toBe('interrupted');
    await req.closed;
    expect(req.closedByClient).toBe(true);
    release();
    expect((await reply(store, chatId))?.content).toEqual([{ type: 'text', text: 'partial answer' }]);
  });
});

describe('reasoning effort per chat', () => {
  it("a chat's own reasoning_effort wins over the configuration's and none turns Anthropic thinking off", async () => {
    const standIn = await startModelStandIn({ wire: 'anthropic-messages' });
    standIns.push(standIn);
    const clock = createMockClock();
    const resolver = createModelConfigResolver({
      configs: {
        resolveModelConfig: async () => ({ id: CONFIG_ID, provider: 'claude', model: 'claude-sonnet-4-5', callOptions: { reasoningEffort: 'high' } }),
        getProviderSettings: async () => ({ provider: 'claude', kind: 'anthropic', baseUrl: standIn.baseUrl, apiKey: 'stored-key', apiKeyEnv: null, enabled: true }),
      },
      clock,
      env: {},
    });
    const chat = { last_model_config_id: CONFIG_ID, reasoning_effort: 'none' } as Chat & { reasoning_effort: 'none' };
    const off = await resolver(chat);
    expect(off.callOptions?.reasoningEffort).toBe('none');
    expect(off.providerOptions).toBeUndefined();
    const low = await resolver({ ...chat, reasoning_effort: 'low' } as Chat);
    expect(low.providerOptions).toEqual({ anthropic: { thinking: { type: 'enabled', budgetTokens: 2048 } } });
    const inherited = await resolver({ ...chat, reasoning_effort: null } as unknown as Chat);
    expect(inherited.providerOptions).toEqual({ anthropic: { thinking: { type: 'enabled', budgetTokens: 16384 } } });
  });
});
