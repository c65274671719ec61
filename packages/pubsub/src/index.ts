export { PubSubError } from './pubsub-error.js';
export type { PubSubErrorCode } from './pubsub-error.js';
export type { PubSub, PubSubListener, Unsubscribe } from './pubsub.js';
export type { Chat, ChatDiffStatus, ChatStatus, ChatStreamError, ChatStreamRetry, InboxNotification } from './chat-types.js';
