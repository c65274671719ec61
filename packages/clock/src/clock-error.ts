// The clock package's one error class. Codes are a closed union so callers branch without string matching.

/** Error codes raised by `@chatd/clock`. */
export type ClockErrorCode = 'WAIT_TIMEOUT' | 'INVALID_ARGUMENT';

/** Error raised by the clock package (mostly by the mock clock's waiting helpers). */
export class ClockError extends Error {
  readonly code: ClockErrorCode;
  constructor(code: ClockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClockError';
    this.code = code;
  }
}
