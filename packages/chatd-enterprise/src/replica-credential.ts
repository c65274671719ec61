// The replica credential on the wire and its check (contract.md#replica-credential): a relay leg presents its replica's secret in
// REPLICA_CREDENTIAL_HEADER next to the relay source header (the replica's id); the serving replica hashes it and
// compares, in constant time, with the hash that replica registered (live rows only). Positive answers are cached
// briefly so relay legs do not each cost a query; wrong answers are never cached. It does not authenticate the
// user behind the leg: the forwarded session token still does.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Clock } from '@chatd/clock';
import type { VerifyReplicaCredential } from '@chatd/oss';
import { RELAY_SOURCE_HEADER } from '@chatd/protocol';

/** Header a relay leg carries its replica's credential in. */
export const REPLICA_CREDENTIAL_HEADER = 'X-Chatd-Replica-Credential';
/**
 * How long a verified (replica id, credential) pair is trusted without asking the registry again. Well under the
 * stale threshold, so a replica that goes stale stops being trusted soon after. @default 10000
 */
export const DEFAULT_REPLICA_CREDENTIAL_CACHE_MS = 10_000;
/** Most cached pairs (one per live peer in practice; the bound only stops a flood of fresh secrets). @default 1024 */
export const REPLICA_CREDENTIAL_CACHE_MAX_ENTRIES = 1024;
/** Longest header value considered (a credential is 43 characters); longer ones are refused unread. */
const MAX_HEADER_CHARS = 256;

/** The stored form of a credential: its SHA-256. */
export function hashReplicaCredential(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Options of `createReplicaCredentialVerifier`. */
export type ReplicaCredentialVerifierOptions = {
  /** The registered credential hash of a live replica (`ReplicaRegistry.credentialHash`). */
  credentialHash: (replicaId: string) => Promise<Buffer | undefined>;
  clock: Clock;
  /** @default DEFAULT_REPLICA_CREDENTIAL_CACHE_MS */
  cacheMs?: number;
};

/** Creates the check the server runs on stream requests that carry the relay source header. */
export function createReplicaCredentialVerifier(options: ReplicaCredentialVerifierOptions): VerifyReplicaCredential {
  const { clock } = options;
  const cacheMs = options.cacheMs ?? DEFAULT_REPLICA_CREDENTIAL_CACHE_MS;
  /** Key `replicaId \n sha256 hex` -> expiry in clock ms. */
  const trusted = new Map<string, number>();

  const remember = (key: string) => {
    const now = clock.nowMs();
    if (trusted.size >= REPLICA_CREDENTIAL_CACHE_MAX_ENTRIES) {
      for (const [k, until] of trusted) if (until <= now) trusted.delete(k);
      // Still full: drop the oldest entry (Map keeps insertion order).
      if (trusted.size >= REPLICA_CREDENTIAL_CACHE_MAX_ENTRIES) trusted.delete(trusted.keys().next().value as string);
    }
    trusted.set(key, now + cacheMs);
  };

  return async (headers) => {
    const replicaId = headers.get(RELAY_SOURCE_HEADER);
    const secret = headers.get(REPLICA_CREDENTIAL_HEADER);
    if (!replicaId || !secret || replicaId.length > MAX_HEADER_CHARS || secret.length > MAX_HEADER_CHARS) return undefined;
    const presented = hashReplicaCredential(secret);
    const key = `${replicaId}\n${presented.toString('hex')}`;
    const until = trusted.get(key);
    if (until !== undefined) {
      if (until > clock.nowMs()) return { replicaId };
      trusted.delete(key);
    }
    const stored = await options.credentialHash(replicaId);
    if (!stored || stored.length !== presented.length || !timingSafeEqual(stored, presented)) return undefined;
    remember(key);
    return { replicaId };
  };
}
