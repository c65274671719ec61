// The relay mode of `chatd-enterprise serve` (`CHATD_RELAY_MODE`: `link` or `per-subscriber`, contract.md#relay):
// parsing and checking only.
import { UsageError } from '@chatd/oss';
import { DEFAULT_RELAY_MODE, type RelayMode } from '../multi-replica-subscribe-fn.js';

/** Environment variable choosing the relay mode. */
export const RELAY_MODE_ENV = 'CHATD_RELAY_MODE';

/** Reads the environment's relay mode; unset or empty is DEFAULT_RELAY_MODE. Throws UsageError on another value. */
export function parseRelayMode(env: string | undefined): RelayMode {
  if (env === undefined || env.trim() === '') return DEFAULT_RELAY_MODE;
  const v = env.trim().toLowerCase();
  if (v === 'link' || v === 'per-subscriber') return v;
  throw new UsageError(`invalid ${RELAY_MODE_ENV} "${env}" (want link or per-subscriber)`);
}
