// Input hardening (issue 17) for what a model provider sends: random and malformed `text/event-stream`
// bodies, split anywhere, with any status and content type. Through the AI SDK's OpenAI-compatible client
// and our step adapter, any body gives deltas and one finish, or a typed ModelProviderError, never anything
// else. Fixed seed and bounded runs in `npm test`; FUZZ_RUNS=n (and FUZZ_SEED) run longer on demand.
import { createRealClock } from '@chatd/clock';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLanguageModel } from '../src/model/create-language-model.js';
import { ModelProviderError } from '../src/model/model-error.js';
import { streamModelStep } from '../src/model/stream-model-step.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? 17);
const params = { numRuns: RUNS, seed: SEED };

/** A fetch that answers every request with `status` and `body` cut into `chunks` pieces. */
function fakeFetch(status: number, contentType: string, chunks: Uint8Array[]): typeof fetch {
  return async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const c of chunks) controller.enqueue(c);
          controller.close();
        },
      }),
      { status, headers: { 'content-type': contentType } },
    );
}

const chunkObj = fc.record(
  {
    id: fc.string(),
    choices: fc.oneof(
      fc.array(fc.record({ index: fc.integer(), delta: fc.oneof(fc.record({ content: fc.oneof(fc.string(), fc.constant(null), fc.integer()) }, { requiredKeys: [] }), fc.anything()), finish_reason: fc.oneof(fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter', null), fc.string()) }, { requiredKeys: [] }), { maxLength: 3 }),
      fc.anything(),
    ),
    usage: fc.oneof(fc.record({ prompt_tokens: fc.integer(), completion_tokens: fc.integer(), total_tokens: fc.integer() }, { requiredKeys: [] }), fc.anything()),
  },
  { requiredKeys: [] },
);

/** Provider bodies: plausible chunks, garbage JSON, raw bytes, [DONE] anywhere. */
const providerBody = fc
  .array(
    fc.oneof(
      chunkObj.map((o) => `data: ${JSON.stringify(o)}\n\n`),
      fc.json().map((j) => `data: ${j}\n\n`),
      fc.string().map((s) => `data: ${s}\n\n`),
      fc.constantFrom('data: [DONE]\n\n', ': keep-alive\n\n', '\n', 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'),
    ),
    { maxLength: 20 },
  )
  .map((xs) => xs.join(''));

describe('fuzz: OpenAI-compatible streams through the AI SDK', () => {
  it('any body gives deltas and at most one finish, or a typed ModelProviderError', async () => {
    const encoder = new TextEncoder();
    await fc.assert(
      fc.asyncProperty(
        providerBody,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom(200, 200, 200, 400, 401, 429, 500, 503),
        fc.constantFrom('text/event-stream', 'application/json', 'text/plain'),
        async (body, cuts, status, contentType) => {
          const bytes = encoder.encode(body);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let at = 0;
          for (const p of [...points, bytes.length]) {
            chunks.push(bytes.slice(at, p));
            at = p;
          }
          const clock = createRealClock();
          const model = createLanguageModel({ kind: 'openai-compatible', name: 'fuzz', baseUrl: 'http://model.invalid/v1', apiKey: 'k', model: 'm', clock, fetch: fakeFetch(status, contentType, chunks) });
          const step = streamModelStep({ model, provider: 'fuzz', call: { prompt: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }, signal: new AbortController().signal, clock, strictFinish: true });
          let finishes = 0;
          try {
            for await (const e of step) {
              expect(['text-delta', 'reasoning-delta', 'finish']).toContain(e.type);
              if (e.type === 'text-delta' || e.type === 'reasoning-delta') expect(typeof e.text).toBe('string');
              else finishes++;
            }
            expect(finishes).toBe(1);
          } catch (err) {
            expect(err).toBeInstanceOf(ModelProviderError);
          }
        },
      ),
      params,
    );
  });
});
