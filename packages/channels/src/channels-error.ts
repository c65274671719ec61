// The channels package's one error class, plus the seed's sentinel errors as exported instances.
// Callers branch on `err.code` (or `isChannelsError(err, ErrChannelFull)`), never on message text;
// the messages are the original's, word for word, so logs and wire errors read the same.

/** Error codes raised by `@chatd/channels`. */
export type ChannelsErrorCode =
  | 'CHANNEL_NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'CHANNEL_EXISTS'
  | 'RATE_LIMIT_EXCEEDED'
  | 'MESSAGE_TOO_LARGE'
  | 'CHANNEL_FULL'
  | 'TOO_MANY_CHANNELS'
  | 'SUBSCRIBER_TOO_SLOW'
  | 'INVALID_JSON';

/** The original's message for each code (INVALID_JSON is ours: the wire helpers' parse failure). */
export const CHANNELS_ERROR_MESSAGES: Readonly<Record<ChannelsErrorCode, string>> = Object.freeze({
  CHANNEL_NOT_FOUND: 'channel not found',
  UNAUTHORIZED: 'unauthorized access to channel',
  CHANNEL_EXISTS: 'channel already exists',
  RATE_LIMIT_EXCEEDED: 'rate limit exceeded',
  MESSAGE_TOO_LARGE: 'message payload exceeds maximum size',
  CHANNEL_FULL: 'channel log is full',
  TOO_MANY_CHANNELS: 'process has too many channels',
  SUBSCRIBER_TOO_SLOW: 'subscriber disconnected: buffer full',
  INVALID_JSON: 'invalid channel wire JSON',
});

/** Error raised by `@chatd/channels`. `message` is the original's text for the code unless one is given. */
export class ChannelsError extends Error {
  readonly code: ChannelsErrorCode;
  constructor(code: ChannelsErrorCode, message: string = CHANNELS_ERROR_MESSAGES[code], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChannelsError';
    this.code = code;
  }
}

function sentinel(code: ChannelsErrorCode): ChannelsError {
  return Object.freeze(new ChannelsError(code));
}

/** `channel not found`: unknown channel id, or no channel of that name in the process. */
export const ErrChannelNotFound = sentinel('CHANNEL_NOT_FOUND');
/** `unauthorized access to channel`: the caller is neither the submitter nor the executor. */
export const ErrUnauthorized = sentinel('UNAUTHORIZED');
/** `channel already exists`: `create` with an id that is taken. */
export const ErrChannelExists = sentinel('CHANNEL_EXISTS');
/** `rate limit exceeded`: the process's token bucket is empty. */
export const ErrRateLimitExceeded = sentinel('RATE_LIMIT_EXCEEDED');
/** `message payload exceeds maximum size`: the payload is longer than `maxMessageSize` bytes. */
export const ErrMessageTooLarge = sentinel('MESSAGE_TOO_LARGE');
/** `channel log is full`: the log already holds `maxLogEntries` entries (nothing is evicted). */
export const ErrChannelFull = sentinel('CHANNEL_FULL');
/** `process has too many channels`: the process already owns `maxChannelsPerProcess` channels. */
export const ErrTooManyChannels = sentinel('TOO_MANY_CHANNELS');
/** `subscriber disconnected: buffer full`: a subscriber fell more than its buffer behind and was cut. */
export const ErrSubscriberTooSlow = sentinel('SUBSCRIBER_TOO_SLOW');

/**
 * True when `err` is a ChannelsError, and, if `expected` is given, one with that code
 * (`expected` may be a code or a sentinel such as `ErrChannelFull`).
 */
export function isChannelsError(err: unknown, expected?: ChannelsErrorCode | ChannelsError): err is ChannelsError {
  if (!(err instanceof ChannelsError)) return false;
  if (expected === undefined) return true;
  return err.code === (typeof expected === 'string' ? expected : expected.code);
}
