// A deterministic stand-in for a language model, for local runs, demos and tests: an AI SDK
// `LanguageModelV3` that streams a reply word by word, paced on the injected clock, whose words are a pure
// function of the last user message, or tool calls and their results read back by the tool rule
// (contract.md#demo-tools). The same prompt and pace give the same tokens at the same clock times.
// It never touches the network and never fails except when cancelled; it reads no environment (see
// `demoModelOptionsFromEnv`).
import type { Clock } from '@chatd/clock';
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3Content, LanguageModelV3Prompt, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { z } from 'zod';
import { ModelProviderError } from './model-error.js';
import { COMPACTION_SYSTEM_PROMPT, TITLE_SYSTEM_PROMPT, demoSummaryText, demoTitleText } from './task-prompts.js';

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
/** `tool-input-delta` chunks the demo streams each tool input in (fewer for a shorter input). @default 3 */
export const DEMO_TOOL_INPUT_CHUNKS = 3;

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

type PromptMessage = LanguageModelV3Prompt[number];
type ToolResultOutput = Extract<Extract<PromptMessage, { role: 'tool' }>['content'][number], { type: 'tool-result' }>['output'];

/** A tool result's value as compact JSON, whatever output type carries it. */
function outputJson(output: ToolResultOutput): string {
  switch (output.type) {
    case 'text':
    case 'error-text':
    case 'json':
    case 'error-json':
    case 'content':
      return JSON.stringify(output.value ?? null);
    case 'execution-denied':
      return JSON.stringify(output.reason === undefined ? { denied: true } : { denied: true, reason: output.reason });
    default:
      return 'null';
  }
}

/**
 * A message's model-visible text, as the demo reads and counts it: text and reasoning as they are, a tool call as
 * its name and compact input, a tool result as its name and compact result (contract.md#demo-tools).
 */
function messageWordsText(m: PromptMessage): string {
  if (typeof m.content === 'string') return m.content;
  return m.content
    .map((p) => {
      switch (p.type) {
        case 'text':
        case 'reasoning':
          return p.text;
        case 'tool-call':
          return `${p.toolName} ${JSON.stringify(p.input ?? {})}`;
        case 'tool-result':
          return `${p.toolName} ${outputJson(p.output)}`;
        default:
          return '';
      }
    })
    .join(' ');
}

const textOf = (m: PromptMessage): string =>
  typeof m.content === 'string' ? m.content : m.content.map((p) => (p.type === 'text' ? p.text : '')).join('');

/** The prompt the reply is seeded by: the text of the last user message ('' when there is none). */
function lastUserText(prompt: LanguageModelV3Prompt): string {
  for (let i = prompt.length - 1; i >= 0; i--) {
    const m = prompt[i];
    if (m?.role === 'user') return textOf(m);
  }
  return '';
}

/** Input tokens as the demo counts them (contract.md#demo-tools): the words of every message, tool calls and results included. */
export function demoPromptWords(prompt: LanguageModelV3Prompt): number {
  return prompt.reduce((sum, m) => sum + countWords(messageWordsText(m)), 0);
}

/** A tool call the demo makes: its id, name and input as compact JSON text. */
export type DemoToolCall = { toolCallId: string; toolName: string; input: string };

// `call <tool_name>` then optional JSON: the whole (trimmed) line, nothing before it.
const CALL_LINE = /^call\s+([a-zA-Z0-9_-]{1,64})(?:\s+(.*))?$/;

/**
 * The tool calls a user's text asks for (contract.md#demo-tools): one per line `call <tool_name> <json>` naming a
 * tool in `offered`, in order; the JSON is optional (`{}`), and a line whose rest is not JSON is not a call. Ids
 * are a hash of `seed` (the whole prompt, so they differ from turn to turn) and the call's position.
 */
export function demoToolCalls(text: string, offered: ReadonlySet<string>, seed: string): DemoToolCall[] {
  const calls: DemoToolCall[] = [];
  const base = hashText(seed).toString(16).padStart(8, '0');
  for (const line of text.split(/\r?\n/)) {
    const m = CALL_LINE.exec(line.trim());
    if (!m || !offered.has(m[1]!)) continue;
    let input: unknown = {};
    if (m[2] !== undefined && m[2].trim() !== '') {
      try {
        input = JSON.parse(m[2]);
      } catch {
        continue;
      }
    }
    calls.push({ toolCallId: `demo_${base}_${calls.length + 1}`, toolName: m[1]!, input: JSON.stringify(input) });
  }
  return calls;
}

