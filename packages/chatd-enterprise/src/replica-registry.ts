// The replica registry (issue 12): each replica records its id and relay address in `chatd_replicas` and
// heartbeats the row on the injected clock; peers resolve a worker id to the address they dial, and a replica
// whose heartbeat is older than the stale threshold is no longer resolved or listed. At `register` it also
// draws the replica credential (contract.md#replica-credential): a random secret that only this process knows, stored as its
// SHA-256, which peers present on relay legs. It never dials, and it does not decide who runs a chat.
import { randomBytes } from 'node:crypto';
import type { Clock, Ticker } from '@chatd/clock';
import type { Logger } from '@chatd/oss';
import { hashReplicaCredential } from './replica-credential.js';

/** How often a replica refreshes its registry row. @default 30000 (the worker's heartbeat) */
export const DEFAULT_REPLICA_HEARTBEAT_INTERVAL_MS = 30_000;
/** A replica whose heartbeat is older than this is gone. @default 300000 (the worker's stale threshold) */
export const DEFAULT_REPLICA_STALE_AFTER_MS = 300_000;
/** Rows stale for this many stale periods are deleted by any replica's heartbeat. @default 10 */
export const REPLICA_PRUNE_STALE_PERIODS = 10;
/** Clock tag of the registry heartbeat. */
export const REPLICA_HEARTBEAT_TIMER_TAG = 'replica-heartbeat';
/** Random bytes of a replica credential (256 bits: not guessable, and not worth stretching). @default 32 */
export const REPLICA_CREDENTIAL_BYTES = 32;

