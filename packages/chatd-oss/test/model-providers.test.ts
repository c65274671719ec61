// The three HTTP provider kinds through the real AI SDK packages (createLanguageModel) and our step adapter
// (streamModelStep), against the testkit's stand-in servers speaking each real wire format: streamed text,
// reasoning and usage, the request body (call options, reasoning effort), HTTP failures and their kinds,
// malformed and cut streams, cancellation and the idle timeout. No network beyond 127.0.0.1, no database.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMockClock, type MockClock } from '@chatd/clock';
import { startModelStandIn, STAND_IN_THINKING_SIGNATURE, type ModelStandIn, type StandInWireName } from '@chatd/testkit';
import type { LanguageModelV3, LanguageModelV3CallOptions } from '@ai-sdk/provider';
import { afterEach, describe, expect, it } from 'vitest';
import { createLanguageModel } from '../src/model/create-language-model.js';
import { toLanguageModelPrompt } from '../src/model/language-model-prompt.js';
import { ModelProviderError, toChatStreamError } from '../src/model/model-error.js';
import type { ProviderKind, ProviderOptions } from '../src/model/model-settings.js';
import { mergeProviderOptions, reasoningEffortOptions } from '../src/model/reasoning-effort.js';
import { MODEL_IDLE_TIMER_TAG, streamModelStep, type ModelStepEvent } from '../src/model/stream-model-step.js';

const KINDS: Array<{ kind: Exclude<ProviderKind, 'demo'>; wire: StandInWireName; model: string; path: string }> = [
  { kind: 'openai-compatible', wire: 'openai-chat', model: 'llama3.2', path: '/v1/chat/completions' },
  { kind: 'openai', wire: 'openai-responses', model: 'gpt-5-mini', path: '/v1/responses' },
  { kind: 'anthropic', wire: 'anthropic-messages', model: 'claude-sonnet-4-5', path: '/v1/messages' },
];

const standIns: ModelStandIn[] = [];
afterEach(async () => {
  await Promise.all(standIns.splice(0).map((s) => s.close()));
});

async function setup(kind: Exclude<ProviderKind, 'demo'>, wire: StandInWireName, modelId: string) {
  const standIn = await startModelStandIn({ wire });
  standIns.push(standIn);
  const clock = createMockClock();
  const model = createLanguageModel({ kind, name: `my-${kind}`, model: modelId, baseUrl: standIn.baseUrl, apiKey: 'sk-test', clock });
  return { standIn, clock, model };
}

const PROMPT = toLanguageModelPrompt(
  [
    { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
    { role: 'user', content: [{ type: 'text', text: 'Count to two.' }] },
  ],
  'You are terse.',
);

type StepOptions = { signal?: AbortSignal; providerOptions?: ProviderOptions; call?: Partial<LanguageModelV3CallOptions>; idleTimeoutMs?: number };

function step(model: LanguageModelV3, clock: MockClock, kind: string, o: StepOptions = {}) {
  return streamModelStep({
    model,
    provider: `my-${kind}`,
    call: { prompt: PROMPT, ...(o.providerOptions ? { providerOptions: o.providerOptions as never } : {}), ...o.call },
    signal: o.signal ?? new AbortController().signal,
    clock,
    strictFinish: true,
    ...(o.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: o.idleTimeoutMs }),
  });
}

