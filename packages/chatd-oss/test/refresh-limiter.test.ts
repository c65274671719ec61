// The per-user git refresh cap on the mock clock: a full bucket of `perMinute`, then refusals that say exactly
// how long until the next refresh, refill at perMinute/60 s, and users that never share a bucket.
import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import { createRefreshLimiter } from '../src/gitsync/refresh-limiter.js';

describe('createRefreshLimiter', () => {
  it('allows perMinute at once, then refuses with the exact wait, and refills on the clock', async () => {
    const clock = createMockClock();
    const limiter = createRefreshLimiter({ clock, perMinute: 2 });
    expect(limiter.take('u1')).toEqual({ allowed: true });
    expect(limiter.take('u1')).toEqual({ allowed: true });
    expect(limiter.take('u1')).toEqual({ allowed: false, retryAfterMs: 30_000 });
    await clock.advance(29_999);
    expect(limiter.take('u1')).toEqual({ allowed: false, retryAfterMs: 1 });
    await clock.advance(1);
    expect(limiter.take('u1')).toEqual({ allowed: true });
    expect(limiter.take('u1')).toEqual({ allowed: false, retryAfterMs: 30_000 });
  });

  it('keeps one bucket per user', () => {
    const clock = createMockClock();
    const limiter = createRefreshLimiter({ clock, perMinute: 1 });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
  });

  it('past maxUsers, only idle (refilled) buckets are forgotten: a busy user stays capped', async () => {
    const clock = createMockClock();
    const limiter = createRefreshLimiter({ clock, perMinute: 1, maxUsers: 2 });
    expect(limiter.take('busy').allowed).toBe(true);
    expect(limiter.take('idle').allowed).toBe(true);
    expect(limiter.take('third').allowed).toBe(true);
    expect(limiter.take('busy').allowed).toBe(false);
  });
});
