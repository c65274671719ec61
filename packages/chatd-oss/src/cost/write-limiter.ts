// The per-user write rate limit (contract.md#cost): a token bucket per user on this replica (capacity `burst`,
// refilled at `perMinute` on the injected clock). Each replica keeps its own buckets: behind a load balancer that
// spreads one user over N replicas, the user's effective rate is up to N times the setting (documented).
import type { Clock } from '@chatd/clock';
import { ChatdError } from '../chatd-error.js';
import { createPerUserRateLimiter } from '../server/per-user-rate-limiter.js';

/** Writes a user regains per minute (`CHATD_WRITE_RATE_PER_MINUTE`). @default 60 */
export const DEFAULT_WRITE_RATE_PER_MINUTE = 60;
/** Writes a user may make at once from a full bucket (`CHATD_WRITE_BURST`). @default 20 */
export const DEFAULT_WRITE_BURST = 20;
/** Users tracked before full (idle) buckets are dropped. @default 10000 */
export const WRITE_LIMITER_MAX_USERS = 10_000;

/** Per-user write buckets. */
export interface WriteLimiter {
  /** Takes one write from the user's bucket; throws RATE_LIMITED (429 with Retry-After) when it is empty. */
  take(userId: string): void;
}

/** Options of `createWriteLimiter`. */
export type WriteLimiterOptions = {
  clock: Clock;
  /** @default DEFAULT_WRITE_RATE_PER_MINUTE */
  perMinute?: number;
  /** @default DEFAULT_WRITE_BURST */
  burst?: number;
  /** @default WRITE_LIMITER_MAX_USERS */
  maxUsers?: number;
};

/** Creates the limiter; every user starts with a full bucket. */
export function createWriteLimiter(options: WriteLimiterOptions): WriteLimiter {
  const perMinute = options.perMinute ?? DEFAULT_WRITE_RATE_PER_MINUTE;
  const burst = options.burst ?? DEFAULT_WRITE_BURST;
  if (!(perMinute > 0) || !(burst >= 1)) throw new ChatdError('CONFIG', 'the write rate and burst must be positive.');
  const buckets = createPerUserRateLimiter({ clock: options.clock, perMinute, burst, maxUsers: options.maxUsers ?? WRITE_LIMITER_MAX_USERS });
  return {
    take(userId) {
      const got = buckets.take(userId);
      if (got.allowed) return;
      throw new ChatdError('RATE_LIMITED', 'Too many requests.', { detail: `At most ${perMinute} writes a minute (burst ${burst}).`, retryAfterMs: got.retryAfterMs });
    },
  };
}
