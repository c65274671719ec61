// The per-user write rate limit (contract.md#cost): a token bucket per user on this replica (capacity `burst`,
// refilled at `perMinute` on the injected clock). Each replica keeps its own buckets: behind a load balancer that
// spreads one user over N replicas, the user's effective rate is up to N times the setting (documented).
import type { Clock } from '@chatd/clock';
import { createRateLimiter, type RateLimiter } from '@chatd/channels';
import { ChatdError } from '../chatd-error.js';

/** Writes a user regains per minute (`CHATD_WRITE_RATE_PER_MINUTE`). @default 60 */
export const DEFAULT_WRITE_RATE_PER_MINUTE = 60;
/** Writes a user may make at once from a full bucket (`CHATD_WRITE_BURST`). @default 20 */
export const DEFAULT_WRITE_BURST = 20;
/** Users tracked before full (idle) buckets are dropped. @default 10000 */
export const WRITE_LIMITER_MAX_USERS = 10_000;

const MINUTE_MS = 60_000;

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
  const { clock } = options;
  const perMinute = options.perMinute ?? DEFAULT_WRITE_RATE_PER_MINUTE;
  const burst = options.burst ?? DEFAULT_WRITE_BURST;
  const maxUsers = options.maxUsers ?? WRITE_LIMITER_MAX_USERS;
  if (!(perMinute > 0) || !(burst >= 1)) throw new ChatdError('CONFIG', 'the write rate and burst must be positive.');
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
      if (bucket.limiter.allow()) return;
      // After a refused allow() the stored count is current: the wait is what the missing fraction takes.
      const missing = 1 - bucket.limiter.tokens();
      const retryAfterMs = Math.ceil((missing * MINUTE_MS) / perMinute);
      throw new ChatdError('RATE_LIMITED', 'Too many requests.', { detail: `At most ${perMinute} writes a minute (burst ${burst}).`, retryAfterMs });
    },
  };
}
