// A quartz-like mock clock on @sinonjs/fake-timers `createClock` (never a global install, so the
// timers inside pg and ws keep running). Tests wait until the code under test arms a timer,
// then advance exactly past it: no test ever sleeps for real.
import FakeTimers from '@sinonjs/fake-timers';
import type { Clock, TimerTag } from './clock.js';
import { ClockError } from './clock-error.js';
import { buildClock } from './timers.js';

/** Real-time deadline for `waitForTimer` and traps, so a broken test fails instead of hanging. @default 5000 */
export const DEFAULT_WAIT_TIMEOUT_MS = 5_000;

// Captured at load: fake-timers is never installed globally, but be explicit about which timers are real.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** A timer the mock clock currently holds. */
export type PendingTimer = {
  /** Sequence number of the arming call, in arming order. */
  id: number;
  /** The tag the timer was armed with, if any. */
  tag: TimerTag | undefined;
  /** Delay the timer was armed with. */
  delayMs: number;
  /** Mock time at which it fires. */
  dueAtMs: number;
};

/** Filter for waiting on timers. */
export type TimerFilter = {
  /** Match only timers armed with this tag. */
  tag?: TimerTag;
  /** Match only timers armed with this delay. */
  delayMs?: number;
};

/** Options for waiting helpers. */
export type WaitOptions = {
  /** Real milliseconds to wait before failing with `WAIT_TIMEOUT`. @default DEFAULT_WAIT_TIMEOUT_MS */
  timeoutMs?: number;
};

/** Catches timers armed after it was set, in order (like quartz's `Trap`). */
export interface TimerTrap {
  /** Resolves with the next matching timer armed after the trap was set. */
  wait(options?: WaitOptions): Promise<PendingTimer>;
  /** Stops catching timers armed from now on. */
  close(): void;
}

/** A `Clock` whose time moves only when the test says so. */
export interface MockClock extends Clock {
  /** Advances time by `ms`, firing due timers in order and letting promises settle between them. */
  advance(ms: number): Promise<void>;
  /** Advances to the next pending timer and fires it; resolves with the milliseconds advanced (0 if none). */
  advanceNext(): Promise<number>;
  /** Fires every pending timer (and those they arm) until none remain; throws after `limit` loops. */
  runAll(limit?: number): Promise<void>;
  /** Jumps the wall time to `t` without firing timers; pending timers keep their remaining delays. */
  set(t: Date | number): void;
  /** Milliseconds until the next pending timer, or undefined when none is pending. */
  peek(): number | undefined;
  /** Every timer currently pending, soonest first. */
  pendingTimers(): PendingTimer[];
  /** Resolves once a matching timer is pending (at once if one already is). */
  waitForTimer(filter?: TimerFilter, options?: WaitOptions): Promise<PendingTimer>;
  /** Starts catching timers armed from now on. */
  trap(filter?: TimerFilter): TimerTrap;
}

/** Options for `createMockClock`. */
export type MockClockOptions = {
  /** Initial time. @default 2026-01-01T00:00:00Z */
  now?: Date | number;
};

type Waiter = { filter: TimerFilter; resolve: (t: PendingTimer) => void };

function matches(t: PendingTimer, f: TimerFilter): boolean {
  return (f.tag === undefined || t.tag === f.tag) && (f.delayMs === undefined || t.delayMs === f.delayMs);
}

function withDeadline<T>(register: (resolve: (v: T) => void) => () => void, what: string, options?: WaitOptions): Promise<T> {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  return new Promise<T>((resolve, reject) => {
    const deadline = realSetTimeout(() => {
      unregister();
      reject(new ClockError('WAIT_TIMEOUT', `no ${what} was armed within ${timeoutMs} ms of real time`));
    }, timeoutMs);
    const unregister = register((v) => {
      realClearTimeout(deadline);
      resolve(v);
    });
  });
}

function describe(f: TimerFilter): string {
  const parts = [f.tag !== undefined ? `tag "${f.tag}"` : '', f.delayMs !== undefined ? `delay ${f.delayMs} ms` : ''].filter(Boolean);
  return parts.length ? `timer with ${parts.join(' and ')}` : 'timer';
}

/** Creates a mock clock starting at `options.now`. */
export function createMockClock(options: MockClockOptions = {}): MockClock {
  const fake = FakeTimers.createClock(options.now ?? Date.UTC(2026, 0, 1));
  const pending = new Map<unknown, PendingTimer>();
  const waiters = new Set<Waiter>();
  const traps = new Set<{ filter: TimerFilter; caught: PendingTimer[]; notify: (() => void) | undefined }>();
  let seq = 0;

  const base = buildClock({
    nowMs: () => fake.now,
    arm(fn, ms, tag) {
      const info: PendingTimer = { id: ++seq, tag, delayMs: ms, dueAtMs: fake.now + ms };
      const handle = fake.setTimeout(() => {
        pending.delete(handle);
        fn();
      }, ms);
      pending.set(handle, info);
      for (const w of waiters) {
        if (matches(info, w.filter)) {
          waiters.delete(w);
          w.resolve(info);
        }
      }
      for (const t of traps) {
        if (matches(info, t.filter)) {
          t.caught.push(info);
          t.notify?.();
        }
      }
      return handle;
    },
    disarm(handle) {
      pending.delete(handle);
      fake.clearTimeout(handle as Parameters<typeof fake.clearTimeout>[0]);
    },
  });

  const sorted = () => [...pending.values()].sort((a, b) => a.dueAtMs - b.dueAtMs || a.id - b.id);

  return {
    ...base,
    async advance(ms) {
      if (ms < 0) throw new ClockError('INVALID_ARGUMENT', `cannot advance by a negative duration (${ms} ms)`);
      await fake.tickAsync(ms);
    },
    async advanceNext() {
      const next = sorted()[0];
      if (!next) return 0;
      const delta = Math.max(0, next.dueAtMs - fake.now);
      await fake.tickAsync(delta);
      return delta;
    },
    async runAll(limit = 10_000) {
      for (let i = 0; i < limit; i++) {
        if (pending.size === 0) return;
        await this.advanceNext();
      }
      throw new ClockError('INVALID_ARGUMENT', `runAll gave up after ${limit} timers: a timer keeps re-arming itself`);
    },
    set(t) {
      const target = typeof t === 'number' ? t : t.getTime();
      // fake-timers keeps pending timers relative to the jump; keep our bookkeeping in step.
      const delta = target - fake.now;
      fake.setSystemTime(target);
      for (const info of pending.values()) info.dueAtMs += delta;
    },
    peek() {
      const next = sorted()[0];
      return next ? Math.max(0, next.dueAtMs - fake.now) : undefined;
    },
    pendingTimers: sorted,
    waitForTimer(filter = {}, opts) {
      const existing = sorted().find((t) => matches(t, filter));
      if (existing) return Promise.resolve(existing);
      return withDeadline<PendingTimer>((resolve) => {
        const w: Waiter = { filter, resolve };
        waiters.add(w);
        return () => waiters.delete(w);
      }, describe(filter), opts);
    },
    trap(filter = {}) {
      const t = { filter, caught: [] as PendingTimer[], notify: undefined as (() => void) | undefined };
      traps.add(t);
      return {
        wait(opts) {
          return withDeadline<PendingTimer>((resolve) => {
            const check = () => {
              const first = t.caught.shift();
              if (first) {
                t.notify = undefined;
                resolve(first);
              }
            };
            t.notify = check;
            check();
            return () => {
              t.notify = undefined;
            };
          }, describe(filter), opts);
        },
        close() {
          traps.delete(t);
        },
      };
    },
  };
}
