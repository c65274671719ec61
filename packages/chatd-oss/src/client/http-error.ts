// Turns a non-2xx answer of the chat API into a ChatdError (contract.md#errors): the code comes from
// the HTTP status (the server's own mapping read backwards), message/detail/validations from the error
// body `{message, detail?, validations?}`. A body that is not that shape keeps the status text instead.
import { ChatdError, type ChatdErrorCode } from '../chatd-error.js';

/** Codes of the statuses the API documents (contract.md#errors). */
const CODE_BY_STATUS: Readonly<Record<number, ChatdErrorCode>> = {
  400: 'INVALID_INPUT',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'QUEUE_FULL',
};

/**
 * Code of a 5xx answer, any undocumented status, or a server that cannot be reached. `ChatdErrorCode`
 * does not name it yet (it is server-side only); until it does, the value is outside the union on purpose.
 */
export const UNAVAILABLE_CODE: ChatdErrorCode = 'UNAVAILABLE';

/** The ChatdError code of an HTTP status. */
export function errorCodeForStatus(status: number): ChatdErrorCode {
  return CODE_BY_STATUS[status] ?? UNAVAILABLE_CODE;
}

/** Whether a failed request (or stream upgrade) with this status may succeed when tried again. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500 || CODE_BY_STATUS[status] === undefined;
}

type Validation = { field: string; detail: string };

/** The ChatdError for an error answer, from its status and raw body text. */
export function errorFromResponse(status: number, bodyText: string, what: string): ChatdError {
  let message = `${what} failed with HTTP ${status}`;
  let detail: string | undefined;
  let validations: Validation[] | undefined;
  try {
    const body = JSON.parse(bodyText) as unknown;
    if (body && typeof body === 'object') {
      const b = body as Record<string, unknown>;
      if (typeof b.message === 'string' && b.message !== '') message = b.message;
      if (typeof b.detail === 'string' && b.detail !== '') detail = b.detail;
      if (Array.isArray(b.validations)) {
        validations = b.validations.filter(
          (v): v is Validation => !!v && typeof v === 'object' && typeof (v as Validation).field === 'string' && typeof (v as Validation).detail === 'string',
        );
      }
    }
  } catch {
    if (bodyText.trim() !== '') detail = bodyText.slice(0, 500);
  }
  return new ChatdError(errorCodeForStatus(status), message, {
    ...(detail !== undefined ? { detail } : {}),
    ...(validations?.length ? { validations } : {}),
  });
}
