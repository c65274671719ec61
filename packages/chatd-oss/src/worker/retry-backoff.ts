// The run loop's retry delay (contract.md#retry-backoff): attempt n (1-based) waits min(1000 x 2^(n-1), 60000)
// ms, with no attempt limit; a provider's `retry-after` can only lengthen a wait, up to the same cap.

/** Delay of the first retry. @default 1000 */
export const RETRY_BASE_DELAY_MS = 1_000;
/** Longest retry delay. @default 60000 */
export const RETRY_MAX_DELAY_MS = 60_000;

/** Milliseconds to wait before retry `attempt` (1-based); `retryAfterMs` is a lower bound when given. */
export function retryDelayMs(attempt: number, retryAfterMs?: number): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2^(n-1) overflows to Infinity for huge n; min() keeps the cap.
  const backoff = Math.min(RETRY_BASE_DELAY_MS * 2 ** (n - 1), RETRY_MAX_DELAY_MS);
  if (retryAfterMs === undefined || !(retryAfterMs > backoff)) return backoff;
  return Math.min(Math.ceil(retryAfterMs), RETRY_MAX_DELAY_MS);
}
