// Turns what a model call failed with into a ModelProviderError (contract.md#models, contract.md#model-errors).
// The AI SDK's typed errors come first: `APICallError` by its HTTP status (and `retry-after` headers),
// `LoadAPIKeyError`, `NoSuchModelError`, `InvalidResponseDataError`, `JSONParseError`/`TypeValidationError`
// (a malformed stream). Anything else is read by its text: permanent causes (cancel, auth, bad model,
// context length, quota, billing) win over transient ones (overload, rate limit, 5xx, connection, timeout);
// anything unrecognised is not retried. It does not wait and does not decide backoff.
// A thrown value's own text only classifies it: the error's message is a fixed text per code (the thrown
// value stays its `cause`, for the log), since such text may name hosts, addresses or internals.
import { APICallError, InvalidResponseDataError, JSONParseError, LoadAPIKeyError, NoSuchModelError, TypeValidationError } from '@ai-sdk/provider';
import { z } from 'zod';
import { INTERNAL_ERROR_MESSAGE, ModelProviderError, type ModelProviderErrorCode } from './model-error.js';
import { retryAfterFromRecord } from './retry-after.js';

/** The message of an error classified from a thrown value, by code: fixed texts, safe to show a client. */
export const CLASSIFIED_ERROR_MESSAGES: Readonly<Record<ModelProviderErrorCode, string>> = {
  RATE_LIMITED: 'the model provider is rate limiting requests',
  OVERLOADED: 'the model provider is overloaded',
  SERVER_ERROR: 'the model provider failed',
  TIMEOUT: 'the model call timed out',
  CONNECTION: 'the connection to the model provider failed',
  AUTH: 'the model provider refused the credentials',
  BAD_REQUEST: 'the model provider refused the request',
  MODEL_NOT_FOUND: 'the model was not found',
  CONTEXT_LENGTH_EXCEEDED: 'the conversation is too long for the model',
  QUOTA_EXCEEDED: 'the model provider quota is exhausted',
  MALFORMED_STREAM: 'the model sent a malformed answer',
  CONTENT_FILTER: 'the model provider filtered the reply',
  CANCELLED: 'the model call was cancelled',
  INVALID_CONFIG: 'the model is not configured correctly',
  UNKNOWN: INTERNAL_ERROR_MESSAGE,
};

type Rule = { code: ModelProviderErrorCode; pattern: RegExp; retryable?: boolean };

// Order matters: the first match wins, and the "not retried" list of contract.md#model-errors comes first so that,
// for example, a 429 saying "insufficient_quota" is a permanent quota error and not a rate limit.
const TEXT_RULES: readonly Rule[] = [
  // Only the caller's own cancellation; "connection aborted" by a peer is a transport failure, not a cancel.
  { code: 'CANCELLED', pattern: /context canceled|aborterror|operation was aborted/ },
  { code: 'TIMEOUT', pattern: /deadline exceeded/, retryable: false },
  { code: 'AUTH', pattern: /unauthori[sz]ed|forbidden|authenticat|invalid[ _-]?api[ _-]?key|incorrect api key|permission denied|access denied/ },
  { code: 'MODEL_NOT_FOUND', pattern: /model[ _-]?not[ _-]?found|invalid[ _-]?model|model .*does not exist|unknown model|no such model/ },
  { code: 'CONTEXT_LENGTH_EXCEEDED', pattern: /context[ _-]?length|maximum context|context window|prompt is too long|too many input tokens/ },
  { code: 'QUOTA_EXCEEDED', pattern: /quota|billing|payment required|insufficient[ _-]?(funds|credit|balance)/ },
  { code: 'OVERLOADED', pattern: /overloaded|\bstatus:? ?529\b/ },
  { code: 'RATE_LIMITED', pattern: /rate[ _-]?limit|too many requests|\bstatus:? ?429\b/ },
  { code: 'SERVER_ERROR', pattern: /server[ _-]?error|internal error|bad gateway|\bstatus:? ?50[023]\b/ },
  {
    code: 'CONNECTION',
    pattern: /econnreset|econnrefused|connection (reset|refused|closed|lost|aborted)|econnaborted|\beof\b|broken pipe|epipe|socket hang up|other side closed|terminated|und_err_socket|fetch failed|network/,
  },
  { code: 'TIMEOUT', pattern: /timeout|timed out|etimedout/ },
  { code: 'OVERLOADED', pattern: /unavailable/ },
];

