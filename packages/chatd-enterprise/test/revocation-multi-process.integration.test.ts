// A revoked token keeps none of its sockets across replica processes (issue 22 item 1): two real
// `chatd-enterprise serve` processes, A (API only) and B (generating); a token holds a stream on B, a watch on A
// and a stream on A relayed from B (A's socket plus B's relay leg). The real `chatd-enterprise token revoke`
// process writes the database and NOTIFYs; within 10 s every one of those sockets is closed with 1008
// `token revoked` (B closes its relay leg, A its own sockets), counted on both replicas, while another token's
// relayed stream of the same chat goes on.
import { spawn } from 'node:child_process';
import { createRealClock } from '@chatd/clock';
import { createIdentityStore, createPool, migrate } from '@chatd/oss';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { BIN, apiClient, spawnReplica, stopAllReplicas, type ReplicaProcess } from './helpers/replica-process.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

/** A reply of 400 tokens at 40/s: 10 s of generation, so the chat is still running on B when the token goes. */
const ENV = { CHATD_DEMO_TOKENS_PER_SECOND: '40', CHATD_DEMO_REPLY_TOKENS: '400' };
const REVOKE_DEADLINE_MS = 10_000;

let pool: pg.Pool;
let userId: string;
/** A relays per subscriber; L over the replica link (the default); B generates. */
let A: ReplicaProcess;
let L: ReplicaProcess;
let B: ReplicaProcess;

beforeAll(async () => {
  pool = createPool(db.url, 2);
  const identity = createIdentityStore({ pool, clock: createRealClock() });
  userId = (await identity.ensureUser({ username: 'revoked-user' })).user.id;
  [A, L, B] = await Promise.all([
    spawnReplica({ databaseUrl: db.url, worker: false, env: { ...ENV, CHATD_RELAY_MODE: 'per-subscriber' } }),
    spawnReplica({ databaseUrl: db.url, worker: false, env: ENV }),
    spawnReplica({ databaseUrl: db.url, env: ENV }),
  ]);
}, 60_000);
afterAll(async () => {
  await stopAllReplicas();
  await pool?.end();
});

type Sock = { ws: WebSocket; frames: number; readonly close: { code: number; reason: string } | undefined };

