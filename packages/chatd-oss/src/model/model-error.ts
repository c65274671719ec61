// The error a model step fails with, classified as contract.md#model-errors asks: a closed `code`, whether
// the run loop should retry (`retryable`), the HTTP status and the server's `retry-after` when there was
// one. It lives apart from ChatdError only so the two could be built at once; folding it in is a rename.
// It does not decide backoff: the run loop does (contract.md#retry-backoff), using `retryAfterMs` as a lower bound.
import type { LanguageModelV3Usage } from '@ai-sdk/provider';
import type { ChatStreamError } from '@chatd/protocol';

/**
 * Error codes of a model call. Retryable by default: `RATE_LIMITED`, `OVERLOADED`, `SERVER_ERROR`, `TIMEOUT`,
 * `CONNECTION`. Never retried: `AUTH`, `BAD_REQUEST`, `MODEL_NOT_FOUND`, `CONTEXT_LENGTH_EXCEEDED`,
 * `QUOTA_EXCEEDED`, `MALFORMED_STREAM`, `CONTENT_FILTER`, `CANCELLED`, `INVALID_CONFIG`, `UNKNOWN`.
 */
export type ModelProviderErrorCode =
  | 'RATE_LIMITED'
  | 'OVERLOADED'
  | 'SERVER_ERROR'
  | 'TIMEOUT'
  | 'CONNECTION'
  | 'AUTH'
  | 'BAD_REQUEST'
  | 'MODEL_NOT_FOUND'
  | 'CONTEXT_LENGTH_EXCEEDED'
  | 'QUOTA_EXCEEDED'
  | 'MALFORMED_STREAM'
  | 'CONTENT_FILTER'
  | 'CANCELLED'
  | 'INVALID_CONFIG'
  | 'UNKNOWN';

/** The `kind` each code is reported with on the wire (`ChatStreamError.kind`, `ChatStreamRetry.kind`). */
export const MODEL_ERROR_KINDS: Readonly<Record<ModelProviderErrorCode, string>> = {
  RATE_LIMITED: 'rate_limit',
  OVERLOADED: 'overloaded',
  SERVER_ERROR: 'server_error',
  TIMEOUT: 'timeout',
  CONNECTION: 'connection',
  AUTH: 'auth',
  BAD_REQUEST: 'bad_request',
  MODEL_NOT_FOUND: 'model_not_found',
  CONTEXT_LENGTH_EXCEEDED: 'context_length_exceeded',
  QUOTA_EXCEEDED: 'quota_exceeded',
  MALFORMED_STREAM: 'malformed_stream',
  CONTENT_FILTER: 'content_filter',
  CANCELLED: 'cancelled',
  INVALID_CONFIG: 'invalid_config',
  UNKNOWN: 'unknown',
};

/**
 * The whole client-facing text of a failure nobody chose words for (a TypeError, a database error, a socket
 * error naming an address): its own text goes to the log, never to `last_error` or a stream event.
 */
export const INTERNAL_ERROR_MESSAGE = 'internal error';

/** The `ChatStreamError` of an unexpected failure: a fixed text, kind `unknown`, not retried. */
export function internalErrorPayload(): ChatStreamError {
  return { message: INTERNAL_ERROR_MESSAGE, kind: MODEL_ERROR_KINDS.UNKNOWN, retryable: false };
}

const RETRYABLE_CODES: ReadonlySet<ModelProviderErrorCode> = new Set(['RATE_LIMITED', 'OVERLOADED', 'SERVER_ERROR', 'TIMEOUT', 'CONNECTION']);

/** Whether errors with this code are retried unless told otherwise (contract.md#model-errors). */
export function isRetryableModelErrorCode(code: ModelProviderErrorCode): boolean {
  return RETRYABLE_CODES.has(code);
}

/** Options of a `ModelProviderError`. */
export type ModelProviderErrorOptions = {
  /** Provider name (`demo`, a provider row's name such as `openai`). */
  provider: string;
  /** Overrides the code's default retryability (e.g. a deadline is a `TIMEOUT` that is not retried). */
  retryable?: boolean;
  /** HTTP status of the provider's answer, when there was one. */
  statusCode?: number;
  /** How long the provider asked to wait (`retry-after`), in milliseconds, never negative. */
  retryAfterMs?: number;
  /** The provider's own error text, kept apart from the summary in `message`. */
  detail?: string;
  /** Usage the provider reported before the call failed (a finish it then refused): the call is still charged (contract.md#cost). */
  usage?: LanguageModelV3Usage;
  cause?: unknown;
};

/** A failed model call. Test `code` or `retryable`, never the message. */
export class ModelProviderError extends Error {
  readonly code: ModelProviderErrorCode;
  readonly retryable: boolean;
  readonly provider: string;
  readonly statusCode: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly detail: string | undefined;
  readonly usage: LanguageModelV3Usage | undefined;

  constructor(code: ModelProviderErrorCode, message: string, options: ModelProviderErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ModelProviderError';
    this.code = code;
    this.provider = options.provider;
    this.retryable = options.retryable ?? isRetryableModelErrorCode(code);
    this.statusCode = options.statusCode;
    this.retryAfterMs = options.retryAfterMs === undefined ? undefined : Math.max(0, options.retryAfterMs);
    this.detail = options.detail;
    this.usage = options.usage;
  }

  /** The wire `kind` of this error's code. */
  get kind(): string {
    return MODEL_ERROR_KINDS[this.code];
  }
}

/** The structured payload (`ChatStreamError`, contract.md#error-payload) for an `error` event or `Chat.last_error`. */
export function toChatStreamError(err: ModelProviderError): ChatStreamError {
  const out: ChatStreamError = { message: err.message, kind: err.kind, provider: err.provider, retryable: err.retryable };
  if (err.detail !== undefined && err.detail !== '') out.detail = err.detail;
  if (err.statusCode !== undefined) out.status_code = err.statusCode;
  return out;
}
