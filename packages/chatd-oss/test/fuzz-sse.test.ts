// Input hardening (issue 17) for what a model provider sends: random and malformed `text/event-stream`
// bodies. The SSE decoder gives the same events however the bytes are split, and the OpenAI-compatible
// provider turns any body into deltas and one finish, or a typed ModelProviderError, never anything else.
// Fixed seed and bounded runs in `npm test`; FUZZ_RUNS=n (and FUZZ_SEED) run longer on demand.
import { createRealClock } from '@chatd/clock';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelProviderError } from '../src/model/model-error.js';
import { createOpenAiCompatibleProvider } from '../src/model/openai-compatible-provider.js';
import { createSseDecoder } from '../src/model/sse-decoder.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? 17);
const params = { numRuns: RUNS, seed: SEED };

/** SSE-ish text: real field lines, comments, blank lines, stray CR/LF and arbitrary text mixed. */
const sseText = fc
  .array(
    fc.oneof(
      fc.string().map((s) => `data: ${s}\n`),
      fc.string().map((s) => `data:${s}\r\n`),
      fc.constantFrom('\n', '\r\n', '\r', '\n\n', ': comment\n', 'event: x\n', 'id: 1\n', 'retry: 10\n', 'data\n', 'data: [DONE]\n\n'),
      fc.string({ unit: 'binary' }),
      fc.json().map((j) => `data: ${j}\n\n`),
    ),
    { maxLength: 30 },
  )
  .map((xs) => xs.join(''));

/** Splits `text` at the given cut points. */
function split(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let at = 0;
  for (const p of points) {
    out.push(text.slice(at, p));
    at = p;
  }
  out.push(text.slice(at));
  return out;
}

function decodeAll(chunks: string[]): string[] {
  const d = createSseDecoder();
  return [...chunks.flatMap((c) => d.push(c)), ...d.end()];
}

describe('fuzz: SSE decoder', () => {
  it('decodes the same events however the body is split into chunks', () => {
    fc.assert(
      fc.property(sseText, fc.array(fc.nat(), { maxLength: 12 }), (text, cuts) => {
        expect(decodeAll(split(text, cuts))).toEqual(decodeAll([text]));
      }),
      params,
    );
  });
});

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

describe('fuzz: OpenAI-compatible provider streams', () => {
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
          const provider = createOpenAiCompatibleProvider({ baseUrl: 'http://model.invalid/v1', apiKey: 'k', model: 'm', clock: createRealClock(), fetch: fakeFetch(status, contentType, chunks), idleTimeoutMs: 0 });
          let finishes = 0;
          try {
            for await (const e of provider.stream({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], signal: new AbortController().signal })) {
              expect(['text-delta', 'reasoning-delta', 'finish']).toContain(e.type);
              if (e.type !== 'finish') expect(typeof e.text).toBe('string');
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