/** The reply to a `tool` message: one line per result, `<tool_name> returned <result as compact JSON>`. */
export function demoToolResultsText(message: Extract<PromptMessage, { role: 'tool' }>): string {
  return message.content
    .flatMap((p) => (p.type === 'tool-result' ? [`${p.toolName} returned ${outputJson(p.output)}`] : []))
    .join('\n');
}

/** Splits text into word tokens, each carrying the whitespace before it (so the tokens join back to the text). */
function wordTokens(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

/** Splits a tool input's JSON text into DEMO_TOOL_INPUT_CHUNKS pieces (fewer when it is shorter). */
function inputChunks(input: string): string[] {
  const size = Math.max(1, Math.ceil(input.length / DEMO_TOOL_INPUT_CHUNKS));
  const chunks: string[] = [];
  for (let i = 0; i < input.length; i += size) chunks.push(input.slice(i, i + size));
  return chunks;
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

type FinishPart = Extract<LanguageModelV3StreamPart, { type: 'finish' }>;
/** One part of a planned demo stream; a `paced` part waits one token interval on the clock before it is sent. */
type Planned = { part: LanguageModelV3StreamPart; paced: boolean };

/** The stream of a text reply: its tokens paced, then the finish. */
function planText(tokens: readonly string[], finishReason: 'stop' | 'length', inputTokens: number): Planned[] {
  return [
    { part: { type: 'text-start', id: 'demo' }, paced: false },
    ...tokens.map((delta): Planned => ({ part: { type: 'text-delta', id: 'demo', delta }, paced: true })),
    { part: { type: 'text-end', id: 'demo' }, paced: false },
    { part: finishPart(finishReason, inputTokens, tokens.length), paced: false },
  ];
}

/** The stream of tool calls: each input in paced chunks, then the complete call; finish reason `tool-calls`. */
function planToolCalls(calls: readonly DemoToolCall[], inputTokens: number): Planned[] {
  const plan: Planned[] = [];
  let words = 0;
  for (const c of calls) {
    plan.push({ part: { type: 'tool-input-start', id: c.toolCallId, toolName: c.toolName }, paced: false });
    for (const delta of inputChunks(c.input)) plan.push({ part: { type: 'tool-input-delta', id: c.toolCallId, delta }, paced: true });
    plan.push({ part: { type: 'tool-input-end', id: c.toolCallId }, paced: false });
    plan.push({ part: { type: 'tool-call', toolCallId: c.toolCallId, toolName: c.toolName, input: c.input }, paced: false });
    words += countWords(`${c.toolName} ${c.input}`);
  }
  plan.push({ part: finishPart('tool-calls', inputTokens, words), paced: false });
  return plan;
}

function finishPart(reason: 'stop' | 'length' | 'tool-calls', inputTokens: number, outputTokens: number): FinishPart {
  return {
    type: 'finish',
    finishReason: { unified: reason, raw: reason },
    usage: {
      inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: outputTokens, text: outputTokens, reasoning: 0 },
    },
  };
}

/**
 * Creates the demo model. Token i (1-based) of a reply arrives `round(i * 1000 / tokensPerSecond)` ms after the
 * call, each wait a clock timer tagged `demo-token` armed only once the consumer asks for the token; `finish`
 * follows the last token at once with usage (input tokens are the prompt's whitespace-separated words).
 * The tool rule (contract.md#demo-tools): a newest user message with `call <tool> <json>` lines naming offered
 * function tools is answered with those calls, each input streamed in paced chunks, finish reason `tool-calls`;
 * a newest `tool` message is answered with one `<tool> returned <json>` line per result.
 * Aborting `abortSignal` (or cancelling the stream) stops it with a `CANCELLED` error and no timer left.
 * Throws `INVALID_CONFIG` on bad options.
 */
export function createDemoLanguageModel(options: DemoLanguageModelOptions): LanguageModelV3 {
  const { clock } = options;
  const tokensPerSecond = options.tokensPerSecond ?? DEFAULT_DEMO_TOKENS_PER_SECOND;
  const replyTokens = options.replyTokens ?? DEFAULT_DEMO_REPLY_TOKENS;
  checkOptions(tokensPerSecond, replyTokens);
  const intervalMs = 1000 / tokensPerSecond;

  /** What the step answers: tool calls, the tool results read back, or the seeded filler reply. */
  function plan(call: LanguageModelV3CallOptions): Planned[] {
    const inputTokens = demoPromptWords(call.prompt);
    const newest = call.prompt.at(-1);
    // chatd's own requests (contract.md#compaction): a deterministic summary or title of the user message.
    const system = call.prompt[0]?.role === 'system' ? call.prompt[0].content : undefined;
    if ((system === COMPACTION_SYSTEM_PROMPT || system === TITLE_SYSTEM_PROMPT) && newest?.role === 'user') {
      const task = system === COMPACTION_SYSTEM_PROMPT ? demoSummaryText(textOf(newest)) : demoTitleText(textOf(newest));
      return planText(wordTokens(task), 'stop', inputTokens);
    }
    const offered = new Set((call.tools ?? []).flatMap((t) => (t.type === 'function' ? [t.name] : [])));
    if (newest?.role === 'user' && offered.size > 0) {
      const calls = demoToolCalls(textOf(newest), offered, JSON.stringify(call.prompt));
      if (calls.length > 0) return planToolCalls(calls, inputTokens);
    }
    const cap = call.maxOutputTokens;
    const capped = (tokens: string[]) => (cap === undefined ? tokens : tokens.slice(0, Math.max(0, Math.floor(cap))));
    if (newest?.role === 'tool') {
      const all = wordTokens(demoToolResultsText(newest));
      const tokens = capped(all);
      return planText(tokens, tokens.length < all.length ? 'length' : 'stop', inputTokens);
    }
    const count = cap === undefined ? replyTokens : Math.max(0, Math.min(replyTokens, Math.floor(cap)));
    return planText(demoReplyTokens(lastUserText(call.prompt), count), count < replyTokens ? 'length' : 'stop', inputTokens);
  }

  async function doStream(call: LanguageModelV3CallOptions) {
    const external = call.abortSignal;
    if (external?.aborted) throw cancelled(external.reason);
    const planned = plan(call);
    // Cancelling the stream stops a pending token wait just as an abort does.
    const stop = new AbortController();
    const signal = external ? AbortSignal.any([external, stop.signal]) : stop.signal;
    let next = 0;
    let paced = 0;
    let started = false;
    const stream = new ReadableStream<LanguageModelV3StreamPart>(
      {
        // Each pull sends the parts up to and including the next paced one, so a token waits for its reader.
        async pull(controller) {
          if (!started) {
            started = true;
            controller.enqueue({ type: 'stream-start', warnings: [] });
          }
          if (signal.aborted) {
            controller.error(cancelled(signal.reason));
            return;
          }
          while (next < planned.length) {
            const item = planned[next++]!;
            if (item.paced) {
              paced++;
              // Rounded cumulative times, so a fractional interval never drifts.
              const waitMs = Math.round(paced * intervalMs) - Math.round((paced - 1) * intervalMs);
              try {
                if (signal.aborted) throw signal.reason;
                if (waitMs > 0) await clock.sleep(waitMs, signal, DEMO_TOKEN_TIMER_TAG);
              } catch (err) {
                controller.error(cancelled(err));
                return;
              }
              controller.enqueue(item.part);
              return;
            }
            controller.enqueue(item.part);
          }
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
      let finish: FinishPart | undefined;
      const reader = stream.getReader();
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        if (r.value.type === 'text-delta') text += r.value.delta;
        if (r.value.type === 'tool-call') content.push(r.value);
        if (r.value.type === 'finish') finish = r.value;
      }
      if (text !== '' || content.length === 0) content.unshift({ type: 'text', text });
      return { content, finishReason: finish!.finishReason, usage: finish!.usage, warnings: [] };
    },
  };
}
