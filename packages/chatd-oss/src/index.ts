export { ChatdError } from './chatd-error.js';
export type { ChatdErrorCode } from './chatd-error.js';
export { RELAY_SOURCE_HEADER } from './relay-source-header.js';
export type {
  ChatMessage,
  ChatMessagePart,
  ChatMessageUsage,
  ChatQueuedMessage,
  ChatStreamEvent,
  ChatStreamEventType,
  ChatStreamMessagePart,
  DiscontinuityReason,
} from './stream-event.js';
export type { StatusNotification, SubscribeFn, SubscribeFnLogger, SubscribeFnParams, SubscribeFnStore } from './subscribe-fn.js';