/** The query surface the registry needs (a `pg.Pool` fits). */
export interface ReplicaRegistryDb {
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** A live replica as consoles see it. */
export type ReplicaInfo = {
  id: string;
  relay_address: string;
  worker: boolean;
  started_at: string;
  heartbeat_at: string;
  /** Chats this replica is generating now. */
  running_chats: number;
};

/**
 * How long a resolved relay address is reused without asking the database again (never past the replica's own
 * stale threshold). A reconnect storm of many subscriptions to chats of one peer then costs one lookup, not one
 * per relay dial; concurrent lookups of one replica share one query as well. 0 turns the cache off (lookups
 * in flight are still shared). @default 5000
 */
export const DEFAULT_REPLICA_ADDRESS_CACHE_MS = 5_000;
/** Most cached addresses (one per live peer in practice; the bound only stops a flood of unknown ids). @default 1024 */
export const REPLICA_ADDRESS_CACHE_MAX_ENTRIES = 1024;

/** Options of `createReplicaRegistry`. */
export type ReplicaRegistryOptions = {
  db: ReplicaRegistryDb;
  clock: Clock;
  /** @default DEFAULT_REPLICA_HEARTBEAT_INTERVAL_MS */
  heartbeatIntervalMs?: number;
  /** @default DEFAULT_REPLICA_STALE_AFTER_MS */
  staleAfterMs?: number;
  /** @default DEFAULT_REPLICA_ADDRESS_CACHE_MS */
  addressCacheMs?: number;
  logger?: Logger;
};

/** This replica's registration. */
export type ReplicaRegistration = {
  id: string;
  relayAddress: string;
  /** Whether this replica generates (runs a chat worker). */
  worker: boolean;
};

/** The registry of one replica. */
export interface ReplicaRegistry {
  /** Writes this replica's row and heartbeats it until `deregister`. Rejects when the database is unreachable. */
  register(self: ReplicaRegistration): Promise<void>;
  /** Stops heartbeating and deletes this replica's row. Idempotent; never rejects. */
  deregister(): Promise<void>;
  /** Refreshes the heartbeat now (what the timer does); re-creates the row if it was deleted. */
  heartbeat(): Promise<void>;
  /** The relay address of a live replica, or undefined when it is unknown or stale. */
  resolveReplicaAddress(signal: AbortSignal, replicaId: string): Promise<string | undefined>;
  /** Live replicas, oldest first, with their running-chat counts. */
  listLive(): Promise<ReplicaInfo[]>;
  /** This replica's credential (base64url), for its own relay dials; undefined until `register`. Never stored in plain. */
  credential(): string | undefined;
  /** The stored credential hash of a live replica, or undefined when it is unknown, stale or has none. */
  credentialHash(replicaId: string): Promise<Buffer | undefined>;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Creates the PostgreSQL replica registry. */
export function createReplicaRegistry(options: ReplicaRegistryOptions): ReplicaRegistry {
  const { db, clock, logger } = options;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_REPLICA_HEARTBEAT_INTERVAL_MS;
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_REPLICA_STALE_AFTER_MS;
  const addressCacheMs = options.addressCacheMs ?? DEFAULT_REPLICA_ADDRESS_CACHE_MS;
  if (!Number.isFinite(addressCacheMs) || addressCacheMs < 0) throw new RangeError(`addressCacheMs must be a non-negative number, got ${String(addressCacheMs)}`);
  /** Replica id -> its relay address and until when (clock ms) it may be reused. Only live answers are kept. */
  const addresses = new Map<string, { address: string; untilMs: number }>();
  /** Replica id -> the lookup in flight, shared by every resolve that starts while it runs. */
  const lookups = new Map<string, Promise<string | undefined>>();
  let self: ReplicaRegistration | undefined;
  let startedAt: Date | undefined;
  let secret: string | undefined;
  let secretHash: Buffer | undefined;
  let ticker: Ticker | undefined;

  const liveSince = () => new Date(clock.nowMs() - staleAfterMs);

  /** One lookup of a live replica's address; a live answer is cached until the cache window or the replica's stale time. */
  const lookUpAddress = async (replicaId: string): Promise<string | undefined> => {
    const { rows } = await db.query<{ relay_address: string; heartbeat_at: Date }>(
      'SELECT relay_address, heartbeat_at FROM chatd_replicas WHERE id = $1 AND heartbeat_at >= $2',
      [replicaId, liveSince()],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (addressCacheMs > 0) {
      if (addresses.size >= REPLICA_ADDRESS_CACHE_MAX_ENTRIES) {
        const now = clock.nowMs();
        for (const [id, entry] of addresses) if (entry.untilMs <= now) addresses.delete(id);
        // Still full: drop the oldest entry (Map keeps insertion order).
        if (addresses.size >= REPLICA_ADDRESS_CACHE_MAX_ENTRIES) addresses.delete(addresses.keys().next().value as string);
      }
      addresses.set(replicaId, { address: row.relay_address, untilMs: Math.min(clock.nowMs() + addressCacheMs, row.heartbeat_at.getTime() + staleAfterMs) });
    }
    return row.relay_address;
  };

  const upsert = async (now: Date) => {
    if (!self || !startedAt) return;
    await db.query(
      `INSERT INTO chatd_replicas (id, relay_address, worker, started_at, heartbeat_at, credential_hash) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET relay_address = EXCLUDED.relay_address, worker = EXCLUDED.worker, heartbeat_at = EXCLUDED.heartbeat_at,
         credential_hash = EXCLUDED.credential_hash`,
      [self.id, self.relayAddress, self.worker, startedAt, now, secretHash],
    );
  };

  const heartbeat = async () => {
    if (!self) return;
    const now = clock.now();
    // The row is upserted, not updated: a peer may have pruned it while this replica was cut off.
    await upsert(now);
    await db.query('DELETE FROM chatd_replicas WHERE heartbeat_at < $1', [new Date(now.getTime() - staleAfterMs * REPLICA_PRUNE_STALE_PERIODS)]);
  };

  return {
    async register(registration) {
      if (self) throw new Error(`replica ${self.id} is already registered`);
      self = { ...registration };
      startedAt = clock.now();
      secret = randomBytes(REPLICA_CREDENTIAL_BYTES).toString('base64url');
      secretHash = hashReplicaCredential(secret);
      try {
        await upsert(startedAt);
      } catch (err) {
        self = undefined;
        secret = secretHash = undefined;
        throw err;
      }
      ticker = clock.setInterval(
        async () => {
          try {
            await heartbeat();
          } catch (err) {
            // Peers stop resolving this replica after the stale threshold; the next tick tries again.
            logger?.warn({ err: errorText(err) }, 'replica heartbeat failed');
          }
        },
        heartbeatIntervalMs,
        REPLICA_HEARTBEAT_TIMER_TAG,
      );
    },

    async deregister() {
      ticker?.stop();
      ticker = undefined;
      const was = self;
      self = undefined;
      secret = secretHash = undefined;
      if (!was) return;
      try {
        await db.query('DELETE FROM chatd_replicas WHERE id = $1', [was.id]);
      } catch (err) {
        logger?.warn({ err: errorText(err) }, 'replica deregistration failed; the row goes stale');
      }
    },

    heartbeat,

    async resolveReplicaAddress(signal, replicaId) {
      signal.throwIfAborted();
      const cached = addresses.get(replicaId);
      if (cached) {
        if (cached.untilMs > clock.nowMs()) return cached.address;
        addresses.delete(replicaId);
      }
      let lookup = lookups.get(replicaId);
      if (!lookup) {
        lookup = lookUpAddress(replicaId).finally(() => lookups.delete(replicaId));
        lookups.set(replicaId, lookup);
      }
      return lookup;
    },

    credential: () => secret,

    async credentialHash(replicaId) {
      const { rows } = await db.query<{ credential_hash: Buffer | null }>('SELECT credential_hash FROM chatd_replicas WHERE id = $1 AND heartbeat_at >= $2', [
        replicaId,
        liveSince(),
      ]);
      return rows[0]?.credential_hash ?? undefined;
    },

    async listLive() {
      const { rows } = await db.query<{ id: string; relay_address: string; worker: boolean; started_at: Date; heartbeat_at: Date; running_chats: string }>(
        `SELECT r.id, r.relay_address, r.worker, r.started_at, r.heartbeat_at, coalesce(c.n, 0) AS running_chats
           FROM chatd_replicas r
           LEFT JOIN (SELECT worker_id, count(*) AS n FROM chats WHERE status = 'running' GROUP BY worker_id) c ON c.worker_id = r.id
          WHERE r.heartbeat_at >= $1
          ORDER BY r.started_at, r.id`,
        [liveSince()],
      );
      return rows.map((r) => ({
        id: r.id,
        relay_address: r.relay_address,
        worker: r.worker,
        started_at: r.started_at.toISOString(),
        heartbeat_at: r.heartbeat_at.toISOString(),
        running_chats: Number(r.running_chats),
      }));
    },
  };
}
