// RelayDialError (seed 000): a failed relay handshake, classified for the reconnect loop.

/** A failed relay handshake. `httpStatus` is 0 when it failed before any response (DNS, TCP, TLS, timeout, cancel). */
export class RelayDialError extends Error {
  readonly httpStatus: number;
  constructor(httpStatus: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RelayDialError';
    this.httpStatus = httpStatus;
  }

  /** True only for 401 and 403: retrying with the same captured session token is futile. */
  isUnrecoverable(): boolean {
    return this.httpStatus === 401 || this.httpStatus === 403;
  }
}
