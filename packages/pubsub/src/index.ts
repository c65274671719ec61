export { PubSubError } from './pubsub-error.js';
export type { PubSubErrorCode } from './pubsub-error.js';
export type { PubSub, PubSubListener, PubSubMetrics, PubSubNotification, SubscribeOptions, Unsubscribe } from './pubsub.js';

export {
  CHAT_CONFIG_EVENT_CHANNEL,
  MAX_CHANNEL_BYTES,
  TOKEN_REVOKED_EVENT_CHANNEL,
  assertValidChannel,
  chatEventChannel,
  chatStreamNotifyChannel,
  inboxNotificationForOwnerEventChannel,
} from './channels.js';

export {
  chatConfigEventKindSchema,
  chatConfigEventSchema,
  chatEventKindSchema,
  chatEventSchema,
  chatStreamNotifyMessageSchema,
  decodeChatConfigEvent,
  decodeChatEvent,
  decodeChatStreamNotify,
  decodeInboxNotificationEvent,
  decodeTokenRevokedEvent,
  encodeChatConfigEvent,
  encodeChatEvent,
  encodeChatEventForNotify,
  encodeChatStreamNotify,
  encodeInboxNotificationEvent,
  encodeTokenRevokedEvent,
  fullChatEventSchema,
  inboxNotificationEventKindSchema,
  inboxNotificationEventSchema,
  truncateChatEvent,
  truncatedChatEventSchema,
  tokenRevokedEventSchema,
  truncatedChatSchema,
} from './events.js';
export type {
  ChatConfigEvent,
  ChatConfigEventKind,
  ChatEvent,
  ChatEventKind,
  ChatStreamNotifyMessage,
  FullChatEvent,
  InboxNotificationEvent,
  InboxNotificationEventKind,
  TruncatedChat,
  TokenRevokedEvent,
  TruncatedChatEvent,
} from './events.js';

export { handleChatConfigEvent, handleChatEvent, handleChatStreamNotify, handleInboxNotificationEvent, handleTokenRevokedEvent } from './handlers.js';
export type { HandleOptions, TypedHandler } from './handlers.js';

export { NOTIFY_PAYLOAD_LIMIT_BYTES, prepareNotification } from './payload.js';
export type { PreparedNotification } from './payload.js';

export { DEFAULT_SUBSCRIBER_QUEUE_SIZE } from './subscriber.js';
export { createMemoryPubSub } from './memory-pubsub.js';
export type { MemoryPubSub, MemoryPubSubOptions } from './memory-pubsub.js';
export {
  PG_PUBSUB_HEALTH_CHECK_TAG,
  PG_PUBSUB_HEALTH_TIMEOUT_TAG,
  PG_PUBSUB_RECONNECT_TAG,
  createPgPubSub,
  notifyInTransaction,
} from './pg-pubsub.js';
export type { PgPubSub, PgPubSubEvent, PgPubSubOptions, Queryable, ReconnectBackoff } from './pg-pubsub.js';
