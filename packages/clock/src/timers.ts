// Shared timer plumbing for the real and mock clocks: both expose setTimeout/clearTimeout
// primitives, and this file builds Timer, Ticker and sleep on top of them once.
import { abortReason, type Clock, type Ticker, type Timer, type TimerTag } from './clock.js';

/** The two primitives each clock implementation supplies. */
export interface TimerPrimitives {
  nowMs(): number;
  arm(fn: () => void, ms: number, tag: TimerTag | undefined): unknown;
  disarm(handle: unknown): void;
}

/** Builds a full `Clock` from two timer primitives. */
export function buildClock(p: TimerPrimitives): Clock {
  const setTimeoutImpl = (fn: () => void, ms: number, tag?: TimerTag): Timer => {
    let handle: unknown;
    let pending = false;
    const fire = () => {
      pending = false;
      fn();
    };
    const arm = (delay: number) => {
      if (pending) p.disarm(handle);
      pending = true;
      handle = p.arm(fire, Math.max(0, delay), tag);
    };
    arm(ms);
    return {
      cancel() {
        if (!pending) return false;
        pending = false;
        p.disarm(handle);
        return true;
      },
      reset(delay: number) {
        arm(delay);
      },
    };
  };

  const setIntervalImpl = (fn: () => void | Promise<void>, ms: number, tag?: TimerTag): Ticker => {
    if (!(ms > 0)) throw new RangeError(`interval must be positive, got ${ms}`);
    let stopped = false;
    let timer: Timer | undefined;
    let next = p.nowMs() + ms;
    const tick = () => {
      if (stopped) return;
      let result: void | Promise<void>;
      try {
        result = fn();
      } catch {
        result = undefined;
      }
      const schedule = () => {
        if (stopped) return;
        // Skip ticks missed while a slow callback ran, keeping the original phase.
        const now = p.nowMs();
        next += ms;
        if (next <= now) next += Math.ceil((now - next + 1) / ms) * ms;
        timer = setTimeoutImpl(tick, next - now, tag);
      };
      if (result && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(schedule, schedule);
      } else {
        schedule();
      }
    };
    timer = setTimeoutImpl(tick, ms, tag);
    return {
      stop() {
        stopped = true;
        timer?.cancel();
      },
    };
  };

  return {
    nowMs: () => p.nowMs(),
    now: () => new Date(p.nowMs()),
    since: (t) => p.nowMs() - (typeof t === 'number' ? t : t.getTime()),
    until: (t) => (typeof t === 'number' ? t : t.getTime()) - p.nowMs(),
    setTimeout: setTimeoutImpl,
    setInterval: setIntervalImpl,
    sleep(ms, signal, tag) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(abortReason(signal));
          return;
        }
        const onAbort = () => {
          timer.cancel();
          reject(abortReason(signal!));
        };
        const timer = setTimeoutImpl(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms, tag);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
