// The channels package's one error class.

/** Error codes raised by `@chatd/channels`. */
export type ChannelsErrorCode = 'CHANNEL_NOT_FOUND';

/** Error raised by `@chatd/channels`. */
export class ChannelsError extends Error {
  readonly code: ChannelsErrorCode;
  constructor(code: ChannelsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChannelsError';
    this.code = code;
  }
}
