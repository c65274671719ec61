// The testkit's one error class.

/** Error codes raised by `@chatd/testkit`. */
export type TestkitErrorCode =
  | 'POSTGRES_UNAVAILABLE'
  | 'POSTGRES_START_FAILED'
  | 'NO_DATABASE_URL'
  | 'TIMEOUT';

/** Error raised by the testkit (PostgreSQL harness, proxies, helpers). */
export class TestkitError extends Error {
  readonly code: TestkitErrorCode;
  constructor(code: TestkitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TestkitError';
    this.code = code;
  }
}
