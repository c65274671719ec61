// A counting semaphore that bounds concurrent provider calls. Waiters are served first come, first
// served; a waiter whose signal aborts leaves the queue without taking a slot. Nothing here waits on time.
import { abortReason } from '@chatd/clock';

/** Releases a held slot; calling it more than once is harmless. */
export type Release = () => void;

/** A counting semaphore. */
export interface Semaphore {
  /** Resolves with a release function once a slot is free; rejects with the abort reason if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<Release>;
  /** Slots currently held. */
  inUse(): number;
}

/** Creates a semaphore with `limit` slots (at least 1). */
export function createSemaphore(limit: number): Semaphore {
  const size = Math.max(1, Math.floor(limit));
  let held = 0;
  const queue: Array<() => void> = [];

  const makeRelease = (): Release => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = queue.shift();
      // Hand the slot straight to the next waiter so that `held` never dips and lets a newcomer jump the queue.
      if (next) next();
      else held--;
    };
  };

  return {
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      if (held < size) {
        held++;
        return Promise.resolve(makeRelease());
      }
      return new Promise<Release>((resolve, reject) => {
        const onAbort = () => {
          const i = queue.indexOf(grant);
          if (i >= 0) queue.splice(i, 1);
          reject(abortReason(signal!));
        };
        const grant = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(makeRelease());
        };
        queue.push(grant);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    inUse: () => held,
  };
}