/** Everything an error says about itself: messages, names, `code` and `type` properties down its `cause` chain. */
function errorText(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && cur !== undefined && cur !== null; depth++) {
    if (typeof cur === 'string') {
      parts.push(cur);
      break;
    }
    if (typeof cur !== 'object') {
      parts.push(String(cur));
      break;
    }
    const rec = cur as { name?: unknown; message?: unknown; code?: unknown; type?: unknown; cause?: unknown };
    // `type` names provider error objects sent inside a stream (Anthropic's `overloaded_error`).
    for (const v of [rec.name, rec.message, rec.code, rec.type]) if (typeof v === 'string' || typeof v === 'number') parts.push(String(v));
    cur = rec.cause;
  }
  return parts.join(' | ');
}

/** Classifies free text by contract.md#model-errors; `undefined` when nothing matches. */
export function classifyModelErrorText(text: string): { code: ModelProviderErrorCode; retryable?: boolean } | undefined {
  const lower = text.toLowerCase();
  const rule = TEXT_RULES.find((r) => r.pattern.test(lower));
  if (!rule) return undefined;
  return rule.retryable === undefined ? { code: rule.code } : { code: rule.code, retryable: rule.retryable };
}

/** Message of a stream that ended before the model said it had finished (a cut: contract.md#model-behaviour). */
export const STREAM_ENDED_EARLY_MESSAGE = 'the model stream ended before the model finished';

const apiErrorBodySchema = z.object({
  error: z.union([
    z.string(),
    z.object({ message: z.string().nullish(), code: z.union([z.string(), z.number()]).nullish(), type: z.string().nullish() }).passthrough(),
  ]),
});

/** The provider's own words from an error body: `error.message` and its code, else the raw text (cut short). */
function errorBodyDetail(data: unknown, body: string | undefined): string {
  const parsed = apiErrorBodySchema.safeParse(data);
  if (!parsed.success && body !== undefined) {
    try {
      const fromBody = apiErrorBodySchema.safeParse(JSON.parse(body));
      if (fromBody.success) return errorBodyDetail(fromBody.data, undefined);
    } catch {
      // not JSON: the raw text below
    }
  }
  if (parsed.success) {
    const e = parsed.data.error;
    if (typeof e === 'string') return e;
    const code = e.code ?? (e.type && e.type !== 'error' ? e.type : undefined);
    return [e.message, code === null || code === undefined ? undefined : `(${code})`].filter(Boolean).join(' ');
  }
  return (body ?? '').trim().slice(0, 500);
}

