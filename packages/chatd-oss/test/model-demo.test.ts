import { createMockClock, type MockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import {
  createDemoLanguageModel,
  DEFAULT_DEMO_REPLY_TOKENS,
  DEFAULT_DEMO_TOKENS_PER_SECOND,
  DEMO_TOKEN_TIMER_TAG,
  demoModelOptionsFromEnv,
  demoReplyTokens,
} from '../src/model/demo-model.js';
import { ModelProviderError } from '../src/model/model-error.js';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { toLanguageModelPrompt, type ModelMessage } from '../src/model/language-model-prompt.js';

/** One step's request, as the run loop assembles it. */
type ModelRequest = { messages: ModelMessage[]; systemPrompt?: string; config?: { maxOutputTokens?: number }; signal: AbortSignal };
/** The stream parts these tests look at, flattened: text deltas and the finish with its token counts. */
type ModelStreamEvent =
  | { type: 'text-delta'; text: string }
  | { type: 'finish'; finishReason: string; usage: { inputTokens: number; outputTokens: number; totalTokens: number } };
type Timed = { atMs: number; event: ModelStreamEvent };

/** Calls `doStream` with the request and yields its text deltas and finish (other parts are skipped). */
async function* stream(model: LanguageModelV3, req: ModelRequest): AsyncGenerator<ModelStreamEvent> {
  const { stream: parts } = await model.doStream({
    prompt: toLanguageModelPrompt(req.messages, req.systemPrompt),
    abortSignal: req.signal,
    ...(req.config?.maxOutputTokens === undefined ? {} : { maxOutputTokens: req.config.maxOutputTokens }),
  });
  const reader = parts.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      const p = r.value;
      if (p.type === 'text-delta') yield { type: 'text-delta', text: p.delta };
      if (p.type === 'finish') {
        const input = p.usage.inputTokens.total ?? 0;
        const output = p.usage.outputTokens.total ?? 0;
        yield { type: 'finish', finishReason: p.finishReason.unified, usage: { inputTokens: input, outputTokens: output, totalTokens: input + output } };
      }
    }
  } finally {
    void reader.cancel().catch(() => {});
  }
}

function request(prompt: string, signal = new AbortController().signal, extra: Partial<ModelRequest> = {}): ModelRequest {
  return { messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }], signal, ...extra };
}

/** Runs one stream to its end on the mock clock, recording the mock time (relative to start) of each event. */
async function runTimed(clock: MockClock, tokensPerSecond: number, replyTokens: number, req: ModelRequest): Promise<Timed[]> {
  const model = createDemoLanguageModel({ clock, tokensPerSecond, replyTokens });
  const start = clock.nowMs();
  const out: Timed[] = [];
  const done = (async () => {
    for await (const event of stream(model, req)) out.push({ atMs: clock.nowMs() - start, event });
  })();
  for (let i = 0; i < replyTokens; i++) {
    await clock.waitForTimer({ tag: DEMO_TOKEN_TIMER_TAG });
    await clock.advanceNext();
  }
  await done;
  return out;
}

const texts = (events: Timed[]) => events.flatMap((e) => (e.event.type === 'text-delta' ? [e.event.text] : []));

