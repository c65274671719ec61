// The worker's per-part cost in streamModelStep, as a deterministic count: promises created per streamed part
// (async_hooks), for a provider whose chunks are all queued already. Each wait for the provider used to be an async
// function racing the read against an abort promise (and leaving a reaction on that never-settling promise per part).
import { createHook } from 'node:async_hooks';
import { createMockClock, type Clock, type Timer } from '@chatd/clock';
import type { LanguageModelV3, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { ModelProviderError } from '../src/model/model-error.js';
import { MODEL_IDLE_TIMER_TAG, streamModelStep } from '../src/model/stream-model-step.js';

const PARTS = 2_000;

/** A model whose stream holds `n` text deltas and a finish, all enqueued before the first read. */
function queuedModel(n: number): LanguageModelV3 {
  return {
    specificationVersion: 'v3',
    provider: 'queued',
    modelId: 'queued',
    supportedUrls: {},
    doGenerate: () => Promise.reject(new Error('unused')),
    doStream: async () => ({
      stream: new ReadableStream<LanguageModelV3StreamPart>({
        start(c) {
          for (let i = 0; i < n; i++) c.enqueue({ type: 'text-delta', id: 't', delta: 'x' });
          c.enqueue({ type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: { inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: n, text: n, reasoning: undefined } } });
          c.close();
        },
      }),
    }),
  };
}

describe('streamModelStep per-part cost', () => {
  it('creates at most 7 promises per streamed part (6 now; 11 when every read raced an abort promise)', async () => {
    let promises = 0;
    const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) });
    const step = streamModelStep({ model: queuedModel(PARTS), provider: 'queued', call: { prompt: [] }, signal: new AbortController().signal, clock: createMockClock(), idleTimeoutMs: 60_000 });
    let texts = 0;
    hook.enable();
    try {
      for await (const ev of step) if (ev.type === 'text-delta') texts++;
    } finally {
      hook.disable();
    }
    expect(texts).toBe(PARTS);
    expect(promises / PARTS).toBeLessThanOrEqual(7);
  });

  it('arms the idle timer once for a whole stream, not once per part (it was re-armed for every read)', async () => {
    const mock = createMockClock();
    let arms = 0;
    // Counts every arming of the idle timer: a new timer, or a reset of one.
    const clock: Clock = {
      ...mock,
      setTimeout(fn, ms, tag) {
        if (tag === MODEL_IDLE_TIMER_TAG) arms++;
        const timer = mock.setTimeout(fn, ms, tag);
        const counted: Timer = {
          cancel: () => timer.cancel(),
          reset(delay) {
            if (tag === MODEL_IDLE_TIMER_TAG) arms++;
            timer.reset(delay);
          },
        };
        return counted;
      },
    };
    let texts = 0;
    for await (const ev of streamModelStep({ model: queuedModel(PARTS), provider: 'queued', call: { prompt: [] }, signal: new AbortController().signal, clock, idleTimeoutMs: 60_000 })) {
      if (ev.type === 'text-delta') texts++;
    }
    expect(texts).toBe(PARTS);
    expect(arms).toBe(1);
    expect(mock.pendingTimers()).toEqual([]);
  });

  it('still times out a wait idleTimeoutMs long after fast parts, and not earlier: the timer re-arms for the rest of the wait', async () => {
    const clock = createMockClock();
    let pull = 0;
    let release: (() => void) | undefined;
    // Two parts 40 s apart, then silence: the timer armed at the first wait fires at 60 s, 20 s into the second wait.
    const model: LanguageModelV3 = {
      ...queuedModel(0),
      doStream: async () => ({
        stream: new ReadableStream<LanguageModelV3StreamPart>({
          pull: (c) => {
            pull++;
            if (pull === 1) c.enqueue({ type: 'text-delta', id: 't', delta: 'a' });
            else if (pull === 2) return new Promise<void>((r) => (release = () => (c.enqueue({ type: 'text-delta', id: 't', delta: 'b' }), r())));
            else return new Promise<void>(() => {});
            return undefined;
          },
        }),
      }),
    };
    const it = streamModelStep({ model, provider: 'slow', call: { prompt: [] }, signal: new AbortController().signal, clock, idleTimeoutMs: 60_000 })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'a' });
    const second = it.next();
    await clock.waitForTimer({ tag: MODEL_IDLE_TIMER_TAG });
    await clock.advance(40_000);
    release!();
    expect((await second).value).toEqual({ type: 'text-delta', text: 'b' });
    const third = it.next().catch((e: unknown) => e);
    await clock.advance(20_000); // the first timer fires: this wait is only 20 s old, so it re-arms for 40 s
    expect(clock.pendingTimers().map((t) => [t.tag, t.delayMs])).toEqual([[MODEL_IDLE_TIMER_TAG, 40_000]]);
    await clock.advance(39_999);
    expect(clock.pendingTimers()).toHaveLength(1);
    await clock.advance(1);
    expect(await third).toSatisfy((err) => err instanceof ModelProviderError && err.code === 'TIMEOUT');
  });

  it('an abort still ends a wait on a model that never answers', async () => {
    const ac = new AbortController();
    const model: LanguageModelV3 = { ...queuedModel(0), doStream: async () => ({ stream: new ReadableStream<LanguageModelV3StreamPart>({ pull: () => new Promise(() => {}) }) }) };
    const step = streamModelStep({ model, provider: 'hung', call: { prompt: [] }, signal: ac.signal, clock: createMockClock() });
    const next = step.next();
    await new Promise((r) => setImmediate(r));
    ac.abort(new Error('stop'));
    await expect(next).rejects.toSatisfy((err) => err instanceof ModelProviderError && err.code === 'CANCELLED');
  });
});
