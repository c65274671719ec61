// Typed listener wrappers (Go's HandleChatEvent and friends): each turns a raw PubSubListener into one
// that decodes and validates the payload, then calls `cb` with either the typed payload or a typed
// error. The wrapper never throws, even when `cb` throws or rejects.
import {
  decodeChatConfigEvent,
  decodeChatEvent,
  decodeChatStreamNotify,
  decodeInboxNotificationEvent,
  decodeTokenRevokedEvent,
  type ChatConfigEvent,
  type ChatEvent,
  type ChatStreamNotifyMessage,
  type InboxNotificationEvent,
  type TokenRevokedEvent,
} from './events.js';
import { PubSubError } from './pubsub-error.js';
import type { PubSubListener } from './pubsub.js';

/**
 * A typed callback: called with the payload and no error, or with no payload and an error:
 * MALFORMED_PAYLOAD for a payload that failed to decode (nothing else is affected; the subscription
 * stays live), or whatever the pubsub delivered (e.g. MESSAGES_DROPPED: catch up from the database).
 * A returned promise is awaited before the next message is handed to the same listener.
 */
export type TypedHandler<T> = (payload: T | undefined, error: PubSubError | undefined) => void | Promise<void>;

/** Options for the typed wrappers. */
export type HandleOptions = {
  /** Called with anything the callback throws or rejects with (which is otherwise swallowed). */
  onCallbackError?: (err: unknown) => void;
};

function asPubSubError(err: unknown): PubSubError {
  return err instanceof PubSubError ? err : new PubSubError('MALFORMED_PAYLOAD', 'payload could not be decoded', { cause: err });
}

function wrap<T>(decode: (m: Buffer) => T, cb: TypedHandler<T>, options: HandleOptions | undefined): PubSubListener {
  const report = (err: unknown) => {
    try {
      options?.onCallbackError?.(err);
    } catch {
      // A failing reporter must not break delivery either.
    }
  };
  const call = (payload: T | undefined, error: PubSubError | undefined): void | Promise<void> => {
    try {
      const r = cb(payload, error);
      if (r && typeof (r as Promise<void>).then === 'function') return (r as Promise<void>).then(undefined, report);
    } catch (err) {
      report(err);
    }
    return undefined;
  };
  return (message, error) => {
    if (error) return call(undefined, asPubSubError(error));
    if (message === undefined || message === null) {
      return call(undefined, new PubSubError('MALFORMED_PAYLOAD', 'listener called with neither a message nor an error'));
    }
    let payload: T;
    try {
      payload = decode(message);
    } catch (err) {
      return call(undefined, asPubSubError(err));
    }
    return call(payload, undefined);
  };
}

/** Wraps a typed `ChatEvent` callback as a PubSubListener for `chat:owner:<owner>`. */
export function handleChatEvent(cb: TypedHandler<ChatEvent>, options?: HandleOptions): PubSubListener {
  return wrap(decodeChatEvent, cb, options);
}

/** Wraps a typed `ChatConfigEvent` callback as a PubSubListener for `chat:config_change`. */
export function handleChatConfigEvent(cb: TypedHandler<ChatConfigEvent>, options?: HandleOptions): PubSubListener {
  return wrap(decodeChatConfigEvent, cb, options);
}

/** Wraps a typed `InboxNotificationEvent` callback as a PubSubListener for `inbox_notification:owner:<owner>`. */
export function handleInboxNotificationEvent(cb: TypedHandler<InboxNotificationEvent>, options?: HandleOptions): PubSubListener {
  return wrap(decodeInboxNotificationEvent, cb, options);
}

/** Wraps a typed `ChatStreamNotifyMessage` callback as a PubSubListener for `chat:stream:<chat>`. */
export function handleChatStreamNotify(cb: TypedHandler<ChatStreamNotifyMessage>, options?: HandleOptions): PubSubListener {
  return wrap(decodeChatStreamNotify, cb, options);
}

/** Wraps a typed `TokenRevokedEvent` callback as a PubSubListener for `chat:token_revoked`. */
export function handleTokenRevokedEvent(cb: TypedHandler<TokenRevokedEvent>, options?: HandleOptions): PubSubListener {
  return wrap(decodeTokenRevokedEvent, cb, options);
}
