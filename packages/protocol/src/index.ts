// @chatd/protocol: the chatd wire in one browser-safe place (no Node built-ins; depends on zod only).
export {
  NIL_UUID,
  chatDiffStatusSchema,
  chatSchema,
  chatStatusSchema,
  chatStreamErrorSchema,
  chatStreamRetrySchema,
  inboxNotificationActionSchema,
  inboxNotificationSchema,
  isUuid,
  timestampSchema,
  uuidSchema,
  type Chat,
  type ChatDiffStatus,
  type ChatStatus,
  type ChatStreamError,
  type ChatStreamRetry,
  type InboxNotification,
} from './chat-types.js';
export { INT64_MAX, parseInt64Text } from './int64.js';
export { ProtocolError, type ProtocolErrorCode, type ProtocolErrorOptions, type ProtocolValidation } from './protocol-error.js';
export { RELAY_GIVE_UP_ERROR_KIND, RELAY_SOURCE_HEADER, isRelayGiveUpError, relayGiveUpError } from './relay-marks.js';
export { SESSION_TOKEN_COOKIE, SESSION_TOKEN_HEADER, cookieSessionToken, extractSessionToken, fetchHeaderGetter, type HeaderGetter } from './session-token.js';
export { parseStreamQuery, setStreamQuery, type StreamCursorQuery } from './stream-cursor.js';
export {
  decodeStreamFrame,
  encodeStreamFrame,
  isStreamEvent,
  streamEventSchema,
  streamMessagePartSchema,
  type DecodeStreamFrameOptions,
  type StreamEvent,
  type StreamFrame,
} from './stream-frame.js';
