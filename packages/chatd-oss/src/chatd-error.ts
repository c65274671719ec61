// The chat daemon's one error class.

/** Error codes raised by `@chatd/oss`. */
export type ChatdErrorCode = 'NOT_FOUND' | 'INVALID_INPUT' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'CONFLICT';

/** Error raised by `@chatd/oss`. */
export class ChatdError extends Error {
  readonly code: ChatdErrorCode;
  constructor(code: ChatdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChatdError';
    this.code = code;
  }
}
