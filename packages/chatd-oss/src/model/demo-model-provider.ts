// A deterministic stand-in for a language model, for local runs, demos and tests: it streams a reply
// word by word, paced on the injected clock, whose words are a pure function of the last user message.
// The same prompt and pace give the same tokens at the same clock times. It never touches the network
// and never fails except when cancelled; it reads no environment (see `demoModelOptionsFromEnv`).
import type { Clock } from '@chatd/clock';
import { z } from 'zod';
import { ModelProviderError } from './model-error.js';
import { messageText, type ModelProvider, type ModelRequest, type ModelStreamEvent } from './model-provider.js';

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

/** Options of `createDemoModelProvider`. */
export type DemoModelProviderOptions = DemoModelOptions & {
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

/** The prompt the reply is seeded by: the text of the last user message ('' when there is none). */
function lastUserText(request: ModelRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i];
    if (m?.role === 'user') return messageText(m);
  }
  return '';
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
 * call, each wait a clock timer tagged `demo-token`; `finish` follows the last token at once with usage
 * (input tokens are the prompt's whitespace-separated words). Throws `INVALID_CONFIG` on bad options.
 */
export function createDemoModelProvider(options: DemoModelProviderOptions): ModelProvider {
  const { clock } = options;
  const tokensPerSecond = options.tokensPerSecond ?? DEFAULT_DEMO_TOKENS_PER_SECOND;
  const replyTokens = options.replyTokens ?? DEFAULT_DEMO_REPLY_TOKENS;
  checkOptions(tokensPerSecond, replyTokens);
  const intervalMs = 1000 / tokensPerSecond;

  async function* stream(request: ModelRequest): AsyncGenerator<ModelStreamEvent> {
    const { signal } = request;
    if (signal.aborted) throw cancelled(signal.reason);
    const cap = request.config?.maxOutputTokens;
    const count = cap === undefined ? replyTokens : Math.max(0, Math.min(replyTokens, Math.floor(cap)));
    const tokens = demoReplyTokens(lastUserText(request), count);
    const inputTokens =
      countWords(request.systemPrompt ?? '') + request.messages.reduce((sum, m) => sum + countWords(messageText(m)), 0);

    for (let i = 1; i <= tokens.length; i++) {
      // Rounded cumulative times, so a fractional interval never drifts.
      const waitMs = Math.round(i * intervalMs) - Math.round((i - 1) * intervalMs);
      if (waitMs > 0) {
        try {
          await clock.sleep(waitMs, signal, DEMO_TOKEN_TIMER_TAG);
        } catch (err) {
          throw cancelled(err);
        }
      }
      // The consumer may have aborted while we were suspended at the previous yield.
      if (signal.aborted) throw cancelled(signal.reason);
      yield { type: 'text-delta', text: tokens[i - 1] ?? '' };
    }
    if (signal.aborted) throw cancelled(signal.reason);
    yield {
      type: 'finish',
      finishReason: count < replyTokens ? 'length' : 'stop',
      usage: { inputTokens, outputTokens: tokens.length, totalTokens: inputTokens + tokens.length },
    };
  }

  return { provider: DEMO_PROVIDER, model: DEMO_MODEL, stream };
}
