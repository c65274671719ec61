// The replica credential against real PostgreSQL (issue 21): the registry stores only the secret's SHA-256,
// the verifier accepts the right secret of a live replica, refuses a wrong one, a stale or gone replica and a
// request without the headers, and caches positive answers briefly on its clock.
import { createHash } from 'node:crypto';
import { createMockClock } from '@chatd/clock';
import { RELAY_SOURCE_HEADER } from '@chatd/protocol';
import { createPool, migrate } from '@chatd/oss';
import { useTestDatabase } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { DEFAULT_REPLICA_CREDENTIAL_CACHE_MS, REPLICA_CREDENTIAL_HEADER, createReplicaCredentialVerifier } from '../src/replica-credential.js';
import { createReplicaRegistry } from '../src/replica-registry.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

const T0 = Date.UTC(2026, 0, 1);
const STALE_MS = 60_000;

let pool: pg.Pool;
beforeAll(() => {
  pool = createPool(db.url, 4);
});
afterAll(async () => {
  await pool.end();
});

const registryAt = (now: number) => {
  const clock = createMockClock({ now });
  return { clock, registry: createReplicaRegistry({ db: pool, clock, heartbeatIntervalMs: 1_000, staleAfterMs: STALE_MS }) };
};
const relayHeaders = (replicaId: string, credential?: string) =>
  new Headers({ [RELAY_SOURCE_HEADER]: replicaId, ...(credential !== undefined ? { [REPLICA_CREDENTIAL_HEADER]: credential } : {}) });

/** A verifier on its own clock over a registry, counting the registry lookups it makes. */
function verifierAt(now: number) {
  const { clock, registry } = registryAt(now);
  let lookups = 0;
  const verify = createReplicaCredentialVerifier({
    credentialHash: (id) => {
      lookups++;
      return registry.credentialHash(id);
    },
    clock,
  });
  return {
    clock,
    verify,
    get lookups() {
      return lookups;
    },
  };
}

describe('replica credential', () => {
  it('is drawn at register, kept in plain only in the process, and stored as its SHA-256', async () => {
    const { registry } = registryAt(T0);
    expect(registry.credential()).toBeUndefined();
    await registry.register({ id: 'r-hash', relayAddress: 'http://10.0.0.1:7401', worker: true });
    const secret = registry.credential()!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { rows } = await pool.query('SELECT * FROM chatd_replicas WHERE id = $1', ['r-hash']);
    expect(rows).toHaveLength(1);
    expect(rows[0].credential_hash).toEqual(createHash('sha256').update(secret).digest());
    expect(JSON.stringify(rows[0])).not.toContain(secret);
    expect(Buffer.from(rows[0].credential_hash).toString('utf8')).not.toContain(secret);

    // A new registration draws a new secret; deregistering forgets it.
    await registry.deregister();
    expect(registry.credential()).toBeUndefined();
    await registry.register({ id: 'r-hash', relayAddress: 'http://10.0.0.1:7401', worker: true });
    expect(registry.credential()).not.toBe(secret);
    await registry.deregister();
  });

  it('accepts the right secret of a live replica and refuses a wrong one, another replica id or missing headers', async () => {
    const { registry } = registryAt(T0);
    await registry.register({ id: 'r-live', relayAddress: 'http://10.0.0.2:7401', worker: true });
    const { registry: other } = registryAt(T0);
    await other.register({ id: 'r-other', relayAddress: 'http://10.0.0.3:7401', worker: true });
    const secret = registry.credential()!;
    const v = verifierAt(T0 + 1_000);
    expect(await v.verify(relayHeaders('r-live', secret))).toEqual({ replicaId: 'r-live' });
    const wrong = secret.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(await v.verify(relayHeaders('r-live', wrong))).toBeUndefined();
    expect(await v.verify(relayHeaders('r-other', secret))).toBeUndefined();
    expect(await v.verify(relayHeaders('r-unknown', secret))).toBeUndefined();
    expect(await v.verify(relayHeaders('r-live'))).toBeUndefined();
    expect(await v.verify(new Headers({ [REPLICA_CREDENTIAL_HEADER]: secret }))).toBeUndefined();
    expect(await v.verify(relayHeaders('r-live', 'x'.repeat(10_000)))).toBeUndefined();
    await registry.deregister();
    await other.deregister();
  });

  it('refuses a stale replica and one that deregistered', async () => {
    const { registry } = registryAt(T0);
    await registry.register({ id: 'r-stale', relayAddress: 'http://10.0.0.4:7401', worker: true });
    const secret = registry.credential()!;
    expect(await verifierAt(T0 + STALE_MS).verify(relayHeaders('r-stale', secret))).toEqual({ replicaId: 'r-stale' });
    expect(await verifierAt(T0 + STALE_MS + 1).verify(relayHeaders('r-stale', secret))).toBeUndefined();
    await registry.deregister();
    expect(await verifierAt(T0).verify(relayHeaders('r-stale', secret))).toBeUndefined();
  });

  it('caches a positive answer briefly (per replica and secret), never a refusal', async () => {
    const { registry } = registryAt(T0);
    await registry.register({ id: 'r-cache', relayAddress: 'http://10.0.0.5:7401', worker: true });
    const secret = registry.credential()!;
    const v = verifierAt(T0);
    expect(await v.verify(relayHeaders('r-cache', secret))).toEqual({ replicaId: 'r-cache' });
    expect(await v.verify(relayHeaders('r-cache', secret))).toEqual({ replicaId: 'r-cache' });
    expect(v.lookups).toBe(1);
    await v.verify(relayHeaders('r-cache', 'wrong'));
    await v.verify(relayHeaders('r-cache', 'wrong'));
    expect(v.lookups).toBe(3);

    // Past the cache period the registry is asked again, and a replica gone by then is refused.
    await registry.deregister();
    await v.clock.advance(DEFAULT_REPLICA_CREDENTIAL_CACHE_MS - 1);
    expect(await v.verify(relayHeaders('r-cache', secret))).toEqual({ replicaId: 'r-cache' });
    expect(v.lookups).toBe(3);
    await v.clock.advance(1);
    expect(await v.verify(relayHeaders('r-cache', secret))).toBeUndefined();
    expect(v.lookups).toBe(4);
  });
});
