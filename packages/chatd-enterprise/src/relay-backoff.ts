// Reconnect and drain timings of the relay (contract.md#relay-backoff, ENT-3): a golden-ratio backoff from 500 ms capped
// at 15 s with no jitter, a budget of 6 reconnect attempts, and the 200 ms drain before an active relay closes.
// Pure functions and constants only; the session arms the timers.

/** First reconnect delay (`relayRetryFloor`). @default 500 */
export const RELAY_RETRY_FLOOR_MS = 500;
/** Longest reconnect delay (`relayRetryCeil`). @default 15000 */
export const RELAY_RETRY_CEIL_MS = 15_000;
/** Reconnect attempts after consecutive failures; the next failure gives up (`relayRetryMaxAttempts`). @default 6 */
export const RELAY_RETRY_MAX_ATTEMPTS = 6;
/** How long an active relay keeps delivering after the chat stops running (`relayDrainTimeout`). @default 200 */
export const RELAY_DRAIN_TIMEOUT_MS = 200;
/** Growth factor of the backoff: the golden ratio. */
export const RELAY_RETRY_RATE = (1 + Math.sqrt(5)) / 2;

/** Delay before reconnect attempt `attempt` (1-based): floor(500 x phi^(attempt-1)), at most 15 s. */
export function relayBackoffDelayMs(attempt: number): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  return Math.min(RELAY_RETRY_CEIL_MS, Math.floor(RELAY_RETRY_FLOOR_MS * RELAY_RETRY_RATE ** exponent));
}
