// The production clock: wall time and Node's own timers. Nothing here is mockable; use
// createMockClock in tests.
import type { Clock } from './clock.js';
import { buildClock } from './timers.js';

/** Options for `createRealClock`. */
export interface RealClockOptions {
  /** Unref every timer so that pending timers never keep the process alive. @default false */
  unref?: boolean;
}

/** Creates a clock backed by `Date.now()` and the global timers. */
export function createRealClock(options: RealClockOptions = {}): Clock {
  return buildClock({
    nowMs: () => Date.now(),
    arm(fn, ms) {
      const handle = setTimeout(fn, ms);
      if (options.unref) handle.unref();
      return handle;
    },
    disarm(handle) {
      clearTimeout(handle as NodeJS.Timeout);
    },
  });
}
