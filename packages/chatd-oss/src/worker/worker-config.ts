// The worker's timings and switches (contract.md#timings, contract.md#worker) as named defaults, and the
// reader of their environment variables. It only parses: `createChatWorker` applies the values.
import { ChatdError } from '../chatd-error.js';

// The timing defaults live once, with the rest of the configuration.
export { DEFAULT_ACQUIRE_INTERVAL_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_STALE_AFTER_MS } from '../config.js';
/** Stale recovery runs every `staleAfterMs / STALE_RECOVERY_DIVISOR` (1 min by default). */
export const STALE_RECOVERY_DIVISOR = 5;

/** Worker settings that can come from the environment. */
export type WorkerEnvConfig = {
  /** False when `CHATD_WORKER` is `0` or `false`: the replica serves clients but never generates. */
  worker: boolean;
  acquireIntervalMs?: number;
  heartbeatIntervalMs?: number;
  staleAfterMs?: number;
};

function readMs(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n <= 0) {
    throw new ChatdError('CONFIG', `${name} must be a positive integer of milliseconds, got "${raw}"`);
  }
  return n;
}

/**
 * Reads `CHATD_WORKER` (`0`/`false`/`no`/`off` disable the worker), `CHATD_ACQUIRE_INTERVAL_MS`,
 * `CHATD_HEARTBEAT_INTERVAL_MS` and `CHATD_STALE_AFTER_MS`; unset timings are left out (the defaults apply).
 * Throws `ChatdError` CONFIG on a value that is not usable.
 */
export function workerConfigFromEnv(env: Record<string, string | undefined>): WorkerEnvConfig {
  const flag = env.CHATD_WORKER?.trim().toLowerCase();
  if (flag !== undefined && flag !== '' && !['0', '1', 'true', 'false', 'yes', 'no', 'on', 'off'].includes(flag)) {
    throw new ChatdError('CONFIG', `CHATD_WORKER must be 0 or 1, got "${env.CHATD_WORKER}"`);
  }
  const out: WorkerEnvConfig = { worker: !['0', 'false', 'no', 'off'].includes(flag ?? '') };
  const acquireIntervalMs = readMs(env, 'CHATD_ACQUIRE_INTERVAL_MS');
  const heartbeatIntervalMs = readMs(env, 'CHATD_HEARTBEAT_INTERVAL_MS');
  const staleAfterMs = readMs(env, 'CHATD_STALE_AFTER_MS');
  if (acquireIntervalMs !== undefined) out.acquireIntervalMs = acquireIntervalMs;
  if (heartbeatIntervalMs !== undefined) out.heartbeatIntervalMs = heartbeatIntervalMs;
  if (staleAfterMs !== undefined) out.staleAfterMs = staleAfterMs;
  return out;
}
