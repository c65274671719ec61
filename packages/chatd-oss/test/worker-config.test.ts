import { describe, expect, it } from 'vitest';
import { isChatdError } from '../src/chatd-error.js';
import { RETRY_MAX_DELAY_MS, retryDelayMs } from '../src/worker/retry-backoff.js';
import { DEFAULT_ACQUIRE_INTERVAL_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_STALE_AFTER_MS, workerConfigFromEnv } from '../src/worker/worker-config.js';

describe('retryDelayMs', () => {
  it('waits min(1000 x 2^(n-1), 60000) ms for attempt n', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelayMs(n))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(retryDelayMs(5000)).toBe(RETRY_MAX_DELAY_MS);
  });

  it("takes a provider's retry-after as a lower bound, still capped", () => {
    expect(retryDelayMs(1, 500)).toBe(1000);
    expect(retryDelayMs(1, 2500.2)).toBe(2501);
    expect(retryDelayMs(2, 600_000)).toBe(60_000);
  });
});

describe('workerConfigFromEnv', () => {
  it('has the original defaults', () => {
    expect([DEFAULT_ACQUIRE_INTERVAL_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_STALE_AFTER_MS]).toEqual([1000, 30_000, 300_000]);
    expect(workerConfigFromEnv({})).toEqual({ worker: true });
  });

  it('reads the timings and CHATD_WORKER', () => {
    expect(
      workerConfigFromEnv({ CHATD_WORKER: '0', CHATD_HEARTBEAT_INTERVAL_MS: '2000', CHATD_STALE_AFTER_MS: '10000', CHATD_ACQUIRE_INTERVAL_MS: '250' }),
    ).toEqual({ worker: false, heartbeatIntervalMs: 2000, staleAfterMs: 10_000, acquireIntervalMs: 250 });
    expect(workerConfigFromEnv({ CHATD_WORKER: 'true' }).worker).toBe(true);
    expect(workerConfigFromEnv({ CHATD_WORKER: 'off' }).worker).toBe(false);
  });

  it('rejects unusable values with CONFIG', () => {
    for (const env of [{ CHATD_WORKER: 'maybe' }, { CHATD_STALE_AFTER_MS: '-1' }, { CHATD_HEARTBEAT_INTERVAL_MS: '1.5' }, { CHATD_ACQUIRE_INTERVAL_MS: '0' }]) {
      let thrown: unknown;
      try {
        workerConfigFromEnv(env);
      } catch (err) {
        thrown = err;
      }
      expect(isChatdError(thrown, 'CONFIG')).toBe(true);
    }
  });
});
