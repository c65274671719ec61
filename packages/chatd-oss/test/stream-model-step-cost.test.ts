// The worker's per-part cost in streamModelStep, as a deterministic count: promises created per streamed part
// (async_hooks), for a provider whose chunks are all queued already. Each wait for the provider used to be an async
// function racing the read against an abort promise (and leaving a reaction on that never-settling promise per part).
import { createHook } from 'node:async_hooks';
import { createMockClock } from '@chatd/clock';
import type { LanguageModelV3, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { ModelProviderError } from '../src/model/model-error.js';
import { streamModelStep } from '../src/model/stream-model-step.js';

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
