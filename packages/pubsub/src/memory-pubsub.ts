// In-process PubSub for unit tests and single-process runs. It applies exactly the checks and queueing
// of the PostgreSQL implementation (same errors, same limits, asynchronous in-order delivery), so code
// tested against it behaves the same in production.
import { assertValidChannel } from './channels.js';
import { MetricsCounters } from './metrics.js';
import { prepareNotification } from './payload.js';
import { PubSubError } from './pubsub-error.js';
import type { PubSub, PubSubListener, PubSubMetrics, SubscribeOptions, Unsubscribe } from './pubsub.js';
import { DEFAULT_SUBSCRIBER_QUEUE_SIZE, Subscriber } from './subscriber.js';

/** Options for `createMemoryPubSub`. */
export type MemoryPubSubOptions = {
  /** Messages a listener may have waiting before new ones are dropped. @default 1024 */
  queueSize?: number;
};

/** The in-memory PubSub, with a test hook. */
export interface MemoryPubSub extends PubSub {
  metrics(): PubSubMetrics;
  notificationQueueUsage(): Promise<number>;
  /**
   * Test hook: behaves as if the connection had been lost and restored: every live listener (of
   * `channel`, or of all channels) gets a MESSAGES_DROPPED error, as the PostgreSQL implementation does after a reconnect.
   */
  simulateConnectionLoss(channel?: string): void;
}

/** Creates an in-process PubSub. */
export function createMemoryPubSub(options: MemoryPubSubOptions = {}): MemoryPubSub {
  const queueSize = options.queueSize ?? DEFAULT_SUBSCRIBER_QUEUE_SIZE;
  if (!(Number.isInteger(queueSize) && queueSize > 0)) throw new RangeError(`queueSize must be a positive integer, got ${queueSize}`);
  const channels = new Map<string, Set<Subscriber>>();
  const counters = new MetricsCounters();
  let closed = false;
  let listeners = 0;

  const closedError = () => new PubSubError('CLOSED', 'pubsub is closed');

  return {
    async publish(channel, payload) {
      if (closed) throw closedError();
      const n = prepareNotification(channel, payload);
      counters.published++;
      const subs = channels.get(channel);
      if (subs) for (const s of subs) s.pushMessage(n.bytes);
    },

    async publishAll(notifications) {
      if (closed) throw closedError();
      // All checked before any is delivered, as the PostgreSQL implementation sends all or none.
      const prepared = notifications.map((n) => prepareNotification(n.channel, n.payload));
      for (const n of prepared) {
        counters.published++;
        const subs = channels.get(n.channel);
        if (subs) for (const s of subs) s.pushMessage(n.bytes);
      }
    },

    async subscribe(channel: string, listener: PubSubListener, opts?: SubscribeOptions): Promise<Unsubscribe> {
      if (closed) throw closedError();
      assertValidChannel(channel);
      if (typeof listener !== 'function') throw new TypeError('listener must be a function');
      opts?.signal?.throwIfAborted();
      const sub = new Subscriber(channel, listener, queueSize, counters);
      let subs = channels.get(channel);
      if (!subs) channels.set(channel, (subs = new Set()));
      subs.add(sub);
      listeners++;
      sub.live = true;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        sub.close();
        const set = channels.get(channel);
        if (set?.delete(sub)) {
          listeners--;
          if (set.size === 0) channels.delete(channel);
        }
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const subs of channels.values()) for (const s of subs) s.close();
      channels.clear();
      listeners = 0;
    },

    metrics() {
      return counters.snapshot({ listeners, channels: channels.size, connected: !closed });
    },

    async notificationQueueUsage() {
      return 0;
    },

    simulateConnectionLoss(channel?: string) {
      for (const [ch, subs] of channels) {
        if (channel !== undefined && ch !== channel) continue;
        for (const s of subs) if (s.live) s.pushDropped(`pubsub connection was lost and restored; messages on ${ch} may have been dropped`);
      }
    },
  };
}
