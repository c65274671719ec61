// The pubsub package's one error class.

/** Error codes raised by `@chatd/pubsub`. */
export type PubSubErrorCode =
  /** A channel helper was given something that is not a UUID. */
  | 'INVALID_UUID'
  /** A channel name is empty, longer than 63 bytes, or not text. */
  | 'INVALID_CHANNEL'
  /** A payload of NOTIFY_PAYLOAD_LIMIT_BYTES (8000) bytes or more; nothing was sent. */
  | 'PAYLOAD_TOO_LARGE'
  /** A payload that is not valid (UTF-8 text without NUL to send; the expected JSON shape to decode). */
  | 'MALFORMED_PAYLOAD'
  /** Delivered to a listener: messages may have been lost (its queue overflowed, or the connection was lost and is back). Catch up from the database. */
  | 'MESSAGES_DROPPED'
  /** The pubsub was closed. */
  | 'CLOSED'
  /** The database could not be reached. */
  | 'CONNECTION_FAILED'
  /** The database refused a publish for another reason (e.g. the NOTIFY queue is full). */
  | 'PUBLISH_FAILED';

/** Error raised or delivered by `@chatd/pubsub`. */
export class PubSubError extends Error {
  readonly code: PubSubErrorCode;
  constructor(code: PubSubErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PubSubError';
    this.code = code;
  }
}
