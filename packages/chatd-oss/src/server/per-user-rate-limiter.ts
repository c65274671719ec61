// One token bucket per user on this replica (capacity `burst`, refilled at `perMinute` on the injected clock), for
// the limits that count per user: git status refreshes, file uploads, writes. It only counts; what a refused
// caller sees (a 429 with Retry-After, or a stored answer) is the caller's decision.
import type { Clock } from '@chatd/clock';
import { createRateLimiter, type RateLimiter } from '@chatd/channels';

/** Users tracked before idle (full again) buckets are dropped. @default 10000 */
export const PER_USER_LIMITER_MAX_USERS = 10_000;

const MINUTE_MS = 60_000;

/** The outcome of `take`. */
export type RateAllowance = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Per-user token buckets. */
export interface PerUserRateLimiter {
  /** Takes one token from the user's bucket, or says how long until one is back. */
  take(userId: string): RateAllowance;
}

/** Options of `createPerUserRateLimiter`. */
export type PerUserRateLimiterOptions = {
  clock: Clock;
  /** Tokens a user regains per minute. */
  perMinute: number;
  /** Tokens a full bucket holds. @default perMinute */
  burst?: number;
  /** @default PER_USER_LIMITER_MAX_USERS */
  maxUsers?: number;
};

/** Creates the limiter; every user starts with a full bucket. */
export function createPerUserRateLimiter(options: PerUserRateLimiterOptions): PerUserRateLimiter {
  const { clock, perMinute } = options;
  const burst = options.burst ?? perMinute;
  const maxUsers = options.maxUsers ?? PER_USER_LIMITER_MAX_USERS;
  const buckets = new Map<string, { limiter: RateLimiter; lastUseMs: number }>();
  // A bucket left alone this long is full again, so forgetting it changes nothing.
  const refillAllMs = Math.ceil((burst * MINUTE_MS) / perMinute);

  const evictIdle = (now: number) => {
    for (const [user, b] of buckets) if (now - b.lastUseMs >= refillAllMs) buckets.delete(user);
  };

  return {
    take(userId) {
      const now = clock.nowMs();
      let bucket = buckets.get(userId);
      if (!bucket) {
        if (buckets.size >= maxUsers) evictIdle(now);
        bucket = { limiter: createRateLimiter({ maxTokens: burst, refillRatePerSecond: perMinute / 60, clock }), lastUseMs: now };
        buckets.set(userId, bucket);
      }
      bucket.lastUseMs = now;
      if (bucket.limiter.allow()) return { allowed: true };
      // After a refused allow() the stored count is current: the wait is what the missing fraction takes.
      const missing = 1 - bucket.limiter.tokens();
      return { allowed: false, retryAfterMs: Math.ceil((missing * MINUTE_MS) / perMinute) };
    },
  };
}
