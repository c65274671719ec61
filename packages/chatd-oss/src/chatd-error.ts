// The chat daemon's one error class. Callers branch on `code` (the HTTP layer maps each to a status:
// INVALID_INPUT 400, UNAUTHORIZED 401, FORBIDDEN 403, NOT_FOUND 404, CONFLICT 409, PAYLOAD_TOO_LARGE 413, UNSUPPORTED_MEDIA_TYPE 415,
// QUEUE_FULL 429, TOO_MANY_CONNECTIONS 429, RATE_LIMITED 429 with Retry-After); `detail` carries the wire error body's `detail` when there is one.

/** Error codes raised by `@chatd/oss`. */
export type ChatdErrorCode =
  | 'NOT_FOUND'
  | 'INVALID_INPUT'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'CONFLICT'
  /** Content over the store's size limit. */
  | 'PAYLOAD_TOO_LARGE'
  /** An upload of a media type the server does not take (contract.md#files). */
  | 'UNSUPPORTED_MEDIA_TYPE'
  /** The chat's queue already holds the maximum number of messages. */
  | 'QUEUE_FULL'
  /** A socket cap is full (per-user stream or watch sockets, relay legs of a peer, or the server's total). */
  | 'TOO_MANY_CONNECTIONS'
  /** Too many attempts of something limited per user or client (git refreshes, failed authentications); `retryAfterMs` says when to retry. */
  | 'RATE_LIMITED'
  /** The user's spend reached their limit (409 with `spent_micros`, `limit_micros`, `resets_at`; contract.md#cost). */
  | 'SPEND_LIMIT'
  /** A run's write was refused: the chat's current run is another one (or none). Nothing was written. */
  | 'RUN_FENCED'
  /** Missing or invalid configuration (e.g. no DATABASE_URL). */
  | 'CONFIG'
  /** A migration failed or an applied migration's text changed. */
  | 'MIGRATION_FAILED'
  /** The server could not be reached or answered with a fault (5xx); worth retrying. */
  | 'UNAVAILABLE';

/** Options of a `ChatdError`. */
export type ChatdErrorOptions = {
  cause?: unknown;
  /** Human-readable detail for the error body's `detail`. */
  detail?: string;
  /** Field-level problems for the error body's `validations`. */
  validations?: { field: string; detail: string }[];
  /** For `RATE_LIMITED`: how long until a retry may succeed (the response's `Retry-After`). */
  retryAfterMs?: number;
  /** For `SPEND_LIMIT`: the figures the 409 body carries. */
  spend?: SpendFigures;
};

/** The figures of a spend-limit refusal (contract.md#cost): micro-units, and the next period start (RFC 3339). */
export type SpendFigures = { spent_micros: number; limit_micros: number; resets_at: string };

/** Error raised by `@chatd/oss`. */
export class ChatdError extends Error {
  readonly code: ChatdErrorCode;
  readonly detail: string | undefined;
  readonly validations: { field: string; detail: string }[] | undefined;
  readonly retryAfterMs: number | undefined;
  readonly spend: SpendFigures | undefined;
  constructor(code: ChatdErrorCode, message: string, options?: ChatdErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChatdError';
    this.code = code;
    this.detail = options?.detail;
    this.validations = options?.validations;
    this.retryAfterMs = options?.retryAfterMs;
    this.spend = options?.spend;
  }
}

/** Whether `err` is a `ChatdError`, optionally with the given code. */
export function isChatdError(err: unknown, code?: ChatdErrorCode): err is ChatdError {
  return err instanceof ChatdError && (code === undefined || err.code === code);
}
