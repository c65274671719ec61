// Maps errors to the API's error responses (contract.md#errors): the body is always
// `{message, detail?, validations?}`; a ChatdError's code picks the status, a ProtocolError (bad wire input such
// as a stream cursor) is a 400, anything else is a 500 whose text is never shown to the client.
import { ProtocolError } from '@chatd/protocol';
import type { z } from 'zod';
import { ChatdError, type ChatdErrorCode, type SpendFigures } from '../chatd-error.js';

/** The wire error body (`codersdk.Response`). */
export type ErrorBody = { message: string; detail?: string; validations?: { field: string; detail: string }[] } & Partial<SpendFigures>;

const STATUS: Record<ChatdErrorCode, number> = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  QUEUE_FULL: 429,
  TOO_MANY_CONNECTIONS: 429,
  RATE_LIMITED: 429,
  RUN_FENCED: 409,
  SPEND_LIMIT: 409,
  CONFIG: 500,
  MIGRATION_FAILED: 500,
  UNAVAILABLE: 503,
};

/** The message of every 404: it never tells whether the chat exists. */
export const NOT_FOUND_MESSAGE = 'Resource not found or you do not have access to this resource.';

/** Status, body and extra headers (`retry-after`) for an error thrown by a handler. */
export function errorResponse(err: unknown): { status: number; body: ErrorBody; internal: boolean; headers: Record<string, string> } {
  if (err instanceof ChatdError) {
    const status = STATUS[err.code] ?? 500;
    const body: ErrorBody = { message: status === 404 ? NOT_FOUND_MESSAGE : err.message };
    if (err.detail) body.detail = err.detail;
    if (err.validations?.length) body.validations = err.validations;
    if (err.spend) Object.assign(body, err.spend);
    // Whole seconds, rounded up and at least 1: a client that waits exactly that long finds the allowance back.
    const headers: Record<string, string> = err.retryAfterMs !== undefined ? { 'retry-after': String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) } : {};
    return { status, body, internal: status >= 500, headers };
  }
  if (err instanceof ProtocolError) {
    const body: ErrorBody = { message: err.message };
    if (err.validations?.length) body.validations = err.validations;
    return { status: 400, body, internal: false, headers: {} };
  }
  return { status: 500, body: { message: 'Internal error.', detail: 'An unexpected error occurred; it has been logged.' }, internal: true, headers: {} };
}

/** A 400 ChatdError listing zod's issues as `validations`. */
export function validationError(message: string, error: z.ZodError): ChatdError {
  return new ChatdError('INVALID_INPUT', message, {
    validations: error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(root)', detail: i.message })),
  });
}
