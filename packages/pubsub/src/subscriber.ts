// One listener's bounded delivery queue, shared by both implementations. Delivery is asynchronous and
// in order; a listener that returns a promise is awaited before its next message, so a slow listener
// only fills its own queue. While it is busy (awaiting), at most `capacity` messages wait; beyond that
// new messages are discarded and one MESSAGES_DROPPED error takes their place, so the listener knows to
// catch up from the database. A burst that reaches an idle listener (many notifications in one socket
// read) is accepted whole: a fast listener is never told it dropped messages it could have taken.
import type { MetricsCounters } from './metrics.js';
import { PubSubError } from './pubsub-error.js';
import type { PubSubListener } from './pubsub.js';

/** Default number of messages a busy listener may have waiting before new ones are dropped. */
export const DEFAULT_SUBSCRIBER_QUEUE_SIZE = 1024;

type Item = { message: Buffer; error?: undefined } | { message?: undefined; error: PubSubError };

/** A listener with its queue. */
export class Subscriber {
  private items: (Item | undefined)[] = [];
  private head = 0;
  private running = false;
  /** True while the listener's promise for an earlier message is pending. */
  private busy = false;
  private closed = false;
  /** True once subscribe() has resolved: only then is a lost connection reported to it. */
  live = false;

  constructor(
    readonly channel: string,
    private readonly listener: PubSubListener,
    private readonly capacity: number,
    private readonly metrics: MetricsCounters,
  ) {}

  private get size(): number {
    return this.items.length - this.head;
  }

  private last(): Item | undefined {
    return this.items[this.items.length - 1];
  }

  /** Queues a message; on overflow drops it and queues one MESSAGES_DROPPED error instead. */
  pushMessage(message: Buffer): void {
    if (this.closed) return;
    if (this.busy && this.size >= this.capacity) {
      this.metrics.dropped++;
      if (!this.last()?.error) {
        this.items.push({ error: new PubSubError('MESSAGES_DROPPED', `listener on ${this.channel} fell behind: its queue of ${this.capacity} messages overflowed`) });
      }
      this.kick();
      return;
    }
    this.items.push({ message });
    this.kick();
  }

  /** Queues a MESSAGES_DROPPED error (unless one is already waiting at the end of the queue). */
  pushDropped(reason: string, cause?: unknown): void {
    if (this.closed) return;
    if (this.size > 0 && this.last()?.error) return;
    this.items.push({ error: new PubSubError('MESSAGES_DROPPED', reason, cause === undefined ? undefined : { cause }) });
    this.kick();
  }

  /** Stops delivery; queued items are discarded. */
  close(): void {
    this.closed = true;
    this.items = [];
    this.head = 0;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (!this.closed && this.size > 0) {
        const item = this.items[this.head]!;
        this.items[this.head++] = undefined;
        if (this.head > 64 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        if (item.error) this.metrics.droppedSignals++;
        else this.metrics.delivered++;
        try {
          const r = this.listener(item.message, item.error);
          if (r && typeof (r as Promise<void>).then === 'function') {
            this.busy = true;
            await r;
          }
        } catch {
          // Listeners must not throw; one that does loses only that message.
        } finally {
          this.busy = false;
        }
      }
    } finally {
      this.running = false;
      if (!this.closed && this.size > 0) this.kick();
    }
  }
}