async function collect(stream: AsyncIterable<ModelStepEvent>): Promise<{ events: ModelStepEvent[]; error: unknown }> {
  const events: ModelStepEvent[] = [];
  try {
    for await (const e of stream) events.push(e);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

const texts = (events: ModelStepEvent[], type: 'text-delta' | 'reasoning-delta') => events.flatMap((e) => (e.type === type && e.text !== '' ? [e.text] : []));

describe.each(KINDS)('$kind through the AI SDK against a $wire stand-in', ({ kind, wire, model: modelId, path }) => {
  it('streams reasoning, text and usage, and sends the call options and the reasoning effort', async () => {
    const { standIn, clock, model } = await setup(kind, wire, modelId);
    standIn.script({
      steps: [{ reasoning: 'Counting' }, { reasoning: ' slowly.' }, { text: 'One, ' }, { text: 'two.' }],
      usage: { inputTokens: 21, outputTokens: 9, reasoningTokens: 4 },
    });
    const providerOptions = mergeProviderOptions(reasoningEffortOptions(kind, modelId, 'high'), null) as ProviderOptions;
    const { events, error } = await collect(step(model, clock, kind, { providerOptions, call: { maxOutputTokens: 64 } }));
    expect(error).toBeUndefined();
    expect(texts(events, 'reasoning-delta')).toEqual(['Counting', ' slowly.']);
    expect(texts(events, 'text-delta')).toEqual(['One, ', 'two.']);
    const finish = events.at(-1);
    expect(finish).toMatchObject({ type: 'finish', finishReason: 'stop' });
    expect(finish?.type === 'finish' && finish.usage?.inputTokens.total).toBe(21);
    expect(finish?.type === 'finish' && finish.usage?.outputTokens.total).toBe(9);
    if (kind !== 'anthropic') expect(finish?.type === 'finish' && finish.usage?.outputTokens.reasoning).toBe(4);

    const [req] = standIn.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe(path);
    expect(req?.body.model).toBe(modelId);
    expect(req?.body.stream).toBe(true);
    if (kind === 'openai-compatible') {
      expect(req?.headers.authorization).toBe('Bearer sk-test');
      expect(req?.body).toMatchObject({
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
          { role: 'user', content: 'Count to two.' },
        ],
        stream_options: { include_usage: true },
        max_tokens: 64,
        reasoning_effort: 'high',
      });
    } else if (kind === 'openai') {
      expect(req?.headers.authorization).toBe('Bearer sk-test');
      expect(req?.body).toMatchObject({ max_output_tokens: 64, reasoning: { effort: 'high' } });
    } else {
      expect(req?.headers['x-api-key']).toBe('sk-test');
      // The thinking budget is added to max_tokens by the SDK, so the reply keeps its own 64.
      expect(req?.body).toMatchObject({ system: [{ type: 'text', text: 'You are terse.' }], thinking: { type: 'enabled', budget_tokens: 16384 }, max_tokens: 64 + 16384 });
    }
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('maps 429 with retry-after to a retryable RATE_LIMITED carrying the delay, with the provider named', async () => {
    const { standIn, clock, model } = await setup(kind, wire, modelId);
    standIn.script({ status: 429, headers: { 'retry-after': '7' } });
    const { error } = await collect(step(model, clock, kind));
    expect(error).toBeInstanceOf(ModelProviderError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', kind: 'rate_limit', retryable: true, statusCode: 429, retryAfterMs: 7000, provider: `my-${kind}` });
    expect((error as ModelProviderError).detail).toContain('stand-in answered 429');
  });

  it('maps 401 to a non-retryable AUTH and 500 to a retryable SERVER_ERROR', async () => {
    const { standIn, clock, model } = await setup(kind, wire, modelId);
    standIn.script({ status: 401 }, { status: 500 });
    expect((await collect(step(model, clock, kind))).error).toMatchObject({ code: 'AUTH', kind: 'auth', retryable: false, statusCode: 401 });
    expect((await collect(step(model, clock, kind))).error).toMatchObject({ code: 'SERVER_ERROR', kind: 'server_error', retryable: true, statusCode: 500 });
  });

  it('fails a malformed chunk as a non-retryable MALFORMED_STREAM after the good deltas, and closes the request', async () => {
    const { standIn, clock, model } = await setup(kind, wire, modelId);
    standIn.script({ steps: [{ text: 'fine' }], end: 'malformed' });
    const { events, error } = await collect(step(model, clock, kind));
    expect(texts(events, 'text-delta')).toEqual(['fine']);
    expect(error).toMatchObject({ code: 'MALFORMED_STREAM', kind: 'malformed_stream', retryable: false });
    await standIn.requests[0]?.closed;
    expect(standIn.requests[0]?.closedByClient).toBe(true);
  });

  it('maps a connection cut mid-stream, and a body that ends before the model finished, to a retryable CONNECTION', async () => {
    const { standIn, clock, model } = await setup(kind, wire, modelId);
    standIn.script({ steps: [{ text: 'Hel' }, { text: 'lo' }], end: 'cut' }, { steps: [{ text: 'half' }], end: 'eof' });
    const cut = await collect(step(model, clock, kind));
    expect(texts(cut.events, 'text-delta')).toEqual(['Hel', 'lo']);
    expect(cut.error).toMatchObject({ code: 'CONNECTION', kind: 'connection', retryable: true });
    const eof = await collect(step(model, clock, kind));
    expect(texts(eof.events, 'text-delta')).toEqual(['half']);
    expect(eof.error).toMatchObject({ code: 'CONNECTION', retryable: true });
  });

  it('cancels mid-stream on abort: CANCELLED, and the stand-in sees its request closed', async () => {
    const { standIn, clock, model } = await setup(kind, wire, modelId);
    standIn.script({ steps: [{ text: 'streaming' }], end: 'hang' });
    const controller = new AbortController();
    const it = step(model, clock, kind, { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'streaming' });
    const pending = it.next().catch((e: unknown) => e);
    controller.abort();
    expect(await pending).toMatchObject({ code: 'CANCELLED', retryable: false });
    await standIn.requests[0]?.closed;
    expect(standIn.requests[0]?.closedByClient).toBe(true);
  });

  it('times out a silent stream on the injected clock as a retryable TIMEOUT, closing the request', async () => {
    const { standIn, clock, model } = await setup(kind, wire, modelId);
    standIn.script({ steps: [{ text: 'then silence' }], end: 'hang' });
    const it = step(model, clock, kind, { idleTimeoutMs: 10_000 })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'then silence' });
    const pending = it.next().catch((e: unknown) => e);
    const timer = await clock.waitForTimer({ tag: MODEL_IDLE_TIMER_TAG });
    expect(timer.delayMs).toBe(10_000);
    await clock.advance(10_000);
    expect(await pending).toMatchObject({ code: 'TIMEOUT', kind: 'timeout', retryable: true });
    await standIn.requests[0]?.closed;
    expect(standIn.requests[0]?.closedByClient).toBe(true);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('ends a filtered reply as CONTENT_FILTER, not retried', async () => {
    const { standIn, clock, model } = await setup(kind, wire, modelId);
    standIn.script({ steps: [{ text: 'I can' }], finishReason: 'content_filter', usage: { inputTokens: 1, outputTokens: 1 } });
    const { error } = await collect(step(model, clock, kind));
    expect(error).toMatchObject({ code: 'CONTENT_FILTER', kind: 'content_filter', retryable: false });
  });
});

describe('provider specifics', () => {
  it('keeps the Anthropic thinking signature on the reasoning deltas', async () => {
    const { standIn, clock, model } = await setup('anthropic', 'anthropic-messages', 'claude-sonnet-4-5');
    standIn.script({ steps: [{ reasoning: 'hmm' }, { text: 'ok' }], usage: { inputTokens: 1, outputTokens: 2 } });
    const { events } = await collect(step(model, clock, 'anthropic'));
    expect(events.filter((e) => e.type === 'reasoning-delta')).toEqual([
      { type: 'reasoning-delta', text: 'hmm' },
      { type: 'reasoning-delta', text: '', signature: STAND_IN_THINKING_SIGNATURE },
    ]);
  });

  it('reads a 429 for an exhausted quota as a permanent QUOTA_EXCEEDED and a 400 about context length as CONTEXT_LENGTH_EXCEEDED', async () => {
    const { standIn, clock, model } = await setup('openai-compatible', 'openai-chat', 'm');
    standIn.script(
      { status: 429, body: { error: { message: 'You exceeded your current quota', code: 'insufficient_quota' } } },
      { status: 400, body: { error: { message: 'too long', code: 'context_length_exceeded' } } },
      { status: 404, body: { error: { message: 'The model `m` does not exist', code: 'model_not_found' } } },
      { status: 503, headers: { 'retry-after': new Date(clock.nowMs() + 30_000).toUTCString() } },
    );
    expect((await collect(step(model, clock, 'x'))).error).toMatchObject({ code: 'QUOTA_EXCEEDED', retryable: false, statusCode: 429 });
    expect((await collect(step(model, clock, 'x'))).error).toMatchObject({ code: 'CONTEXT_LENGTH_EXCEEDED', retryable: false });
    expect((await collect(step(model, clock, 'x'))).error).toMatchObject({ code: 'MODEL_NOT_FOUND', retryable: false, statusCode: 404 });
    expect((await collect(step(model, clock, 'x'))).error).toMatchObject({ code: 'OVERLOADED', retryable: true, retryAfterMs: 30_000 });
  });

  it('maps a refused connection to a retryable CONNECTION whose client-facing text names no address', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const clock = createMockClock();
    const model = createLanguageModel({ kind: 'openai-compatible', name: 'local', model: 'm', baseUrl: `http://127.0.0.1:${port}/v1`, clock });
    const { error } = await collect(step(model, clock, 'local'));
    expect(error).toMatchObject({ code: 'CONNECTION', retryable: true, message: 'the connection to the model provider failed' });
    expect(JSON.stringify(toChatStreamError(error as ModelProviderError))).not.toMatch(new RegExp(`ECONNREFUSED|127\\.0\\.0\\.1|${port}`));
  });

  it('sends no authorization header to an openai-compatible server without a key, and makes no request when already aborted', async () => {
    const standIn = await startModelStandIn({ wire: 'openai-chat' });
    standIns.push(standIn);
    const clock = createMockClock();
    const model = createLanguageModel({ kind: 'openai-compatible', name: 'ollama', model: 'llama3.2', baseUrl: `${standIn.baseUrl}/`, clock });
    expect((await collect(step(model, clock, 'ollama'))).error).toBeUndefined();
    expect(standIn.requests[0]?.url).toBe('/v1/chat/completions');
    expect(standIn.requests[0]?.headers.authorization).toBeUndefined();
    const controller = new AbortController();
    controller.abort();
    expect((await collect(step(model, clock, 'ollama', { signal: controller.signal }))).error).toMatchObject({ code: 'CANCELLED' });
    expect(standIn.requests).toHaveLength(1);
  });

  it('refuses hosted kinds without a key (AUTH) and endpoints without a usable base URL (INVALID_CONFIG)', () => {
    const clock = createMockClock();
    expect(() => createLanguageModel({ kind: 'openai', name: 'openai', model: 'gpt-5', clock })).toThrow(expect.objectContaining({ code: 'AUTH' }));
    expect(() => createLanguageModel({ kind: 'anthropic', name: 'anthropic', model: 'claude', apiKey: null, clock })).toThrow(expect.objectContaining({ code: 'AUTH' }));
    expect(() => createLanguageModel({ kind: 'openai-compatible', name: 'local', model: 'm', clock })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => createLanguageModel({ kind: 'openai-compatible', name: 'local', model: 'm', baseUrl: 'ftp://x', clock })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
