// The per-user cap on git status refreshes (issue 22): every push report and every inline refresh costs the
// deployment provider calls, so each user gets a token bucket (capacity and refill: `perMinute`).
import type { Clock } from '@chatd/clock';
import { createPerUserRateLimiter, PER_USER_LIMITER_MAX_USERS, type PerUserRateLimiter, type RateAllowance } from '../server/per-user-rate-limiter.js';

/** Refreshes a user may start per minute (and at once, from a full bucket). @default 30 */
export const DEFAULT_GITSYNC_REFRESHES_PER_MINUTE = 30;
/** Users tracked before idle (full again) buckets are dropped. @default 10000 */
export const REFRESH_LIMITER_MAX_USERS = PER_USER_LIMITER_MAX_USERS;

/** The outcome of `take`. */
export type RefreshAllowance = RateAllowance;

/** Per-user token buckets. */
export type RefreshLimiter = PerUserRateLimiter;

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
  return createPerUserRateLimiter({
    clock: options.clock,
    perMinute: options.perMinute ?? DEFAULT_GITSYNC_REFRESHES_PER_MINUTE,
    ...(options.maxUsers !== undefined ? { maxUsers: options.maxUsers } : {}),
  });
}
