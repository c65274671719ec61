// The pubsub package's one error class.

/** Error codes raised by `@chatd/pubsub`. */
export type PubSubErrorCode =
  | 'INVALID_UUID'
  | 'INVALID_CHANNEL'
  | 'PAYLOAD_TOO_LARGE'
  | 'MALFORMED_PAYLOAD'
  | 'MESSAGES_DROPPED'
  | 'CLOSED'
  | 'CONNECTION_FAILED';

/** Error raised or delivered by `@chatd/pubsub`. */
export class PubSubError extends Error {
  readonly code: PubSubErrorCode;
  constructor(code: PubSubErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PubSubError';
    this.code = code;
  }
}
