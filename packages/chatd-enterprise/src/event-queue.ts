// A single-consumer async queue: the relay session pushes events, the OSS merge loop iterates them.
// Producers that read from the network wait for room (`room()`) so a slow consumer paces the peer instead
// of growing memory; control paths push without waiting. Internal to the package.

/** The queue's producer side plus the consumer's iterable. */
export interface EventQueue<T> extends AsyncIterable<T> {
  /** Appends `value` (dropped once the queue has ended). */
  push(value: T): void;
  /** Resolves once fewer than `highWaterMark` values are buffered, or the queue has ended. */
  room(): Promise<void>;
  /** Ends the iteration at once; values still buffered are discarded. Idempotent. */
  end(): void;
  /** Ends the iteration after the values already buffered have been read. Idempotent. */
  close(): void;
  readonly ended: boolean;
  /** Values buffered and not yet read. */
  readonly size: number;
}

/** Options for `createEventQueue`. */
export type EventQueueOptions = {
  /** Buffered values at which `room()` starts waiting. */
  highWaterMark: number;
  /** Called once if the consumer stops iterating early (`return()` or `break`). */
  onReturn?: () => void;
};

/** Creates an empty queue. */
export function createEventQueue<T>(options: EventQueueOptions): EventQueue<T> {
  const buffer: T[] = [];
  const readers: ((r: IteratorResult<T>) => void)[] = [];
  const roomWaiters: (() => void)[] = [];
  let ended = false;
  let closing = false;

  const wakeRoom = () => {
    while (roomWaiters.length > 0 && (ended || buffer.length < options.highWaterMark)) roomWaiters.shift()?.();
  };

  const end = () => {
    if (ended) return;
    ended = true;
    buffer.length = 0;
    for (const r of readers.splice(0)) r({ value: undefined, done: true });
    wakeRoom();
  };

  const close = () => {
    if (ended || closing) return;
    closing = true;
    if (buffer.length === 0) end();
  };

  const iterator: AsyncIterator<T> = {
    next() {
      if (buffer.length > 0) {
        const value = buffer.shift() as T;
        if (closing && buffer.length === 0) ended = true;
        wakeRoom();
        return Promise.resolve({ value, done: false });
      }
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => readers.push(resolve));
    },
    return() {
      if (!ended) {
        end();
        options.onReturn?.();
      }
      return Promise.resolve({ value: undefined, done: true });
    },
  };

  return {
    push(value) {
      if (ended || closing) return;
      const reader = readers.shift();
      if (reader) reader({ value, done: false });
      else buffer.push(value);
    },
    room() {
      if (ended || buffer.length < options.highWaterMark) return Promise.resolve();
      return new Promise((resolve) => roomWaiters.push(resolve));
    },
    end,
    close,
    get ended() {
      return ended;
    },
    get size() {
      return buffer.length;
    },
    [Symbol.asyncIterator]: () => iterator,
  };
}