describe('demo model provider', () => {
  it('streams the exact tokens of a prompt at the exact mock times, then finishes with usage', async () => {
    const clock = createMockClock();
    const events = await runTimed(clock, 10, 6, request('hello there'));
    expect(events).toEqual([
      { atMs: 100, event: { type: 'text-delta', text: 'Token' } },
      { atMs: 200, event: { type: 'text-delta', text: ' waits' } },
      { atMs: 300, event: { type: 'text-delta', text: ' flow' } },
      { atMs: 400, event: { type: 'text-delta', text: ' listens' } },
      { atMs: 500, event: { type: 'text-delta', text: ' reply' } },
      { atMs: 600, event: { type: 'text-delta', text: ' then.' } },
      { atMs: 600, event: { type: 'finish', finishReason: 'stop', usage: { inputTokens: 2, outputTokens: 6, totalTokens: 8 } } },
    ]);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('gives equal runs for the same prompt and pace, and a different reply for a different prompt', async () => {
    const a = await runTimed(createMockClock(), 50, 40, request('what is chatd?'));
    const b = await runTimed(createMockClock(), 50, 40, request('what is chatd?'));
    const c = await runTimed(createMockClock(), 50, 40, request('what is pubsub?'));
    expect(a).toEqual(b);
    expect(texts(a)).toHaveLength(40);
    expect(texts(c)).toHaveLength(40);
    expect(texts(c)).not.toEqual(texts(a));
    // 50 tokens per second: one token every 20 ms of mock time.
    expect(a.slice(0, 3).map((e) => e.atMs)).toEqual([20, 40, 60]);
  });

  it('seeds the reply by the last user message only', async () => {
    const withHistory = request('ignored', undefined, {
      systemPrompt: 'be brief',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'first question' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'an answer' }] },
        { role: 'user', content: [{ type: 'text', text: 'hello there' }] },
      ],
    });
    const events = await runTimed(createMockClock(), 10, 6, withHistory);
    expect(texts(events)).toEqual(demoReplyTokens('hello there', 6));
    // Input tokens count the words of the system prompt and every message: 2 + 2 + 2 + 2.
    expect(events.at(-1)?.event).toMatchObject({ type: 'finish', usage: { inputTokens: 8, outputTokens: 6, totalTokens: 14 } });
  });

  it('keeps a fractional pace on rounded cumulative times', async () => {
    const events = await runTimed(createMockClock(), 3, 4, request('pace'));
    expect(events.map((e) => e.atMs)).toEqual([333, 667, 1000, 1333, 1333]);
  });

  it('caps the reply at maxOutputTokens and finishes with reason length', async () => {
    const clock = createMockClock();
    const events = await runTimed(clock, 10, 3, request('cap me', undefined, { config: { maxOutputTokens: 3 } }));
    expect(texts(events)).toEqual(demoReplyTokens('cap me', 3));
    const capped = createDemoLanguageModel({ clock, tokensPerSecond: 1000, replyTokens: 10 });
    const out: ModelStreamEvent[] = [];
    const done = (async () => {
      for await (const e of stream(capped, request('cap me', undefined, { config: { maxOutputTokens: 2 } }))) out.push(e);
    })();
    await clock.waitForTimer({ tag: DEMO_TOKEN_TIMER_TAG });
    await clock.advance(2);
    await done;
    expect(out).toEqual([
      { type: 'text-delta', text: demoReplyTokens('cap me', 2)[0] },
      { type: 'text-delta', text: demoReplyTokens('cap me', 2)[1] },
      { type: 'finish', finishReason: 'length', usage: { inputTokens: 2, outputTokens: 2, totalTokens: 4 } },
    ]);
  });

  it('writes sentences: capitalised first word, a full stop at the end', () => {
    const tokens = demoReplyTokens('sentences please', 60);
    expect(tokens[0]).toMatch(/^[A-Z]/);
    expect(tokens.at(-1)).toMatch(/\.$/);
    expect(tokens.slice(1).every((t) => t.startsWith(' '))).toBe(true);
    const text = tokens.join('');
    for (const sentence of text.split('. ').slice(1)) expect(sentence).toMatch(/^[A-Z]/);
  });

  it('stops at once on abort mid-stream, with a CANCELLED error and no pending timer', async () => {
    const clock = createMockClock();
    const model = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 50 });
    const controller = new AbortController();
    const it = stream(model, request('abort me', controller.signal))[Symbol.asyncIterator]();
    const first = it.next();
    await clock.waitForTimer({ tag: DEMO_TOKEN_TIMER_TAG });
    await clock.advanceNext();
    expect((await first).value).toEqual({ type: 'text-delta', text: demoReplyTokens('abort me', 50)[0] });
    const second = it.next();
    await clock.waitForTimer({ tag: DEMO_TOKEN_TIMER_TAG });
    controller.abort();
    // The token timer is disarmed synchronously by the abort, before the rejection is even observed.
    expect(clock.pendingTimers()).toEqual([]);
    const err = await second.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelProviderError);
    expect(err).toMatchObject({ code: 'CANCELLED', retryable: false, provider: 'demo' });
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('throws CANCELLED without arming a timer when the signal is already aborted', async () => {
    const clock = createMockClock();
    const model = createDemoLanguageModel({ clock });
    const controller = new AbortController();
    controller.abort();
    const err = await stream(model, request('x', controller.signal))[Symbol.asyncIterator]().next().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('throws CANCELLED when aborted while the consumer held a token', async () => {
    const clock = createMockClock();
    const model = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 5 });
    const controller = new AbortController();
    const it = stream(model, request('held', controller.signal))[Symbol.asyncIterator]();
    const first = it.next();
    await clock.waitForTimer({ tag: DEMO_TOKEN_TIMER_TAG });
    await clock.advanceNext();
    await first;
    controller.abort();
    await expect(it.next()).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('leaves no timer when the consumer stops iterating early', async () => {
    const clock = createMockClock();
    const model = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 5 });
    const got: ModelStreamEvent[] = [];
    const done = (async () => {
      for await (const e of stream(model, request('stop early'))) {
        got.push(e);
        break;
      }
    })();
    await clock.waitForTimer({ tag: DEMO_TOKEN_TIMER_TAG });
    await clock.advanceNext();
    await done;
    expect(got).toHaveLength(1);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('reads pace and length from the environment, with defaults', () => {
    expect(demoModelOptionsFromEnv({})).toEqual({ tokensPerSecond: DEFAULT_DEMO_TOKENS_PER_SECOND, replyTokens: DEFAULT_DEMO_REPLY_TOKENS });
    expect(DEFAULT_DEMO_TOKENS_PER_SECOND).toBe(50);
    expect(DEFAULT_DEMO_REPLY_TOKENS).toBe(200);
    expect(demoModelOptionsFromEnv({ CHATD_DEMO_TOKENS_PER_SECOND: '1000', CHATD_DEMO_REPLY_TOKENS: '12' })).toEqual({ tokensPerSecond: 1000, replyTokens: 12 });
    expect(demoModelOptionsFromEnv({ CHATD_DEMO_TOKENS_PER_SECOND: ' ', CHATD_DEMO_REPLY_TOKENS: '' })).toEqual({ tokensPerSecond: 50, replyTokens: 200 });
  });

  it('rejects unusable settings with INVALID_CONFIG', () => {
    for (const env of [
      { CHATD_DEMO_TOKENS_PER_SECOND: 'fast' },
      { CHATD_DEMO_TOKENS_PER_SECOND: '0' },
      { CHATD_DEMO_TOKENS_PER_SECOND: '-5' },
      { CHATD_DEMO_REPLY_TOKENS: '2.5' },
      { CHATD_DEMO_REPLY_TOKENS: '-1' },
    ]) {
      expect(() => demoModelOptionsFromEnv(env)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }
    expect(() => createDemoLanguageModel({ clock: createMockClock(), tokensPerSecond: Number.NaN })).toThrow(ModelProviderError);
  });
});
