// A deterministic stand-in for a language model, for local runs, demos and tests: an AI SDK
// `LanguageModelV3` that streams a reply word by word, paced on the injected clock, whose words are a pure
// function of the last user message. The same prompt and pace give the same tokens at the same clock times.
// It never touches the network and never fails except when cancelled; it reads no environment (see
// `demoModelOptionsFromEnv`). Tools come with the agent-steps issue.
import type { Clock } from '@chatd/clock';
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3Content, LanguageModelV3Prompt, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { z } from 'zod';
import { ModelProviderError } from './model-error.js';

/** Tokens streamed per second of clock time. @default 50 */
export const DEFAULT_DEMO_TOKENS_PER_SECOND = 50;
/** Tokens in each reply. @default 200 */
export const DEFAULT_DEMO_REPLY_TOKENS = 200;
/** Tag of the timer the demo model waits on before each token. */
export const DEMO_TOKEN_TIMER_TAG = 'demo-token';
/** Provider name of the demo model. */
export const DEMO_PROVIDER = 'demo';
/** Model name of the demo model. */
export const DEMO_MODEL = 'demo';

/** Pace and length of demo replies. */
export type DemoModelOptions = {
  /** @default DEFAULT_DEMO_TOKENS_PER_SECOND */
  tokensPerSecond?: number;
  /** @default DEFAULT_DEMO_REPLY_TOKENS */
  replyTokens?: number;
};

/** Options of `createDemoLanguageModel`. */
export type DemoLanguageModelOptions = DemoModelOptions & {
  /** Paces the tokens; tests pass a mock clock. */
  clock: Clock;
};

// Made-up filler vocabulary: the demo's words carry no meaning, only a stable shape.
const WORDS = [
  'the', 'daemon', 'streams', 'a', 'reply', 'token', 'by', 'token', 'while', 'every', 'replica', 'listens',
  'and', 'each', 'chat', 'keeps', 'its', 'history', 'in', 'order', 'so', 'clients', 'resume', 'where',
  'they', 'left', 'off', 'quietly', 'with', 'no', 'gaps', 'or', 'duplicates', 'model', 'step', 'worker',
  'queue', 'message', 'status', 'runs', 'waits', 'then', 'finishes', 'cleanly', 'under', 'load', 'over',
  'postgres', 'notify', 'channel', 'cursor', 'sequence', 'part', 'relay', 'heartbeat', 'steady', 'clock',
  'ticks', 'deterministic', 'demo', 'words', 'flow', 'gently', 'onward',
] as const;

const SENTENCE_MIN_WORDS = 5;
const SENTENCE_SPREAD_WORDS = 10;

/** 32-bit FNV-1a over UTF-16 code units: a stable seed from the prompt text. */
function hashText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The tokens of the demo reply to `prompt`: `count` words with leading spaces, in sentences ending in `.`. */
export function demoReplyTokens(prompt: string, count: number): string[] {
  const rand = createPrng(hashText(prompt));
  const tokens: string[] = [];
  let left = 0;
  for (let i = 0; i < count; i++) {
    const startsSentence = left === 0;
    if (startsSentence) left = SENTENCE_MIN_WORDS + Math.floor(rand() * SENTENCE_SPREAD_WORDS);
    let word: string = WORDS[Math.floor(rand() * WORDS.length)] ?? 'demo';
    if (startsSentence) word = word.charAt(0).toUpperCase() + word.slice(1);
    left--;
    if (left === 0 || i === count - 1) word += '.';
    tokens.push(i === 0 ? word : ` ${word}`);
  }
  return tokens;
}

const WORD = /\S+/g;
const countWords = (text: string): number => text.match(WORD)?.length ?? 0;

const promptPartsText = (content: LanguageModelV3Prompt[number]['content']): string =>
  typeof content === 'string' ? content : content.map((p) => (p.type === 'text' ? p.text : '')).join('');

/** The prompt the reply is seeded by: the text of the last user message ('' when there is none). */
function lastUserText(prompt: LanguageModelV3Prompt): string {
  for (let i = prompt.length - 1; i >= 0; i--) {
    const m = prompt[i];
    if (m?.role === 'user') return promptPartsText(m.content);
  }
  return '';
}

/** Input tokens as the demo counts them (contract.md#demo-tools): the words of every system, user and assistant text. */
function promptWords(prompt: LanguageModelV3Prompt): number {
  return prompt.reduce((sum, m) => sum + (m.role === 'tool' ? 0 : countWords(promptPartsText(m.content))), 0);
}

function invalid(message: string): ModelProviderError {
  return new ModelProviderError('INVALID_CONFIG', message, { provider: DEMO_PROVIDER });
}

function checkOptions(tokensPerSecond: number, replyTokens: number): void {
  if (!Number.isFinite(tokensPerSecond) || tokensPerSecond <= 0) throw invalid(`demo tokensPerSecond must be a positive number, got ${tokensPerSecond}`);
  if (!Number.isInteger(replyTokens) || replyTokens < 0) throw invalid(`demo replyTokens must be a non-negative integer, got ${replyTokens}`);
}

const envNumber = z.coerce.number().finite();

