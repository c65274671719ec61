// The address peers dial for relays (`--relay-address`, `CHATD_RELAY_ADDRESS`, default the listen address):
// parsing and checking only. It must be an http(s) URL a peer can reach; a wildcard listen address is not.
import { UsageError } from '@chatd/oss';

/** Environment variable of the relay address. */
export const RELAY_ADDRESS_ENV = 'CHATD_RELAY_ADDRESS';

/** Checks a relay address and returns it without a trailing slash. Throws UsageError. */
export function parseRelayAddress(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`invalid relay address "${raw}" (want http(s)://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`invalid relay address "${raw}" (want http(s)://host:port)`);
  if (url.search || url.hash || url.username || url.password) throw new UsageError(`invalid relay address "${raw}" (no query, fragment or credentials)`);
  return url.toString().replace(/\/+$/, '');
}
