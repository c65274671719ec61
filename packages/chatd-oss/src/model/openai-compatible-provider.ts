// A ModelProvider for any OpenAI-compatible `POST /chat/completions` endpoint, streamed as server-sent
// events with `stream_options.include_usage`. Every chunk is validated with zod; HTTP and transport failures
// become classified `ModelProviderError`s (contract.md#model-errors). Aborting the request signal, an idle
// timeout on the injected clock, or breaking out of the iteration abort the fetch, so no request outlives
// the call. It does not retry, and sends no tools: text and reasoning only.
import { createRealClock, type Clock, type Timer } from '@chatd/clock';
import { z } from 'zod';
import { classifyHttpFailure, classifyModelErrorText } from './classify-model-error.js';
import { ModelProviderError } from './model-error.js';
import {
  messageText,
  type ModelFinishReason,
  type ModelProvider,
  type ModelRequest,
  type ModelStreamEvent,
  type ModelUsage,
} from './model-provider.js';
import { retryAfterFromHeaders } from './retry-after.js';
import { createSseDecoder } from './sse-decoder.js';

/** Provider name of OpenAI-compatible endpoints. */
export const OPENAI_COMPATIBLE_PROVIDER = 'openai-compatible';
/**
 * Longest wait for the provider (for response headers, or for the next body bytes) before the call fails as a
 * retryable `TIMEOUT`. Time the consumer spends on a yielded event does not count. Long because some
 * reasoning models think for minutes without streaming. @default 300000
 */
export const DEFAULT_MODEL_IDLE_TIMEOUT_MS = 300_000;
/** Tag of the idle-timeout timer, armed only while waiting for the provider. */
export const OPENAI_IDLE_TIMER_TAG = 'model-idle';
/** At most this much of an error body is read for its message. @default 65536 */
export const MAX_MODEL_ERROR_BODY_BYTES = 64 * 1024;

/** Options of `createOpenAiCompatibleProvider`. */
export type OpenAiCompatibleProviderOptions = {
  /** API root, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`; empty sends none (local servers). */
  apiKey: string;
  /** Model used when a request names none. */
  model: string;
  /** Provider name carried by errors (e.g. the database config's `provider`). @default 'openai-compatible' */
  name?: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Times the idle timeout and reads `retry-after` dates. @default createRealClock() */
  clock?: Clock;
  /** 0 disables it. @default DEFAULT_MODEL_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number;
};

const usageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative().nullish(),
  completion_tokens_details: z.object({ reasoning_tokens: z.number().int().nonnegative().nullish() }).nullish(),
});

const chunkSchema = z.object({
  choices: z
    .array(
      z.object({
        delta: z
          .object({
            content: z.string().nullish(),
            reasoning_content: z.string().nullish(),
            reasoning: z.string().nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: usageSchema.nullish(),
});

const streamErrorSchema = z.object({
  error: z.union([
    z.string(),
    z.object({ message: z.string().nullish(), code: z.union([z.string(), z.number()]).nullish(), type: z.string().nullish() }),
  ]),
});

const errorBodySchema = z.object({
  error: z.union([z.string(), z.object({ message: z.string().nullish(), code: z.union([z.string(), z.number()]).nullish() })]),
});

type WireMessage = { role: 'system' | 'user' | 'assistant'; content: string };

function finishReasonOf(reason: string | undefined): ModelFinishReason {
  switch (reason) {
    case 'stop':
      return 'stop';
    case 'length':
      return 'length';
    case 'content_filter':
      return 'content-filter';
    case 'tool_calls':
    case 'function_call':
      return 'tool-calls';
    default:
      return 'other';
  }
}

/** The chat-completions `messages`: the system prompt first, then text-only history (tool rows are dropped). */
function toWireMessages(request: ModelRequest): WireMessage[] {
  const out: WireMessage[] = [];
  if (request.systemPrompt) out.push({ role: 'system', content: request.systemPrompt });
  for (const m of request.messages) {
    if (m.role === 'tool') continue;
    const content = messageText(m);
    if (content === '') continue;
    out.push({ role: m.role, content });
  }
  return out;
}

function errorBodyDetail(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return trimmed.slice(0, 500);
  }
  const parsed = errorBodySchema.safeParse(json);
  if (!parsed.success) return trimmed.slice(0, 500);
  const e = parsed.data.error;
  if (typeof e === 'string') return e;
  return [e.message, e.code === null || e.code === undefined ? undefined : `(${e.code})`].filter(Boolean).join(' ');
}

