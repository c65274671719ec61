import { spawn } from 'node:child_process';
import { createRealClock } from '@chatd/clock';
import { createIdentityStore, createPool } from '@chatd/oss';
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRelayAddress } from '../src/cli/relay-address.js';
import { parseShareRelays } from '../src/cli/share-relays.js';
import type { ReplicaInfo } from '../src/replica-registry.js';
import { BIN, apiClient, spawnReplica, stopAllReplicas } from './helpers/replica-process.js';

// An empty database: `chatd-enterprise migrate` builds it.
const db = useTestDatabase();
afterAll(stopAllReplicas);

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string[]; err: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', CHATD_LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code, out: out.split('\n').filter(Boolean), err: err.split('\n').filter(Boolean) }));
  });
}

describe('chatd-enterprise CLI', () => {
  it('migrate applies the OSS migrations first, then the replica registry, and is idempotent', async () => {
    const first = await run(['migrate', '--no-default-model'], { DATABASE_URL: db.url });
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    const applied = first.out[0]!.replace(/^migrations: applied /, '').split(', ');
    const enterprise = ['chatd-enterprise/0001_replicas.sql', 'chatd-enterprise/0002_replica_credential.sql'];
    expect(applied.slice(-enterprise.length)).toEqual(enterprise);
    expect(applied.slice(0, -enterprise.length).every((m) => m.startsWith('chatd/'))).toBe(true);
    expect(applied.length).toBeGreaterThan(enterprise.length);
    const again = await run(['migrate', '--no-default-model'], { DATABASE_URL: db.url });
    expect(again).toMatchObject({ code: 0, out: ['migrations: up to date'] });
  });

  it('serve registers the replica with its relay address once listening and removes it on SIGTERM', async () => {
    const replica = await spawnReplica({ databaseUrl: db.url, worker: false, env: { CHATD_RELAY_ADDRESS: 'http://replica-a.internal:7401/' } });
    const pool = createPool(db.url, 1);
    try {
      const identity = createIdentityStore({ pool, clock: createRealClock() });
      const { user: admin } = await identity.ensureUser({ username: 'operator', admin: true });
      const { token: adminToken } = await identity.createToken(admin.id, 'cli test');
      const list = (await apiClient(replica.url, adminToken)('GET', '/replicas')).body as ReplicaInfo[];
      expect(list).toEqual([expect.objectContaining({ id: replica.replicaId, relay_address: 'http://replica-a.internal:7401', worker: false, running_chats: 0 })]);
      // Relay addresses are internal topology: a user who is not an admin sees the replica without one.
      const { user } = await identity.ensureUser({ username: 'console' });
      const { token } = await identity.createToken(user.id, 'cli test');
      const res = await fetch(`${replica.url}/api/experimental/chats/replicas`, { headers: { 'coder-session-token': token } });
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(JSON.parse(body)).toEqual([{ id: replica.replicaId, worker: false, started_at: expect.any(String), heartbeat_at: expect.any(String), running_chats: 0 }]);
      expect(body).not.toContain('replica-a.internal');
      expect((await fetch(`${replica.url}/api/experimental/chats/replicas`)).status).toBe(401);
      expect(await replica.stop()).toBe(0);
      expect(replica.stdout).toContain('chatd: stopped');
      expect((await pool.query('SELECT id FROM chatd_replicas')).rows).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it('refuses a relay address that is not an http(s) URL with exit code 2 and one line', async () => {
    const res = await run(['serve', '--port', '0', '--no-worker', '--relay-address', 'ftp://peer:21'], { DATABASE_URL: db.url });
    expect(res.code).toBe(2);
    expect(res.err).toHaveLength(1);
    expect(res.err[0]).toContain('invalid relay address "ftp://peer:21"');
  });

  it('refuses a CHATD_SHARE_RELAYS that is not a boolean with exit code 2 and one line', async () => {
    const res = await run(['serve', '--port', '0', '--no-worker'], { DATABASE_URL: db.url, CHATD_SHARE_RELAYS: 'sometimes' });
    expect(res.code).toBe(2);
    expect(res.err).toHaveLength(1);
    expect(res.err[0]).toContain('invalid CHATD_SHARE_RELAYS "sometimes"');
  });

  it('lists serve, migrate and the OSS token command under its own name', async () => {
    const res = await run(['help']);
    expect(res.code).toBe(0);
    expect(res.out[0]).toBe('usage: chatd-enterprise <command> [flags]');
    expect(res.out.join('\n')).toMatch(/serve .*relays live parts between replicas/);
    expect(res.out.join('\n')).toMatch(/migrate .*replica registry/);
    expect(res.out.join('\n')).toMatch(/token /);
  });
});

describe('parseShareRelays', () => {
  it('is on by default; --no-share-relays or CHATD_SHARE_RELAYS=false|0 turns it off; the flag wins; other values are refused', () => {
    expect(parseShareRelays(undefined, undefined)).toBe(true);
    expect(parseShareRelays(undefined, '')).toBe(true);
    expect(parseShareRelays(undefined, 'TRUE')).toBe(true);
    expect(parseShareRelays(undefined, '1')).toBe(true);
    expect(parseShareRelays(undefined, 'false')).toBe(false);
    expect(parseShareRelays(undefined, ' 0 ')).toBe(false);
    expect(parseShareRelays(true, 'true')).toBe(false);
    expect(() => parseShareRelays(undefined, 'yes please')).toThrow(/invalid CHATD_SHARE_RELAYS/);
  });
});

describe('parseRelayAddress', () => {
  it('keeps http(s) addresses without a trailing slash and rejects anything else', () => {
    expect(parseRelayAddress('http://10.0.0.5:7401/')).toBe('http://10.0.0.5:7401');
    expect(parseRelayAddress('https://replica-b.internal/chatd')).toBe('https://replica-b.internal/chatd');
    for (const bad of ['10.0.0.5:7401', 'ws://peer:1', 'http://u:p@peer:1', 'http://peer:1/?x=1', 'not a url']) {
      expect(() => parseRelayAddress(bad), bad).toThrow(/invalid relay address/);
    }
  });
});
