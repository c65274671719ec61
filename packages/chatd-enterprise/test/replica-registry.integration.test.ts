import { createMockClock } from '@chatd/clock';
import { createIdentityStore, createPool, migrate } from '@chatd/oss';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { REPLICA_HEARTBEAT_TIMER_TAG, REPLICA_PRUNE_STALE_PERIODS, createReplicaRegistry } from '../src/replica-registry.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

const T0 = Date.UTC(2026, 0, 1);
const HEARTBEAT_MS = 1_000;
const STALE_MS = 10_000;
const signal = new AbortController().signal;

let pool: pg.Pool;
beforeAll(() => {
  pool = createPool(db.url, 4);
});
afterAll(async () => {
  await pool.end();
});

const registryAt = (now: number) => {
  const clock = createMockClock({ now });
  return { clock, registry: createReplicaRegistry({ db: pool, clock, heartbeatIntervalMs: HEARTBEAT_MS, staleAfterMs: STALE_MS }) };
};

const heartbeatOf = async (id: string) => {
  const { rows } = await pool.query<{ heartbeat_at: Date }>('SELECT heartbeat_at FROM chatd_replicas WHERE id = $1', [id]);
  return rows[0]?.heartbeat_at.getTime();
};

describe('replica registry', () => {
  it('records a replica and resolves its relay address while it heartbeats', async () => {
    const { clock, registry } = registryAt(T0);
    await registry.register({ id: 'r-live', relayAddress: 'http://10.0.0.1:7401', worker: true });
    expect(await registry.resolveReplicaAddress(signal, 'r-live')).toBe('http://10.0.0.1:7401');
    expect(await registry.resolveReplicaAddress(signal, 'r-unknown')).toBeUndefined();
    await clock.waitForTimer({ tag: REPLICA_HEARTBEAT_TIMER_TAG });
    await clock.advance(HEARTBEAT_MS);
    await waitFor(async () => (await heartbeatOf('r-live')) === T0 + HEARTBEAT_MS, { what: 'the heartbeat to be written' });
    await registry.deregister();
    expect(await heartbeatOf('r-live')).toBeUndefined();
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('drops a replica that stopped heartbeating after the stale threshold, and prunes it much later', async () => {
    const dead = registryAt(T0);
    await dead.registry.register({ id: 'r-dead', relayAddress: 'http://10.0.0.2:7401', worker: true });
    // Another replica reads with its own clock: just inside the threshold, then past it.
    expect(await registryAt(T0 + STALE_MS).registry.resolveReplicaAddress(signal, 'r-dead')).toBe('http://10.0.0.2:7401');
    const later = registryAt(T0 + STALE_MS + 1).registry;
    expect(await later.resolveReplicaAddress(signal, 'r-dead')).toBeUndefined();
    expect((await later.listLive()).map((r) => r.id)).not.toContain('r-dead');
    expect(await heartbeatOf('r-dead')).toBe(T0); // stale, not yet pruned
    const much = registryAt(T0 + STALE_MS * REPLICA_PRUNE_STALE_PERIODS + 1);
    await much.registry.register({ id: 'r-pruner', relayAddress: 'http://10.0.0.3:7401', worker: false });
    await much.registry.heartbeat();
    expect(await heartbeatOf('r-dead')).toBeUndefined();
    await much.registry.deregister();
    await dead.registry.deregister();
  });

  it('lists live replicas oldest first with their running-chat counts', async () => {
    const identity = createIdentityStore({ pool, clock: createMockClock({ now: T0 }) });
    const { user } = await identity.ensureUser({ username: 'console' });
    const org = await identity.defaultOrganization();
    const a = registryAt(T0 + 100);
    const b = registryAt(T0 + 200);
    await a.registry.register({ id: 'r-a', relayAddress: 'http://a:1', worker: true });
    await b.registry.register({ id: 'r-b', relayAddress: 'http://b:1', worker: false });
    for (const status of ['running', 'running', 'waiting']) {
      await pool.query(`INSERT INTO chats (organization_id, owner_id, status, worker_id, created_at, updated_at) VALUES ($1, $2, $3, 'r-a', now(), now())`, [org.id, user.id, status]);
    }
    const list = await b.registry.listLive();
    expect(list).toEqual([
      { id: 'r-a', relay_address: 'http://a:1', worker: true, started_at: new Date(T0 + 100).toISOString(), heartbeat_at: new Date(T0 + 100).toISOString(), running_chats: 2 },
      { id: 'r-b', relay_address: 'http://b:1', worker: false, started_at: new Date(T0 + 200).toISOString(), heartbeat_at: new Date(T0 + 200).toISOString(), running_chats: 0 },
    ]);
    await a.registry.deregister();
    await b.registry.deregister();
  });

  it('re-creates its row on the next heartbeat after a peer deleted it, and refuses a second registration', async () => {
    const { registry } = registryAt(T0 + 500);
    await registry.register({ id: 'r-back', relayAddress: 'http://back:1', worker: true });
    await expect(registry.register({ id: 'r-back', relayAddress: 'http://back:1', worker: true })).rejects.toThrow(/already registered/);
    await pool.query(`DELETE FROM chatd_replicas WHERE id = 'r-back'`);
    expect(await registry.resolveReplicaAddress(signal, 'r-back')).toBeUndefined();
    await registry.heartbeat();
    expect(await registry.resolveReplicaAddress(signal, 'r-back')).toBe('http://back:1');
    await registry.deregister();
    await registry.deregister(); // idempotent
  });

  it('resolves a reconnect storm of one peer with one query, reuses the address for the cache window only, and never caches a miss', async () => {
    const peer = registryAt(T0);
    await peer.registry.register({ id: 'r-storm', relayAddress: 'http://storm:1', worker: true });
    const clock = createMockClock({ now: T0 });
    let lookups = 0;
    const counted = {
      query: <R extends object>(text: string, values?: unknown[]) => {
        if (text.startsWith('SELECT relay_address')) lookups++;
        return pool.query<R>(text, values);
      },
    };
    const registry = createReplicaRegistry({ db: counted, clock, heartbeatIntervalMs: HEARTBEAT_MS, staleAfterMs: STALE_MS, addressCacheMs: 1_000 });
    // 1,000 relay dials at once (1,000 subscribers reconnecting): one query.
    const all = await Promise.all(Array.from({ length: 1_000 }, () => registry.resolveReplicaAddress(signal, 'r-storm')));
    expect(new Set(all)).toEqual(new Set(['http://storm:1']));
    expect(lookups).toBe(1);
    // Within the window: no query; past it: one more.
    await clock.advance(999);
    expect(await registry.resolveReplicaAddress(signal, 'r-storm')).toBe('http://storm:1');
    expect(lookups).toBe(1);
    await clock.advance(1);
    expect(await registry.resolveReplicaAddress(signal, 'r-storm')).toBe('http://storm:1');
    expect(lookups).toBe(2);
    // Unknown replicas are asked every time (a replica that registers is found at once).
    expect(await registry.resolveReplicaAddress(signal, 'r-storm-unknown')).toBeUndefined();
    expect(await registry.resolveReplicaAddress(signal, 'r-storm-unknown')).toBeUndefined();
    expect(lookups).toBe(4);
    await peer.registry.deregister();
  });

  it('never serves a cached address past the replica\'s stale threshold', async () => {
    const peer = registryAt(T0);
    await peer.registry.register({ id: 'r-fading', relayAddress: 'http://fading:1', worker: true });
    // Read just before the peer goes stale, with a cache window far longer than what is left of its life.
    const clock = createMockClock({ now: T0 + STALE_MS - 10 });
    const registry = createReplicaRegistry({ db: pool, clock, heartbeatIntervalMs: HEARTBEAT_MS, staleAfterMs: STALE_MS, addressCacheMs: 60_000 });
    expect(await registry.resolveReplicaAddress(signal, 'r-fading')).toBe('http://fading:1');
    await clock.advance(11); // heartbeat + stale threshold passed
    expect(await registry.resolveReplicaAddress(signal, 'r-fading')).toBeUndefined();
    await peer.registry.deregister();
  });

  it('refuses a negative address cache window', () => {
    expect(() => createReplicaRegistry({ db: pool, clock: createMockClock({ now: T0 }), addressCacheMs: -1 })).toThrow(RangeError);
  });

  it('rejects a resolve whose signal has already aborted', async () => {
    const { registry } = registryAt(T0);
    const aborted = AbortSignal.abort(new Error('gone'));
    await expect(registry.resolveReplicaAddress(aborted, 'r-any')).rejects.toThrow('gone');
  });
});
