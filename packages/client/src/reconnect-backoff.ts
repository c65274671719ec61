// Delays between a stream client's reconnect attempts: exponential from a floor to a ceiling, with
// jitter so that many clients cut at once (a replica restart) do not come back in step. A connection
// that opened resets the count, so a dropped socket is retried at once. Arithmetic only; waits use the clock.

/** First delay after a failed attempt. @default 100 */
export const DEFAULT_RECONNECT_MIN_DELAY_MS = 100;
/** Longest delay between attempts. @default 10000 */
export const DEFAULT_RECONNECT_MAX_DELAY_MS = 10_000;

/** Backoff settings. */
export type ReconnectBackoffOptions = {
  /** @default DEFAULT_RECONNECT_MIN_DELAY_MS */
  minDelayMs?: number;
  /** @default DEFAULT_RECONNECT_MAX_DELAY_MS */
  maxDelayMs?: number;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: () => number;
};

/**
 * Delay before attempt `failures + 1` after `failures` consecutive failed attempts (0 = retry at once):
 * min(min x 2^(failures-1), max), of which the upper half is random.
 */
export function reconnectDelayMs(failures: number, options: ReconnectBackoffOptions = {}): number {
  if (failures <= 0) return 0;
  const min = options.minDelayMs ?? DEFAULT_RECONNECT_MIN_DELAY_MS;
  const max = options.maxDelayMs ?? DEFAULT_RECONNECT_MAX_DELAY_MS;
  const full = Math.min(min * 2 ** Math.min(failures - 1, 30), max);
  const random = options.random ?? Math.random;
  return Math.round(full / 2 + (full / 2) * random());
}
