// The per-user cap on git status refreshes (issue 22): every push report and every inline refresh costs the
// deployment provider calls, so each user gets a token bucket (capacity and refill: `perMinute`). It only
// counts; what a refused caller sees (429, or the stored status) is the caller's decision.
import type { Clock } from '@chatd/clock';
import { createRateLimiter, type RateLimiter } from '@chatd/channels';

/** Refreshes a user may start per minute (and at once, from a full bucket). @default 30 */
export const DEFAULT_GITSYNC_REFRESHES_PER_MINUTE = 30;
/** Users tracked before idle (full again) buckets are dropped. @default 10000 */
export const REFRESH_LIMITER_MAX_USERS = 10_000;

const MINUTE_MS = 60_000;

/** The outcome of `take`. */
export type RefreshAllowance = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Per-user token buckets. */
export interface RefreshLimiter {
  /** Takes one refresh from the user's bucket, or says how long until one is back. */
  take(userId: string): RefreshAllowance;
}

/** Options of `createRefreshLimiter`. */
export type RefreshLimiterOptions = {
  clock: Clock;
  /** @default DEFAULT_GITSYNC_REFRESHES_PER_MINUTE */
  perMinute?: number;
  /** @default REFRESH_LIMITER_MAX_USERS */
  maxUsers?: number;
};

/** Creates the limiter; every user starts with a full bucket. */
export function createRefreshLimiter(options: RefreshLimiterOptions): RefreshLimiter {
  const { clock } = options;
  const perMinute = options.perMinute ?? DEFAULT_GITSYNC_REFRESHES_PER_MINUTE;
  const maxUsers = options.maxUsers ?? REFRESH_LIMITER_MAX_USERS;
  const buckets = new Map<string, { limiter: RateLimiter; lastUseMs: number }>();
  // A bucket left alone this long is full again, so forgetting it changes nothing.
  const refillAllMs = MINUTE_MS;

  const evictIdle = (now: number) => {
    for (const [user, b] of buckets) if (now - b.lastUseMs >= refillAllMs) buckets.delete(user);
  };

  return {
    take(userId) {
      const now = clock.nowMs();
      let bucket = buckets.get(userId);
      if (!bucket) {
        if (buckets.size >= maxUsers) evictIdle(now);
        bucket = { limiter: createRateLimiter({ maxTokens: perMinute, refillRatePerSecond: perMinute / 60, clock }), lastUseMs: now };
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
