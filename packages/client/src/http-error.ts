// Turns a non-2xx answer of the chat API into a ChatdClientError (contract.md#errors): the code comes from the
// HTTP status, message/detail/validations from the error body `{message, detail?, validations?}`. A 429 means
// three things on this server: a full queue (`post`), a full socket cap (stream upgrades), and a rate limit
// (failed authentications, git refreshes, uploads), which alone carries `Retry-After`; the header and the route
// tell them apart, never the message text. A body that is not that shape keeps the status text instead.
import { ChatdClientError, type ChatdClientErrorCode, type SpendLimitFigures } from './chatd-client-error.js';

/** Codes of the statuses the API documents. */
const CODE_BY_STATUS: Readonly<Record<number, ChatdClientErrorCode>> = {
  400: 'INVALID_INPUT',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'QUEUE_FULL',
};

/** Code of a 5xx answer, any undocumented status, or a server that cannot be reached. */
export const UNAVAILABLE_CODE: ChatdClientErrorCode = 'UNAVAILABLE';

/** The code of an HTTP status (a 429 without more context is QUEUE_FULL, `post`'s). */
export function errorCodeForStatus(status: number): ChatdClientErrorCode {
  return CODE_BY_STATUS[status] ?? UNAVAILABLE_CODE;
}

/** Whether a failed request (or stream upgrade) with this status may succeed when tried again. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500 || CODE_BY_STATUS[status] === undefined;
}

/** A `Retry-After` value in milliseconds: delta-seconds only (what chatd sends); anything else is undefined. */
export function parseRetryAfterMs(value: string | null | undefined): number | undefined {
  const text = value?.trim();
  return text && /^\d{1,9}$/.test(text) ? Number(text) * 1000 : undefined;
}

/** What the request knew beyond status and body. */
export type ErrorResponseContext = {
  /** The answer's `Retry-After` header: a 429 that has one is RATE_LIMITED. */
  retryAfter?: string | null;
  /** What a 429 without `Retry-After` means on this route. @default 'QUEUE_FULL' */
  tooManyCode?: ChatdClientErrorCode;
};

type Validation = { field: string; detail: string };

/** The ChatdClientError for an error answer, from its status, raw body text and context. */
export function errorFromResponse(status: number, bodyText: string, what: string, context: ErrorResponseContext = {}): ChatdClientError {
  let message = `${what} failed with HTTP ${status}`;
  let detail: string | undefined;
  let validations: Validation[] | undefined;
  let spend: SpendLimitFigures | undefined;
  try {
    const body = JSON.parse(bodyText) as unknown;
    if (body && typeof body === 'object') {
      const b = body as Record<string, unknown>;
      if (typeof b.message === 'string' && b.message !== '') message = b.message;
      if (typeof b.detail === 'string' && b.detail !== '') detail = b.detail;
      // A spend-limit refusal is the 409 whose body carries the figures (contract.md#spend-limits).
      if (status === 409 && typeof b.spent_micros === 'number' && typeof b.limit_micros === 'number' && typeof b.resets_at === 'string') {
        spend = { spentMicros: b.spent_micros, limitMicros: b.limit_micros, resetsAt: b.resets_at };
      }
      if (Array.isArray(b.validations)) {
        validations = b.validations.filter(
          (v): v is Validation => !!v && typeof v === 'object' && typeof (v as Validation).field === 'string' && typeof (v as Validation).detail === 'string',
        );
      }
    }
  } catch {
    if (bodyText.trim() !== '') detail = bodyText.slice(0, 500);
  }
  let code = spend ? 'SPEND_LIMIT' : errorCodeForStatus(status);
  let retryAfterMs: number | undefined;
  if (status === 429) {
    retryAfterMs = parseRetryAfterMs(context.retryAfter);
    code = retryAfterMs !== undefined ? 'RATE_LIMITED' : (context.tooManyCode ?? code);
  }
  return new ChatdClientError(code, message, {
    status,
    ...(detail !== undefined ? { detail } : {}),
    ...(validations?.length ? { validations } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(spend ? { spend } : {}),
  });
}