function readEnvNumber(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const parsed = envNumber.safeParse(raw);
  if (!parsed.success) throw invalid(`${name} must be a number, got "${raw}"`);
  return parsed.data;
}

/**
 * Reads the demo pace and length from `CHATD_DEMO_TOKENS_PER_SECOND` (default 50) and
 * `CHATD_DEMO_REPLY_TOKENS` (default 200). Throws `INVALID_CONFIG` on a value that is not usable.
 */
export function demoModelOptionsFromEnv(env: Record<string, string | undefined>): Required<DemoModelOptions> {
  const tokensPerSecond = readEnvNumber(env, 'CHATD_DEMO_TOKENS_PER_SECOND', DEFAULT_DEMO_TOKENS_PER_SECOND);
  const replyTokens = readEnvNumber(env, 'CHATD_DEMO_REPLY_TOKENS', DEFAULT_DEMO_REPLY_TOKENS);
  checkOptions(tokensPerSecond, replyTokens);
  return { tokensPerSecond, replyTokens };
}

function cancelled(cause?: unknown): ModelProviderError {
  return new ModelProviderError('CANCELLED', 'the demo model call was cancelled', { provider: DEMO_PROVIDER, cause });
}

/**
 * Creates the demo model. Token i (1-based) of a reply arrives `round(i * 1000 / tokensPerSecond)` ms after the
 * call, each wait a clock timer tagged `demo-token` armed only once the consumer asks for the token; `finish`
 * follows the last token at once with usage (input tokens are the prompt's whitespace-separated words).
 * Aborting `abortSignal` (or cancelling the stream) stops it with a `CANCELLED` error and no timer left.
 * Throws `INVALID_CONFIG` on bad options.
 */
export function createDemoLanguageModel(options: DemoLanguageModelOptions): LanguageModelV3 {
  const { clock } = options;
  const tokensPerSecond = options.tokensPerSecond ?? DEFAULT_DEMO_TOKENS_PER_SECOND;
  const replyTokens = options.replyTokens ?? DEFAULT_DEMO_REPLY_TOKENS;
  checkOptions(tokensPerSecond, replyTokens);
  const intervalMs = 1000 / tokensPerSecond;

  async function doStream(call: LanguageModelV3CallOptions) {
    const external = call.abortSignal;
    if (external?.aborted) throw cancelled(external.reason);
    const cap = call.maxOutputTokens;
    const count = cap === undefined ? replyTokens : Math.max(0, Math.min(replyTokens, Math.floor(cap)));
    const tokens = demoReplyTokens(lastUserText(call.prompt), count);
    const inputTokens = promptWords(call.prompt);
    const finishReason = count < replyTokens ? 'length' : 'stop';
    // Cancelling the stream stops a pending token wait just as an abort does.
    const stop = new AbortController();
    const signal = external ? AbortSignal.any([external, stop.signal]) : stop.signal;
    let i = 0;
    const stream = new ReadableStream<LanguageModelV3StreamPart>(
      {
        async pull(controller) {
          if (i === 0) {
            controller.enqueue({ type: 'stream-start', warnings: [] });
            controller.enqueue({ type: 'text-start', id: 'demo' });
          }
          if (i < tokens.length) {
            i++;
            // Rounded cumulative times, so a fractional interval never drifts.
            const waitMs = Math.round(i * intervalMs) - Math.round((i - 1) * intervalMs);
            try {
              if (signal.aborted) throw signal.reason;
              if (waitMs > 0) await clock.sleep(waitMs, signal, DEMO_TOKEN_TIMER_TAG);
            } catch (err) {
              controller.error(cancelled(err));
              return;
            }
            controller.enqueue({ type: 'text-delta', id: 'demo', delta: tokens[i - 1] ?? '' });
            return;
          }
          if (signal.aborted) {
            controller.error(cancelled(signal.reason));
            return;
          }
          controller.enqueue({ type: 'text-end', id: 'demo' });
          controller.enqueue({
            type: 'finish',
            finishReason: { unified: finishReason, raw: finishReason },
            usage: {
              inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: undefined, cacheWrite: undefined },
              outputTokens: { total: tokens.length, text: tokens.length, reasoning: 0 },
            },
          });
          controller.close();
        },
        cancel() {
          stop.abort(new Error('demo stream cancelled'));
        },
      },
      // Lazy: a token's timer is armed only when the consumer asks for it, so a slow reader is never raced.
      { highWaterMark: 0 },
    );
    return { stream };
  }

  return {
    specificationVersion: 'v3',
    provider: DEMO_PROVIDER,
    modelId: DEMO_MODEL,
    supportedUrls: {},
    doStream,
    async doGenerate(call) {
      const { stream } = await doStream(call);
      const content: LanguageModelV3Content[] = [];
      let text = '';
      let finish: Extract<LanguageModelV3StreamPart, { type: 'finish' }> | undefined;
      const reader = stream.getReader();
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        if (r.value.type === 'text-delta') text += r.value.delta;
        if (r.value.type === 'finish') finish = r.value;
      }
      content.push({ type: 'text', text });
      return { content, finishReason: finish!.finishReason, usage: finish!.usage, warnings: [] };
    },
  };
}
