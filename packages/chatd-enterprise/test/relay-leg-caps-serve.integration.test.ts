// `chatd-enterprise serve` wires the replica credential end to end (issue 21): two real replica processes, B
// allowing one stream socket per user. A user follows two chats running on B through A; B serves both legs as
// relay legs of A (its /metrics says so) and refuses none, while the user's second own socket on B is refused.
import { createRealClock } from '@chatd/clock';
import { createIdentityStore, createPool, migrate } from '@chatd/oss';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { apiClient, openStream, partsOf, spawnReplica, stopAllReplicas, type ReplicaProcess } from './helpers/replica-process.js';

/** The fields of a `Chat` these tests read. */
type ChatRun = { status: string; worker_id: string | null };

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

// Replies long enough that both chats run on B for the whole test.
const LONG_REPLIES = { CHATD_DEMO_TOKENS_PER_SECOND: '20', CHATD_DEMO_REPLY_TOKENS: '4000' };

let pool: pg.Pool;
let token: string;
/** A relays per subscriber (a leg per chat); L relays in the default mode, the replica link. */
let A: ReplicaProcess;
let L: ReplicaProcess;
let B: ReplicaProcess;

beforeAll(async () => {
  pool = createPool(db.url, 2);
  const identity = createIdentityStore({ pool, clock: createRealClock() });
  const { user } = await identity.ensureUser({ username: 'caps-user' });
  token = (await identity.createToken(user.id, 'caps test')).token;
  [A, L, B] = await Promise.all([
    spawnReplica({ databaseUrl: db.url, worker: false, env: { ...LONG_REPLIES, CHATD_RELAY_MODE: 'per-subscriber' } }),
    // L caps the user at 2 stream sockets: the subscribing replica counts its users' relayed streams.
    spawnReplica({ databaseUrl: db.url, worker: false, env: { ...LONG_REPLIES, CHATD_MAX_STREAM_SOCKETS_PER_USER: '2' } }),
    spawnReplica({ databaseUrl: db.url, env: { ...LONG_REPLIES, CHATD_MAX_STREAM_SOCKETS_PER_USER: '1' } }),
  ]);
}, 60_000);

afterAll(async () => {
  await stopAllReplicas();
  await pool?.end();
});

/** One sample of B's /metrics. */
async function metricOfB(line: string): Promise<number> {
  return metricOf(B, line);
}
/** One sample of a replica's /metrics. */
async function metricOf(replica: ReplicaProcess, line: string): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('chatd-enterprise serve: relay legs under the caps', () => {
  it("per-subscriber: serves A's legs as relay legs, apart from the user's own (capped) sockets on B", async () => {
    const api = apiClient(A.url, token);
    const chats: string[] = [];
    for (const t of ['first', 'second']) chats.push((await api('POST', '', { content: [{ type: 'text', text: t }] })).body.id as string);
    await waitFor(async () => (await Promise.all(chats.map(async (id) => (await api('GET', `/${id}`)).body as ChatRun))).every((c) => c.status === 'running' && c.worker_id === B.replicaId), {
      what: 'both chats running on B',
      timeoutMs: 20_000,
    });

    const viaA = chats.map((id) => openStream(A.url, id, token));
    for (const s of viaA) await s.until((e) => partsOf(e).length > 0, 'relayed parts on A', 20_000);
    await waitFor(async () => (await metricOfB('chatd_ws_relay_legs')) === 2, { what: 'two relay legs open on B', timeoutMs: 15_000 });
    expect(await metricOfB('chatd_ws_refused_total{reason="user_streams"}')).toBe(0);

    const own = openStream(B.url, chats[0]!, token);
    await own.opened;
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${B.url.replace(/^http/, 'ws')}/api/experimental/chats/${chats[1]}/stream`, { headers: { 'coder-session-token': token } });
      ws.on('error', () => undefined);
      ws.once('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    });
    expect(status).toBe(429);
    expect(await metricOfB('chatd_ws_refused_total{reason="user_streams"}')).toBe(1);
    expect(await metricOfB('chatd_ws_relay_legs')).toBe(2);
    for (const s of [...viaA, own]) s.close();
  });

  it("link: L's chats take one relay leg on B, never the user's sockets there; L caps the user's relayed streams", async () => {
    const api = apiClient(L.url, token);
    const chats: string[] = [];
    for (const t of ['third', 'fourth']) chats.push((await api('POST', '', { content: [{ type: 'text', text: t }] })).body.id as string);
    await waitFor(async () => (await Promise.all(chats.map(async (id) => (await api('GET', `/${id}`)).body as ChatRun))).every((c) => c.status === 'running' && c.worker_id === B.replicaId), {
      what: 'both chats running on B',
      timeoutMs: 20_000,
    });
    // The previous test's legs and socket are closed (their slots free) before counting.
    await waitFor(async () => (await metricOfB('chatd_ws_relay_legs')) === 0, { what: "A's legs to close", timeoutMs: 15_000 });
    const refusedOnB = await metricOfB('chatd_ws_refused_total{reason="user_streams"}');

    const viaL = chats.map((id) => openStream(L.url, id, token));
    for (const s of viaL) await s.until((e) => partsOf(e).length > 0, 'relayed parts on L', 20_000);
    // Both chats ride one link: one relay leg of L on B, two streams on it, none of the user's slots.
    await waitFor(async () => (await metricOfB('chatd_replica_link_streams')) === 2, { what: 'two link streams on B', timeoutMs: 15_000 });
    expect(await metricOfB('chatd_ws_relay_legs')).toBe(1);
    expect(await metricOfB('chatd_replica_links')).toBe(1);
    // The user's own socket on B still fits under their cap of 1 there.
    const own = openStream(B.url, chats[0]!, token);
    await own.opened;
    expect(await metricOfB('chatd_ws_refused_total{reason="user_streams"}')).toBe(refusedOnB);
    // L, which authorised the user, holds their two relayed streams against its cap of 2 and refuses a third.
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${L.url.replace(/^http/, 'ws')}/api/experimental/chats/${chats[1]}/stream`, { headers: { 'coder-session-token': token } });
      ws.on('error', () => undefined);
      ws.once('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    });
    expect(status).toBe(429);
    expect(await metricOf(L, 'chatd_ws_refused_total{reason="user_streams"}')).toBe(1);
    expect(await metricOfB('chatd_replica_link_streams')).toBe(2);
    for (const s of [...viaL, own]) s.close();
  });
});
