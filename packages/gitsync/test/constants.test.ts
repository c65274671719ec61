import { describe, expect, it } from 'vitest';
import { DIFF_STATUS_TTL_MS, ErrNoTokenAvailable, ErrRateLimitSkipped, NO_PR_BACKOFF_MS, NO_PR_RETRY_WINDOW_MS, NO_TOKEN_BACKOFF_MS } from '../src/index.js';

describe('gitsync constants', () => {
  it('match the original durations', () => {
    expect(NO_TOKEN_BACKOFF_MS).toBe(600_000);
    expect(NO_PR_BACKOFF_MS).toBe(15_000);
    expect(NO_PR_RETRY_WINDOW_MS).toBe(120_000);
    expect(DIFF_STATUS_TTL_MS).toBe(120_000);
    // The seed bounds API calls per push to about eight.
    expect(Math.round(NO_PR_RETRY_WINDOW_MS / NO_PR_BACKOFF_MS)).toBe(8);
  });

  it('sentinels keep the seed messages and are told apart by code', () => {
    expect(ErrNoTokenAvailable.message).toBe('no token available');
    expect(ErrRateLimitSkipped.message).toBe('skipped due to rate limit');
    expect(ErrNoTokenAvailable.code).not.toBe(ErrRateLimitSkipped.code);
  });
});