function connect(url: string, token: string): Promise<Sock> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  let close: { code: number; reason: string } | undefined;
  const sock: Sock = {
    ws,
    frames: 0,
    get close() {
      return close;
    },
  };
  ws.on('message', () => sock.frames++);
  ws.on('close', (code, reason) => (close = { code, reason: reason.toString() }));
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(sock));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${url} answered ${res.statusCode}`)));
  });
}

/** A counter's value in a replica's /metrics text (0 when absent). */
async function metric(replica: ReplicaProcess, series: string): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

function revokeWithCli(tokenId: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'token', 'revoke', tokenId], { env: { PATH: process.env.PATH ?? '', CHATD_LOG_LEVEL: 'silent', DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('token revocation across replica processes', () => {
  it('per-subscriber: `token revoke` closes a stream on B, a watch on A and a stream on A relayed from B within 10 s; another token is untouched', async () => {
    const identity = createIdentityStore({ pool, clock: createRealClock() });
    const doomed = await identity.createToken(userId, 'doomed');
    const kept = await identity.createToken(userId, 'kept');
    const created = await apiClient(A.url, kept.token)('POST', '', { content: [{ type: 'text', text: 'a long reply please' }] });
    expect(created.status).toBe(201);
    const chatId = created.body.id as string;
    const stream = (replica: ReplicaProcess) => `${replica.url}/api/experimental/chats/${chatId}/stream`;
    // B picks the chat up; wait until it runs there so A's streams are relayed.
    await waitFor(async () => (await apiClient(A.url, kept.token)('GET', `/${chatId}`)).body.status === 'running', { what: 'the chat to run on B' });

    const onB = await connect(stream(B), doomed.token);
    const watchOnA = await connect(`${A.url}/api/experimental/chats/watch`, doomed.token);
    const relayedOnA = await connect(stream(A), doomed.token);
    const control = await connect(stream(A), kept.token);
    // Parts flow through the relay to both A sockets, and B holds relay legs for them.
    await waitFor(() => relayedOnA.frames > 5 && control.frames > 5, { what: 'relayed parts on A' });
    await waitFor(async () => (await metric(B, 'chatd_ws_relay_legs')) >= 1, { what: 'a relay leg on B' });

    const revoked = await revokeWithCli(doomed.info.id);
    expect(revoked.code, revoked.out).toBe(0);
    await waitFor(() => onB.close && watchOnA.close && relayedOnA.close, { what: 'every socket of the revoked token to close', timeoutMs: REVOKE_DEADLINE_MS });
    const expected = { code: 1008, reason: 'token revoked' };
    expect([onB.close, watchOnA.close, relayedOnA.close]).toEqual([expected, expected, expected]);
    // A closed its two; B closed its own stream and the relay leg forwarded with the token.
    await waitFor(async () => (await metric(A, 'chatd_ws_revoked_total{reason="revoked"}')) === 2, { what: "A's count" });
    expect(await metric(B, 'chatd_ws_revoked_total{reason="revoked"}')).toBe(2);
    // The other token's relayed stream still receives parts.
    const before = control.frames;
    await waitFor(() => control.frames > before, { what: 'more parts for the other token' });
    expect(control.close).toBeUndefined();
    // And the revoked token opens nothing anywhere.
    await expect(connect(stream(B), doomed.token)).rejects.toThrow('answered 401');
    await expect(connect(stream(A), doomed.token)).rejects.toThrow('answered 401');
    control.ws.close();
  });

  it('link: `token revoke` closes the stream on L relayed from B over the link and a stream on B; the link and the other token\'s stream go on', async () => {
    const identity = createIdentityStore({ pool, clock: createRealClock() });
    const doomed = await identity.createToken(userId, 'doomed over the link');
    const kept = await identity.createToken(userId, 'kept over the link');
    const created = await apiClient(L.url, kept.token)('POST', '', { content: [{ type: 'text', text: 'a long reply please' }] });
    expect(created.status).toBe(201);
    const chatId = created.body.id as string;
    const stream = (replica: ReplicaProcess) => `${replica.url}/api/experimental/chats/${chatId}/stream`;
    await waitFor(async () => (await apiClient(L.url, kept.token)('GET', `/${chatId}`)).body.status === 'running', { what: 'the chat to run on B' });
    const revokedOn = async (r: ReplicaProcess) => metric(r, 'chatd_ws_revoked_total{reason="revoked"}');
    const [revokedOnL, revokedOnB] = [await revokedOn(L), await revokedOn(B)];

    const onB = await connect(stream(B), doomed.token);
    const relayedOnL = await connect(stream(L), doomed.token);
    const control = await connect(stream(L), kept.token);
    await waitFor(() => relayedOnL.frames > 5 && control.frames > 5, { what: 'relayed parts on L' });
    // One link from L carries both tokens' streams of the chat (a stream per token: relays are shared per token).
    await waitFor(async () => (await metric(B, 'chatd_replica_link_streams')) === 2, { what: 'two link streams on B' });
    expect(await metric(B, 'chatd_replica_links')).toBe(1);

    const revoked = await revokeWithCli(doomed.info.id);
    expect(revoked.code, revoked.out).toBe(0);
    await waitFor(() => onB.close && relayedOnL.close, { what: 'both sockets of the revoked token to close', timeoutMs: REVOKE_DEADLINE_MS });
    const expected = { code: 1008, reason: 'token revoked' };
    expect([onB.close, relayedOnL.close]).toEqual([expected, expected]);
    // L, which authorised the subscriber, closed its socket; B closed only the socket the user opened there.
    await waitFor(async () => (await revokedOn(L)) === revokedOnL + 1, { what: "L's count" });
    expect(await revokedOn(B)).toBe(revokedOnB + 1);
    // L unsubscribed the revoked subscriber's stream; the link stays for the other token, whose parts go on.
    await waitFor(async () => (await metric(B, 'chatd_replica_link_streams')) === 1, { what: "the revoked subscriber's link stream to end" });
    expect(await metric(B, 'chatd_replica_links')).toBe(1);
    const before = control.frames;
    await waitFor(() => control.frames > before, { what: 'more parts for the other token' });
    expect(control.close).toBeUndefined();
    await expect(connect(stream(L), doomed.token)).rejects.toThrow('answered 401');
    control.ws.close();
  });
});
