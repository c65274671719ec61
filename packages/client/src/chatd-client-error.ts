// The client's one error class: an error answer of the chat API, or a server that cannot be reached, as a
// typed `code` (the server's own mapping of codes to statuses read backwards), with the body's message,
// detail and validations, the HTTP status, and `retryAfterMs` when the server said when to retry.

/** Error codes raised by `@chatd/client`. */
export type ChatdClientErrorCode =
  /** 400: bad input; `validations` names the fields. */
  | 'INVALID_INPUT'
  /** 401: no token, or an unknown, expired or revoked one. */
  | 'UNAUTHORIZED'
  /** 403: e.g. an organization the user is not in. */
  | 'FORBIDDEN'
  /** 404: an unknown chat, or one of another user. */
  | 'NOT_FOUND'
  | 'CONFLICT'
  /** 409 of a write while the user's spend reached their limit (contract.md#spend-limits); `spend` has the figures. */
  | 'SPEND_LIMIT'
  /** 413: a body over the server's limit (an upload over 10 MiB). */
  | 'PAYLOAD_TOO_LARGE'
  /** 415: an upload of a media type the server does not take. */
  | 'UNSUPPORTED_MEDIA_TYPE'
  /** 429 of `post`: the chat's queue already holds the maximum number of messages. */
  | 'QUEUE_FULL'
  /** 429 of a stream upgrade: a socket cap of the user or the server is full. */
  | 'TOO_MANY_CONNECTIONS'
  /** 429 with `Retry-After` (failed authentications, git refreshes, uploads); `retryAfterMs` says when to retry. */
  | 'RATE_LIMITED'
  /** The server could not be reached, or answered with a fault (5xx) or an undocumented status; worth retrying. */
  | 'UNAVAILABLE';

/** Options of a `ChatdClientError`. */
export type ChatdClientErrorOptions = {
  cause?: unknown;
  /** The error body's `detail`. */
  detail?: string;
  /** The error body's field-level `validations`. */
  validations?: { field: string; detail: string }[];
  /** How long until a retry may succeed (the answer's `Retry-After`). */
  retryAfterMs?: number;
  /** HTTP status of the answer, when there was one. */
  status?: number;
  /** For `SPEND_LIMIT`: where the user stands. */
  spend?: SpendLimitFigures;
};

/** The figures of a spend-limit refusal: spent and limit in micro-units, and when requests are accepted again. */
export type SpendLimitFigures = { spentMicros: number; limitMicros: number; resetsAt: string };

/** Error raised by `@chatd/client`. */
export class ChatdClientError extends Error {
  readonly code: ChatdClientErrorCode;
  readonly detail: string | undefined;
  readonly validations: { field: string; detail: string }[] | undefined;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  readonly spend: SpendLimitFigures | undefined;
  constructor(code: ChatdClientErrorCode, message: string, options?: ChatdClientErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChatdClientError';
    this.code = code;
    this.detail = options?.detail;
    this.validations = options?.validations;
    this.retryAfterMs = options?.retryAfterMs;
    this.status = options?.status;
    this.spend = options?.spend;
  }
}

/** Whether `err` is a `ChatdClientError`, optionally with the given code. */
export function isChatdClientError(err: unknown, code?: ChatdClientErrorCode): err is ChatdClientError {
  return err instanceof ChatdClientError && (code === undefined || err.code === code);
}