/** Classifies an `APICallError`: by status when the provider answered, else a transport failure. */
function classifyApiCallError(err: APICallError, provider: string, nowMs: number): ModelProviderError {
  if (err.statusCode === undefined || (err.statusCode >= 200 && err.statusCode < 300)) {
    // No answer at all ("Cannot connect to API"), or a 2xx body that broke off while read ("Failed to process
    // successful response"): a transport failure, whatever the cause chain says more precisely.
    const hit = classifyModelErrorText(errorText(err.cause ?? err));
    const code = hit?.code === 'TIMEOUT' || hit?.code === 'CANCELLED' ? hit.code : 'CONNECTION';
    return new ModelProviderError(code, CLASSIFIED_ERROR_MESSAGES[code], { provider, cause: err });
  }
  const retryAfterMs = err.responseHeaders ? retryAfterFromRecord(err.responseHeaders, nowMs) : undefined;
  const out = classifyHttpFailure(
    { status: err.statusCode, detail: errorBodyDetail(err.data, err.responseBody), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    provider,
  );
  return new ModelProviderError(out.code, out.message, {
    provider,
    retryable: out.retryable,
    statusCode: err.statusCode,
    ...(out.retryAfterMs === undefined ? {} : { retryAfterMs: out.retryAfterMs }),
    ...(out.detail === undefined ? {} : { detail: out.detail }),
    cause: err,
  });
}

/** Classifies the AI SDK's own error types; `undefined` for anything else. */
function classifySdkError(err: unknown, provider: string, nowMs: number): ModelProviderError | undefined {
  const fixed = (code: ModelProviderErrorCode, message = CLASSIFIED_ERROR_MESSAGES[code]) => new ModelProviderError(code, message, { provider, cause: err });
  if (APICallError.isInstance(err)) return classifyApiCallError(err, provider, nowMs);
  if (LoadAPIKeyError.isInstance(err)) return fixed('AUTH', 'the model provider has no API key');
  if (NoSuchModelError.isInstance(err)) return fixed('MODEL_NOT_FOUND');
  // The only InvalidResponseDataError without data is the chat-completions client's "stream ended without
  // a finish reason": a body cut short, retried like a dropped connection.
  if (InvalidResponseDataError.isInstance(err)) return err.data === undefined ? fixed('CONNECTION', STREAM_ENDED_EARLY_MESSAGE) : fixed('MALFORMED_STREAM');
  if (JSONParseError.isInstance(err) || TypeValidationError.isInstance(err)) return fixed('MALFORMED_STREAM');
  return undefined;
}

/**
 * Classifies any thrown value (or a stream's `error` part). A `ModelProviderError` is returned as it is; the
 * AI SDK's typed errors by their type and status; anything else by its text (message, name and `code` down
 * the cause chain); unrecognised errors become non-retryable `UNKNOWN`. A classified-by-text result's message
 * is `CLASSIFIED_ERROR_MESSAGES[code]`; the thrown value is its `cause`. `nowMs` reads `retry-after` dates.
 */
export function classifyModelError(err: unknown, provider: string, nowMs = 0): ModelProviderError {
  if (err instanceof ModelProviderError) return err;
  const sdk = classifySdkError(err, provider, nowMs);
  if (sdk) return sdk;
  const hit = classifyModelErrorText(errorText(err)) ?? { code: 'UNKNOWN' as const };
  return new ModelProviderError(hit.code, CLASSIFIED_ERROR_MESSAGES[hit.code], {
    provider,
    ...(hit.retryable === undefined ? {} : { retryable: hit.retryable }),
    cause: err,
  });
}

/** What the provider answered with a non-2xx status. */
export type HttpFailure = {
  status: number;
  /** The body's error message (or raw text), possibly empty. */
  detail: string;
  /** Parsed `retry-after`, when the answer carried one. */
  retryAfterMs?: number;
};

function codeForStatus(status: number): ModelProviderErrorCode {
  if (status === 401 || status === 403) return 'AUTH';
  if (status === 402) return 'QUOTA_EXCEEDED';
  if (status === 404) return 'MODEL_NOT_FOUND';
  if (status === 408 || status === 504) return 'TIMEOUT';
  if (status === 413) return 'CONTEXT_LENGTH_EXCEEDED';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 503 || status === 529) return 'OVERLOADED';
  if (status >= 500) return 'SERVER_ERROR';
  return 'BAD_REQUEST';
}

// The body may refine a status only towards a permanent cause (a 429 "insufficient_quota", a 400 "context
// length"); it never turns an auth failure or a bad request into something retryable.
const REFINABLE: ReadonlySet<ModelProviderErrorCode> = new Set(['BAD_REQUEST', 'RATE_LIMITED', 'MODEL_NOT_FOUND']);
const REFINEMENTS: ReadonlySet<ModelProviderErrorCode> = new Set(['QUOTA_EXCEEDED', 'CONTEXT_LENGTH_EXCEEDED', 'MODEL_NOT_FOUND', 'AUTH']);

/**
 * Classifies an HTTP failure: 401/403 `AUTH`, 402 `QUOTA_EXCEEDED`, 404 `MODEL_NOT_FOUND`, 408/504 `TIMEOUT`,
 * 413 `CONTEXT_LENGTH_EXCEEDED`, 429 `RATE_LIMITED`, 503/529 `OVERLOADED`, other 5xx `SERVER_ERROR` (501 is not
 * retried), other 4xx `BAD_REQUEST`; the body text may refine 4xx answers towards a permanent cause.
 */
export function classifyHttpFailure(failure: HttpFailure, provider: string): ModelProviderError {
  let code = codeForStatus(failure.status);
  if (REFINABLE.has(code) && failure.detail) {
    const hit = classifyModelErrorText(failure.detail);
    if (hit && REFINEMENTS.has(hit.code)) code = hit.code;
  }
  const summary = `${provider} answered HTTP ${failure.status}`;
  return new ModelProviderError(code, failure.detail ? `${summary}: ${failure.detail}` : summary, {
    provider,
    statusCode: failure.status,
    ...(failure.status === 501 ? { retryable: false } : {}),
    ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
    detail: failure.detail,
  });
}
