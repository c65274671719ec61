// The PubSub port: fire-and-forget notifications by channel name. NOTIFY is a hint and the tables
// are the record, so listeners are told (via `error` with code MESSAGES_DROPPED) whenever messages
// may have been lost, and then catch up from the database themselves.
import type { PubSubError } from './pubsub-error.js';

/** Called with each message on a channel, or with an error (never both). Must not throw. */
export type PubSubListener = (message: Buffer | undefined, error: PubSubError | undefined) => void;

/** Cancels a subscription. Idempotent. */
export type Unsubscribe = () => void;

/** Publishes and subscribes to notifications by channel name. */
export interface PubSub {
  /** Publishes `payload` on `channel`. Rejects with a `PubSubError` (e.g. PAYLOAD_TOO_LARGE) and sends nothing on bad input. */
  publish(channel: string, payload: Buffer | string): Promise<void>;
  /** Subscribes `listener` to `channel`; resolves once the subscription is live (LISTEN acknowledged). */
  subscribe(channel: string, listener: PubSubListener): Promise<Unsubscribe>;
  /** Releases every connection and subscription. */
  close(): Promise<void>;
}
