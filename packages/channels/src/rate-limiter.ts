// Token bucket, one per process in the router: starts full, refills continuously on the injected clock.
// Like the original, `tokens()` reports the stored value without refilling first, and a refused
// `allow()` leaves a fractional remainder in place. It does not schedule anything or wait.
import type { Clock } from '@chatd/clock';
import { createRealClock } from '@chatd/clock';

/** A token bucket. */
export interface RateLimiter {
  /** Refills for the time elapsed since the last call, then takes one token if at least one is there. */
  allow(): boolean;
  /** The stored token count, not refilled first (may be stale; for tests). */
  tokens(): number;
}

/** Options for `createRateLimiter`. */
export type RateLimiterOptions = {
  /** Bucket capacity and initial fill; fractions work, 0 never allows. */
  maxTokens: number;
  /** Tokens added per second of clock time; 0 never refills. */
  refillRatePerSecond: number;
  /** Time source. @default createRealClock() */
  clock?: Clock;
};

/** Creates a full token bucket. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { maxTokens, refillRatePerSecond } = options;
  const clock = options.clock ?? createRealClock();
  let tokens = maxTokens;
  let lastRefillMs = clock.nowMs();
  return {
    allow() {
      const now = clock.nowMs();
      // A clock set backwards must not drain the bucket: treat it as no time elapsed.
      const elapsedMs = now > lastRefillMs ? now - lastRefillMs : 0;
      if (elapsedMs > 0 && refillRatePerSecond > 0) {
        // Multiply before dividing: whole-millisecond steps then add up exactly for round rates.
        tokens = Math.min(maxTokens, tokens + (elapsedMs * refillRatePerSecond) / 1000);
      }
      lastRefillMs = now;
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      return false;
    },
    tokens() {
      return tokens;
    },
  };
}
