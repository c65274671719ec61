// Channel names of seed 001, and the checks every channel name passes before it reaches PostgreSQL.
import { isUuid } from '@chatd/protocol';
import { PubSubError } from './pubsub-error.js';

/** Matches a UTF-16 surrogate without its pair (text that has no UTF-8 form). */
export const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** PostgreSQL's identifier limit (NAMEDATALEN - 1): longer channel names would be silently truncated. */
export const MAX_CHANNEL_BYTES = 63;

/** Channel for chat config changes (providers, model configs, user prompts); every replica subscribes to drop its caches. */
export const CHAT_CONFIG_EVENT_CHANNEL = 'chat:config_change';

/**
 * Channel on which a revoked API token or console session is announced (`TokenRevokedEvent`, by token id, never
 * the token); every replica closes the sockets it authenticated with that token.
 */
export const TOKEN_REVOKED_EVENT_CHANNEL = 'chat:token_revoked';

function uuidText(id: string, what: string): string {
  if (!isUuid(id)) {
    throw new PubSubError('INVALID_UUID', `${what} must be a UUID (8-4-4-4-12 hex), got ${JSON.stringify(String(id)).slice(0, 80)}`);
  }
  // Go formats uuid.UUID in lower case; every replica must name the same channel.
  return id.toLowerCase();
}

/** `chat:owner:<ownerID>`: per-user chat list events (`ChatEvent`). Throws PubSubError INVALID_UUID. */
export function chatEventChannel(ownerId: string): string {
  return `chat:owner:${uuidText(ownerId, 'owner id')}`;
}

/** `chat:stream:<chatID>`: per-chat stream notifications (`ChatStreamNotifyMessage`). Throws PubSubError INVALID_UUID. */
export function chatStreamNotifyChannel(chatId: string): string {
  return `chat:stream:${uuidText(chatId, 'chat id')}`;
}

/** `inbox_notification:owner:<ownerID>`: per-user inbox notifications. Throws PubSubError INVALID_UUID. */
export function inboxNotificationForOwnerEventChannel(ownerId: string): string {
  return `inbox_notification:owner:${uuidText(ownerId, 'owner id')}`;
}

/** Throws PubSubError INVALID_CHANNEL unless `channel` is a usable NOTIFY channel name (1-63 bytes, no NUL). */
export function assertValidChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || channel.length === 0) {
    throw new PubSubError('INVALID_CHANNEL', 'channel must be a non-empty string');
  }
  const bytes = Buffer.byteLength(channel, 'utf8');
  if (bytes > MAX_CHANNEL_BYTES) {
    throw new PubSubError('INVALID_CHANNEL', `channel is ${bytes} bytes; PostgreSQL identifiers are at most ${MAX_CHANNEL_BYTES}`);
  }
  if (channel.includes('\0') || LONE_SURROGATE_RE.test(channel)) {
    throw new PubSubError('INVALID_CHANNEL', 'channel must be well-formed text without NUL characters');
  }
}
