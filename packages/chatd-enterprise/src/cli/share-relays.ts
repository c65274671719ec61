// Whether subscribers of one chat with the same token share one relay (`--no-share-relays`,
// `CHATD_SHARE_RELAYS=false`; on by default): parsing and checking only.
import { UsageError } from '@chatd/oss';

/** Environment variable that turns relay sharing off (`false`/`0`) or on (`true`/`1`). */
export const SHARE_RELAYS_ENV = 'CHATD_SHARE_RELAYS';

/** Reads the flag and the environment; the flag wins. Throws UsageError on a value that is not a boolean. */
export function parseShareRelays(noShareFlag: boolean | undefined, env: string | undefined): boolean {
  if (noShareFlag) return false;
  if (env === undefined || env === '') return true;
  const v = env.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`invalid ${SHARE_RELAYS_ENV} "${env}" (want true or false)`);
}
