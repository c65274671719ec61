// The PubSub port: fire-and-forget notifications by channel name. NOTIFY is a hint and the tables
// are the record, so listeners are told (via `error` with code MESSAGES_DROPPED) whenever messages
// may have been lost, and then catch up from the database themselves.
import type { PubSubError } from './pubsub-error.js';

/**
 * Called with each message on a channel, or with an error (never both). Must not throw (a throw is
 * caught and ignored). If it returns a promise, the next message for this listener waits for it; other
 * listeners are never held up, and messages that overflow this listener's queue are replaced by one
 * MESSAGES_DROPPED error. The message Buffer is shared by every listener of the channel: do not mutate it.
 */
export type PubSubListener = (message: Buffer | undefined, error: PubSubError | undefined) => void | Promise<void>;

/** Cancels a subscription. Idempotent. */
export type Unsubscribe = () => void;

/** Options of one subscription. */
export type SubscribeOptions = {
  /** Aborting gives up a subscribe that is still waiting (e.g. for a reconnect); it rejects with the signal's reason. */
  signal?: AbortSignal;
};

/** Counters a server can export (e.g. as Prometheus metrics). Counters only grow; gauges are current values. */
export type PubSubMetrics = {
  /** Notifications sent (counter). */
  published: number;
  /** Publish attempts that failed after validation, e.g. the database was unreachable (counter). */
  publishFailures: number;
  /** Messages handed to listeners, one per listener (counter). */
  delivered: number;
  /** Messages a listener never received because its queue was full (counter). */
  dropped: number;
  /** MESSAGES_DROPPED errors delivered to listeners, for overflow or a lost connection (counter). */
  droppedSignals: number;
  /** Successful reconnects of the LISTEN connection (counter). */
  reconnects: number;
  /** Listeners currently subscribed (gauge). */
  listeners: number;
  /** Channels with at least one listener (gauge). */
  channels: number;
  /** Whether the LISTEN connection is up (always true in memory) (gauge). */
  connected: boolean;
};

/** One notification of `PubSub.publishAll`. */
export type PubSubNotification = { channel: string; payload: Buffer | string };

/** Publishes and subscribes to notifications by channel name. */
export interface PubSub {
  /**
   * Publishes `payload` on `channel`. Rejects with a `PubSubError` and sends nothing on bad input:
   * INVALID_CHANNEL, PAYLOAD_TOO_LARGE (8000 bytes or more), MALFORMED_PAYLOAD (not UTF-8 text, or NUL);
   * CLOSED after close; CONNECTION_FAILED when the database could not be reached.
   */
  publish(channel: string, payload: Buffer | string): Promise<void>;
  /**
   * Publishes `notifications` in order, together where the implementation can (PostgreSQL: one NOTIFY
   * transaction when a lane is free, so one commit on the server's global notify lock instead of one each).
   * Checks every one first: on bad input it rejects as `publish` does and sends none. Optional: without it,
   * callers publish one by one.
   */
  publishAll?(notifications: readonly PubSubNotification[]): Promise<void>;
  /** Subscribes `listener` to `channel`; resolves once the subscription is live (LISTEN acknowledged). */
  subscribe(channel: string, listener: PubSubListener, options?: SubscribeOptions): Promise<Unsubscribe>;
  /** Releases every connection and subscription. */
  close(): Promise<void>;
  /** A snapshot of the counters. */
  metrics?(): PubSubMetrics;
  /** Fraction (0..1) of PostgreSQL's NOTIFY queue in use (`pg_notification_queue_usage()`); 0 in memory. */
  notificationQueueUsage?(): Promise<number>;
}
