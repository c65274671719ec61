import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import { detectRateLimit, GITLAB_RESET_HEADER, parseRetryAfterMs, RATE_LIMIT_PADDING_MS } from '../src/index.js';

const clock = createMockClock();
const nowS = clock.nowMs() / 1000;

describe('parseRetryAfterMs (TestParseRetryAfter)', () => {
  it('reads Retry-After seconds (RetryAfterSeconds)', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after': '120' }), clock)).toBe(120_000);
  });

  it('reads the GitHub reset epoch against the clock', () => {
    expect(parseRetryAfterMs(new Headers({ 'x-ratelimit-reset': String(nowS + 90) }), clock)).toBe(90_000);
  });

  it('reads the GitLab reset header when asked to', () => {
    const headers = new Headers({ 'ratelimit-reset': String(nowS + 5), 'x-ratelimit-reset': String(nowS + 500) });
    expect(parseRetryAfterMs(headers, clock, GITLAB_RESET_HEADER)).toBe(5_000);
  });

  it('gives 0 without headers (NoHeaders) or with invalid values (InvalidValue)', () => {
    expect(parseRetryAfterMs(new Headers(), clock)).toBe(0);
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'soon', 'x-ratelimit-reset': '1.5e9' }), clock)).toBe(0);
  });

  it('lets Retry-After take precedence over the reset header (RetryAfterTakesPrecedence)', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after': '7', 'x-ratelimit-reset': String(nowS + 3600) }), clock)).toBe(7_000);
  });
});

describe('detectRateLimit', () => {
  it('only considers 403 and 429', () => {
    const headers = new Headers({ 'retry-after': '10' });
    expect(detectRateLimit(500, headers, clock)).toBeUndefined();
    expect(detectRateLimit(403, headers, clock)?.retryAfter?.getTime()).toBe(clock.nowMs() + 10_000 + RATE_LIMIT_PADDING_MS);
    expect(detectRateLimit(429, headers, clock)?.code).toBe('RATE_LIMITED');
  });

  it('is no rate limit when the wait is zero or negative', () => {
    expect(detectRateLimit(429, new Headers({ 'retry-after': '0' }), clock)).toBeUndefined();
    expect(detectRateLimit(403, new Headers({ 'x-ratelimit-reset': String(nowS) }), clock)).toBeUndefined();
  });
});
