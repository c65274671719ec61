// The port through which the server recognises a relay leg (contract.md#replica-credential): a stream
// request that carries the relay source header counts as a relay leg only when this port vouches for the
// replica credential it presents. OSS has no replica registry, so it only defines the port; the enterprise
// package implements it. Without it every socket is an ordinary user socket.
import type { IncomingHttpHeaders } from 'node:http';
import { RELAY_SOURCE_HEADER } from '@chatd/protocol';

/** A peer replica that proved who it is with its replica credential. */
export type VerifiedReplica = { replicaId: string };

/**
 * Checks the replica credential of a stream request that carries the relay source header: the replica, or
 * undefined when the credential is missing, wrong or belongs to a replica that is gone. Rejects only when it
 * cannot tell (e.g. the database is unreachable); the upgrade then fails with 503 and the peer retries.
 */
export type VerifyReplicaCredential = (headers: Headers) => Promise<VerifiedReplica | undefined>;

const RELAY_HEADER_KEY = RELAY_SOURCE_HEADER.toLowerCase();

/** Whether a request carries the relay source header. */
export function hasRelaySourceHeader(headers: IncomingHttpHeaders): boolean {
  return headers[RELAY_HEADER_KEY] !== undefined;
}

/**
 * Removes the relay source header from a request that did not prove it comes from a replica, so the
 * subscriber serves (and relays) it as any user socket instead of trusting the header.
 */
export function stripRelaySourceHeader(headers: IncomingHttpHeaders): void {
  delete headers[RELAY_HEADER_KEY];
}

/** The request's headers as a fetch `Headers` (single-valued ones; repeated headers are not credentials). */
export function toFetchHeaders(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') out.set(k, v);
  return out;
}

/**
 * The subscriber a verified relay leg carries when it has no token to forward (a ticketed socket,
 * contract.md#replica-credential): `<user id> <token id>`. Set only by the serving replica from a redeemed ticket
 * (a client's own is always dropped), and believed only on a leg whose replica credential was verified.
 */
export const RELAY_SUBSCRIBER_HEADER = 'X-Chatd-Relay-Subscriber';
const RELAY_SUBSCRIBER_KEY = RELAY_SUBSCRIBER_HEADER.toLowerCase();

/** The relay subscriber a request names, when well-formed. */
export function relaySubscriber(headers: IncomingHttpHeaders): { userId: string; tokenId: string } | undefined {
  const v = headers[RELAY_SUBSCRIBER_KEY];
  if (typeof v !== 'string') return undefined;
  const m = /^([0-9a-f-]{36}) ([0-9a-f-]{36})$/i.exec(v.trim());
  return m ? { userId: m[1]!.toLowerCase(), tokenId: m[2]!.toLowerCase() } : undefined;
}

/** Drops a relay subscriber a client sent (only the serving replica names one). */
export function stripRelaySubscriber(headers: IncomingHttpHeaders): void {
  delete headers[RELAY_SUBSCRIBER_KEY];
}
