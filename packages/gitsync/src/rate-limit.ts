// Rate-limit detection for provider responses (contract.md#provider-rate-limits). Only a 403 or 429 can be a rate limit;
// the wait comes from an integer Retry-After (seconds, takes precedence) or else an integer reset epoch,
// measured on the injected clock, plus RATE_LIMIT_PADDING_MS. `x-ratelimit-remaining` is deliberately not read.
import type { Clock } from '@chatd/clock';
import { RATE_LIMIT_PADDING_MS } from './constants.js';
import { GitSyncError } from './gitsync-error.js';

/** GitHub's reset header (epoch seconds). */
export const GITHUB_RESET_HEADER = 'x-ratelimit-reset';
/** GitLab's reset header (epoch seconds). */
export const GITLAB_RESET_HEADER = 'ratelimit-reset';

const INTEGER = /^[+-]?\d+$/;

function parseInteger(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  return INTEGER.test(trimmed) ? Number(trimmed) : undefined;
}

/**
 * Milliseconds to wait before retrying, from the headers alone: `Retry-After` seconds if it is an integer
 * (the HTTP-date form is ignored), else `resetHeader` epoch seconds minus now, else 0. May be zero or negative.
 */
export function parseRetryAfterMs(headers: Headers, clock: Clock, resetHeader: string = GITHUB_RESET_HEADER): number {
  const seconds = parseInteger(headers.get('retry-after'));
  if (seconds !== undefined) return seconds * 1000;
  const reset = parseInteger(headers.get(resetHeader));
  if (reset !== undefined) return reset * 1000 - clock.nowMs();
  return 0;
}

/** A `RATE_LIMITED` error when `status`/`headers` describe a rate limit with a wait in the future, else undefined. */
export function detectRateLimit(status: number, headers: Headers, clock: Clock, resetHeader: string = GITHUB_RESET_HEADER): GitSyncError | undefined {
  if (status !== 403 && status !== 429) return undefined;
  const waitMs = parseRetryAfterMs(headers, clock, resetHeader);
  // A 403 with no usable wait is an ordinary failure (e.g. bad credentials), not a rate limit.
  if (!(waitMs > 0)) return undefined;
  const retryAfter = new Date(clock.nowMs() + waitMs + RATE_LIMIT_PADDING_MS);
  return new GitSyncError('RATE_LIMITED', `rate limited until ${retryAfter.toISOString()}`, { retryAfter, status });
}
