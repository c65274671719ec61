// A single-consumer async iterable fed by pushes, for hand-offs such as the status notifications the
// merge loop gives the enterprise hook. Pushing after `end()` is a no-op (the TypeScript face of the
// original's send-on-closed-channel race), and a consumer waiting when it ends is released at once.

/** Push side and iterable side of one queue. */
export interface PushIterable<T> extends AsyncIterable<T> {
  /** Queues a value; ignored after `end`. */
  push(value: T): void;
  /** Ends the iterable: queued values are still delivered, then iteration finishes. Idempotent. */
  end(): void;
  /** Values queued and not yet taken. */
  readonly size: number;
  readonly ended: boolean;
}

/** Creates an unbounded push queue read as an async iterable by one consumer. */
export function createPushIterable<T>(): PushIterable<T> {
  const queue: T[] = [];
  let head = 0;
  let ended = false;
  let waiting: ((r: IteratorResult<T>) => void) | undefined;

  const take = (): IteratorResult<T> | undefined => {
    if (head < queue.length) {
      const value = queue[head++] as T;
      if (head > 1024 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      return { value, done: false };
    }
    if (ended) return { value: undefined, done: true };
    return undefined;
  };

  return {
    push(value) {
      if (ended) return;
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w({ value, done: false });
        return;
      }
      queue.push(value);
    },
    end() {
      if (ended) return;
      ended = true;
      if (waiting && head >= queue.length) {
        const w = waiting;
        waiting = undefined;
        w({ value: undefined, done: true });
      }
    },
    get size() {
      return queue.length - head;
    },
    get ended() {
      return ended;
    },
    [Symbol.asyncIterator]() {
      return {
        next(): Promise<IteratorResult<T>> {
          const r = take();
          if (r) return Promise.resolve(r);
          return new Promise((resolve) => (waiting = resolve));
        },
        return(): Promise<IteratorResult<T>> {
          ended = true;
          queue.length = 0;
          head = 0;
          return Promise.resolve({ value: undefined, done: true });
        },
      };
    },
  };
}