/** Creates a provider for one OpenAI-compatible endpoint and default model. */
export function createOpenAiCompatibleProvider(options: OpenAiCompatibleProviderOptions): ModelProvider {
  const provider = options.name || OPENAI_COMPATIBLE_PROVIDER;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? createRealClock({ unref: true });
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_MODEL_IDLE_TIMEOUT_MS;
  if (!options.baseUrl) throw new ModelProviderError('INVALID_CONFIG', 'an OpenAI-compatible provider needs a baseUrl', { provider });
  if (!options.model) throw new ModelProviderError('INVALID_CONFIG', 'an OpenAI-compatible provider needs a model', { provider });
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;

  async function* stream(request: ModelRequest): AsyncGenerator<ModelStreamEvent> {
    const { signal } = request;
    const cancelled = (cause?: unknown) =>
      new ModelProviderError('CANCELLED', 'the model call was cancelled', { provider, cause: cause ?? signal.reason });
    if (signal.aborted) throw cancelled();

    // Our own controller: aborted by the caller's signal, by the idle timer, or by our own cleanup.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    let idle: Timer | undefined;
    // The idle timer runs only while we wait for the provider, never while the consumer holds an event.
    const waitingForProvider = async <T>(work: Promise<T>): Promise<T> => {
      if (idleTimeoutMs > 0) {
        if (idle) idle.reset(idleTimeoutMs);
        else {
          idle = clock.setTimeout(
            () => {
              timedOut = true;
              controller.abort(new Error(`no data from the model for ${idleTimeoutMs} ms`));
            },
            idleTimeoutMs,
            OPENAI_IDLE_TIMER_TAG,
          );
        }
      }
      try {
        return await work;
      } finally {
        idle?.cancel();
      }
    };

    // Why a fetch or read failed: our caller's cancel, our idle timer, else the connection. The socket
    // error (which names the provider's address) is the cause, for the log; the message is fixed.
    const transportError = (err: unknown, what: string): ModelProviderError => {
      if (signal.aborted) return cancelled(err);
      if (timedOut) return new ModelProviderError('TIMEOUT', `the model sent nothing for ${idleTimeoutMs} ms`, { provider, cause: err });
      return new ModelProviderError('CONNECTION', what, { provider, cause: err });
    };

    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let bodyEnded = false;
    try {
      const body: Record<string, unknown> = {
        model: request.config?.model ?? options.model,
        messages: toWireMessages(request),
        stream: true,
        stream_options: { include_usage: true },
      };
      if (request.config?.temperature !== undefined) body.temperature = request.config.temperature;
      if (request.config?.maxOutputTokens !== undefined) body.max_tokens = request.config.maxOutputTokens;
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
      if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;

      let response: Response;
      try {
        response = await waitingForProvider(fetchImpl(url, { method: 'POST', headers, body: JSON.stringify(body), signal: controller.signal }));
      } catch (err) {
        throw transportError(err, 'the model request failed');
      }
      if (response.body) reader = response.body.getReader();
      else bodyEnded = true;

      const readChunk = async (what: string) => {
        try {
          // Only reached with a body: a missing one is handled before any read.
          const chunk = await waitingForProvider(reader!.read());
          if (chunk.done) bodyEnded = true;
          return chunk;
        } catch (err) {
          throw transportError(err, what);
        }
      };

      if (!response.ok) {
        const decoder = new TextDecoder();
        let text = '';
        let bytes = 0;
        while (reader && bytes < MAX_MODEL_ERROR_BODY_BYTES) {
          const chunk = await readChunk('reading the error answer failed');
          if (chunk.done) break;
          bytes += chunk.value.byteLength;
          text += decoder.decode(chunk.value, { stream: true });
        }
        const retryAfterMs = retryAfterFromHeaders(response.headers, clock.nowMs());
        throw classifyHttpFailure(
          { status: response.status, detail: errorBodyDetail(text), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
          provider,
        );
      }
      const contentType = (response.headers.get('content-type') ?? '').toLowerCase();
      // A JSON or HTML answer means a server that ignored `stream: true` or a base URL that is not an API:
      // retrying cannot help.
      if (!reader || /application\/json|text\/html/.test(contentType)) {
        throw new ModelProviderError('MALFORMED_STREAM', `${provider} answered ${contentType || 'no body'}, not an event stream`, {
          provider,
          statusCode: response.status,
        });
      }

      const decoder = new TextDecoder();
      const sse = createSseDecoder();
      let finishReason: string | undefined;
      let usage: ModelUsage | undefined;
      let sawDone = false;
      let dataEvents = 0;

      const handle = function* (data: string): Generator<ModelStreamEvent> {
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch (err) {
          throw new ModelProviderError('MALFORMED_STREAM', 'the model stream sent a chunk that is not JSON', { provider, detail: data.slice(0, 200), cause: err });
        }
        const streamError = streamErrorSchema.safeParse(json);
        if (streamError.success) {
          const e = streamError.data.error;
          const text = typeof e === 'string' ? e : [e.message, e.type, e.code].filter((v) => v !== null && v !== undefined).join(' ');
          const hit = classifyModelErrorText(text);
          throw new ModelProviderError(hit?.code ?? 'UNKNOWN', `the model stream reported an error: ${text}`, {
            provider,
            ...(hit?.retryable === undefined ? {} : { retryable: hit.retryable }),
            detail: text,
          });
        }
        const parsed = chunkSchema.safeParse(json);
        if (!parsed.success) {
          throw new ModelProviderError('MALFORMED_STREAM', 'the model stream sent a chunk of an unexpected shape', {
            provider,
            detail: data.slice(0, 200),
            cause: parsed.error,
          });
        }
        const chunk = parsed.data;
        const choice = chunk.choices?.[0];
        const reasoning = choice?.delta?.reasoning_content ?? choice?.delta?.reasoning;
        if (reasoning) yield { type: 'reasoning-delta', text: reasoning };
        const content = choice?.delta?.content;
        if (content) yield { type: 'text-delta', text: content };
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk.usage) {
          const u = chunk.usage;
          usage = {
            inputTokens: u.prompt_tokens,
            outputTokens: u.completion_tokens,
            totalTokens: u.total_tokens ?? u.prompt_tokens + u.completion_tokens,
          };
          const reasoningTokens = u.completion_tokens_details?.reasoning_tokens;
          if (reasoningTokens !== null && reasoningTokens !== undefined) usage.reasoningTokens = reasoningTokens;
        }
      };

      read: for (;;) {
        const chunk = await readChunk('the model stream broke off');
        const events = chunk.done ? sse.end() : sse.push(decoder.decode(chunk.value, { stream: true }));
        for (const data of events) {
          dataEvents++;
          if (data.trim() === '[DONE]') {
            sawDone = true;
            break read;
          }
          for (const event of handle(data)) {
            yield event;
            if (signal.aborted) throw cancelled();
          }
        }
        if (chunk.done) break;
      }
      // A body that ends with neither `[DONE]` nor a finish reason is a stream cut short (the "EOF" of
      // contract.md#model-errors): retryable. One with a finish reason but no `[DONE]` is accepted, as some servers
      // omit it.
      // A complete body with no event at all that did not even claim to be an event stream is no stream.
      if (!sawDone && finishReason === undefined) {
        if (dataEvents === 0 && !contentType.includes('event-stream')) {
          throw new ModelProviderError('MALFORMED_STREAM', `${provider} answered a body with no events`, { provider, statusCode: response.status });
        }
        throw new ModelProviderError('CONNECTION', 'the model stream ended before the model finished', { provider });
      }
      yield usage === undefined ? { type: 'finish', finishReason: finishReasonOf(finishReason) } : { type: 'finish', finishReason: finishReasonOf(finishReason), usage };
    } finally {
      idle?.cancel();
      signal.removeEventListener('abort', onAbort);
      // Whatever ended the call (error, cancel, `[DONE]` before the body closed, or a consumer that stopped
      // iterating), a body not read to its end is aborted so the socket is released, not left dangling.
      if (!bodyEnded) controller.abort(new Error('model call finished'));
      reader?.releaseLock();
    }
  }

  return { provider, model: options.model, stream };
}
