// Public entry of @chatd/channels: the channel router, its rate limiter, data types and wire helpers.
export { ChannelsError, CHANNELS_ERROR_MESSAGES, isChannelsError } from './channels-error.js';
export {
  ErrChannelNotFound,
  ErrUnauthorized,
  ErrChannelExists,
  ErrRateLimitExceeded,
  ErrMessageTooLarge,
  ErrChannelFull,
  ErrTooManyChannels,
  ErrSubscriberTooSlow,
} from './channels-error.js';
export type { ChannelsErrorCode } from './channels-error.js';
export { MSG_TYPE_DATA, MSG_TYPE_END, MSG_TYPE_ERROR, ZERO_TIMESTAMP_MS } from './msg-entry.js';
export type { MsgEntry, MsgType } from './msg-entry.js';
export type { Channel, NewChannel, ChannelSpec, ProcessInfo } from './channel.js';
export { msgEntryToJSON, msgEntryFromJSON, channelToJSON, channelFromJSON, formatTimestamp } from './wire-json.js';
export type { MsgEntryJSON, ChannelJSON } from './wire-json.js';
export { createRateLimiter } from './rate-limiter.js';
export type { RateLimiter, RateLimiterOptions } from './rate-limiter.js';
export type { Subscription, Subscriber, SubscriptionCallbacks, RouterWarning } from './subscription.js';
export {
  createRouter,
  createRouterWithoutRateLimit,
  createRouterForTesting,
  CHANNEL_MAX_MESSAGE_SIZE,
  CHANNEL_MAX_LOG_ENTRIES,
  CHANNEL_MAX_CHANNELS_PER_PROCESS,
  CHANNEL_RATE_LIMIT_BURST_SIZE,
  CHANNEL_RATE_LIMIT_MESSAGES_PER_SECOND,
  CHANNEL_SUBSCRIBER_BUFFER_SIZE,
} from './router.js';
export type { Router, RouterOptions, SubscribeOptions, RouterStats } from './router.js';
