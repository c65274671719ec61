import { createRealClock } from '@chatd/clock';
import { createIdentityStore, createPool, migrate, type ChatStreamEvent } from '@chatd/oss';
import { createTcpProxy, freePort, useTestDatabase, waitFor, type TcpProxy } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import type { ReplicaInfo } from '../src/replica-registry.js';
import {
  apiClient,
  assistantText,
  createCountingForwarder,
  openStream,
  partsOf,
  spawnReplica,
  stopAllReplicas,
  textOf,
  type ReplicaProcess,
} from './helpers/replica-process.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

// 150 tokens at 100/s: every reply takes 1.5 s, long enough to act mid-reply. Short heartbeats so a killed
// replica drops out of the registry after 3 s. B itself judges staleness on a longer threshold (its own stale
// recovery must never take its own runs on a loaded machine); D, the replica that takes over, on 1.5 s.
const REPLY_TOKENS = 150;
const ENV = {
  CHATD_DEMO_TOKENS_PER_SECOND: '100',
  CHATD_DEMO_REPLY_TOKENS: String(REPLY_TOKENS),
  CHATD_HEARTBEAT_INTERVAL_MS: '250',
  CHATD_STALE_AFTER_MS: '3000',
};

const text = (t: string) => [{ type: 'text', text: t }];
const seqsOf = (events: ChatStreamEvent[], runId?: string) => partsOf(events, runId).map((p) => p.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const discontinuities = (events: ChatStreamEvent[]) => events.filter((e) => e.type === 'discontinuity');
const relayErrors = (events: ChatStreamEvent[]) => events.filter((e) => e.type === 'error' && /^relay /.test(e.error.message));

// Generation is pinned to B: A and C run no worker. Peers reach B through a counting forwarder and a
// fault-injection proxy (A -> counter -> proxy -> B), so a test can cut the relay socket or count re-dials.
let pool: pg.Pool;
let userId: string;
let token: string;
let A: ReplicaProcess;
let B: ReplicaProcess;
let C: ReplicaProcess;
let proxy: TcpProxy;
let counter: Awaited<ReturnType<typeof createCountingForwarder>>;

async function newToken(): Promise<{ token: string; id: string }> {
  const identity = createIdentityStore({ pool, clock: createRealClock() });
  const { token: t, info } = await identity.createToken(userId, 'relay test');
  return { token: t, id: info.id };
}

/** Creates a chat through `replica` and returns its id (B picks it up within the acquire interval). */
async function startChat(replica: ReplicaProcess, prompt: string, apiToken = token): Promise<string> {
  const res = await apiClient(replica.url, apiToken)('POST', '', { content: text(prompt) });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

beforeAll(async () => {
  pool = createPool(db.url, 4);
  const identity = createIdentityStore({ pool, clock: createRealClock() });
  // An admin: the replica list's relay addresses below are shown to admins only.
  userId = (await identity.ensureUser({ username: 'relay-user', admin: true })).user.id;
  token = (await newToken()).token;
  const bPort = await freePort();
  proxy = await createTcpProxy({ port: bPort });
  counter = await createCountingForwarder(proxy.port);
  [A, B, C] = await Promise.all([
    spawnReplica({ databaseUrl: db.url, worker: false, env: ENV }),
    spawnReplica({ databaseUrl: db.url, port: bPort, relayAddress: `http://127.0.0.1:${counter.port}`, env: { ...ENV, CHATD_STALE_AFTER_MS: '10000' } }),
    spawnReplica({ databaseUrl: db.url, worker: false, env: ENV }),
  ]);
}, 60_000);

afterAll(async () => {
  await stopAllReplicas();
  await counter?.close();
  await proxy?.close();
  await pool?.end();
});

describe('relay between replica processes', () => {
  it('delivers to a client on A every part of a reply generated on B, in order and exactly once, and lists the live replicas', async () => {
    const chatId = await startChat(A, 'in order please');
    const client = openStream(A.url, chatId, token);
    await client.opened;
    // While B generates, A's replica list shows all three replicas and B's running chat.
    const list = await waitFor(
      async () => {
        const res = await apiClient(A.url, token)('GET', '/replicas');
        const replicas = res.body as ReplicaInfo[];
        return replicas.find((r) => r.id === B.replicaId)?.running_chats === 1 ? replicas : undefined;
      },
      { what: 'B to be listed with its running chat' },
    );
    expect(list.map((r) => r.id).sort()).toEqual([A.replicaId, B.replicaId, C.replicaId].sort());
    expect(list.find((r) => r.id === B.replicaId)).toMatchObject({ relay_address: `http://127.0.0.1:${counter.port}`, worker: true });
    expect(list.find((r) => r.id === A.replicaId)).toMatchObject({ relay_address: A.url, worker: false, running_chats: 0 });

    await client.until((e) => assistantText(e) !== undefined, 'the final message');
    const parts = partsOf(client.events);
    expect(parts.map((p) => p.seq)).toEqual(range(1, REPLY_TOKENS));
    expect(new Set(parts.map((p) => p.run_id)).size).toBe(1);
    expect(textOf(parts)).toBe(assistantText(client.events));
    expect(discontinuities(client.events)).toEqual([]);
    client.close();
  });

  it('keeps the reply complete when the relay socket between A and B is cut mid-reply', async () => {
    const chatId = await startChat(A, 'survive a cut');
    const client = openStream(A.url, chatId, token);
    await client.opened;
    await client.until((e) => partsOf(e).length >= 20, 'the first relayed parts');
    const before = counter.accepted;
    proxy.cut();
    await client.until((e) => assistantText(e) !== undefined, 'the final message');
    expect(counter.accepted).toBeGreaterThan(before); // A dialled B again
    const parts = partsOf(client.events);
    expect(parts.map((p) => p.seq)).toEqual(range(1, REPLY_TOKENS));
    expect(textOf(parts)).toBe(assistantText(client.events));
    expect(discontinuities(client.events)).toEqual([]);
    client.close();
  });

  it('gives a client that moves from A to C mid-reply exactly the parts it missed, through C', async () => {
    const chatId = await startChat(A, 'move between replicas');
    const first = openStream(A.url, chatId, token);
    await first.opened;
    await first.until((e) => partsOf(e).length >= 30, 'parts on A');
    first.close();
    await waitFor(() => first.closed, { what: 'the socket to A to close' });
    const seen = partsOf(first.events);
    const last = seen.at(-1)!;
    const lastMessageId = Math.max(0, ...first.events.flatMap((e) => (e.type === 'message' ? [Number(e.message.id)] : [])));
    const second = openStream(C.url, chatId, token, `?after_id=${lastMessageId}&after_seq=${last.seq}&run_id=${last.run_id}`);
    await second.opened;
    await second.until((e) => assistantText(e) !== undefined, 'the final message on C');
    const rest = partsOf(second.events);
    expect(rest.map((p) => p.seq)).toEqual(range(last.seq + 1, REPLY_TOKENS));
    expect(new Set(rest.map((p) => p.run_id))).toEqual(new Set([last.run_id]));
    expect(seqsOf(first.events)).toEqual(range(1, last.seq));
    expect(textOf(seen) + textOf(rest)).toBe(assistantText(second.events));
    expect(discontinuities(second.events)).toEqual([]);
    second.close();
  });

  it('per-subscriber: does not retry a relay dial refused with 401 (revoked token): the client gets relay_failed, then the durable messages', async () => {
    // Only a per-subscriber leg carries the user's token to B (a replica link carries none: its subscribers are
    // authorised and revoked on A, revocation-multi-process.integration.test.ts).
    const P = await spawnReplica({ databaseUrl: db.url, worker: false, env: { ...ENV, CHATD_RELAY_MODE: 'per-subscriber' } });
    const streamToken = await newToken();
    const chatId = await startChat(P, 'revoke me');
    const client = openStream(P.url, chatId, streamToken.token);
    await client.opened;
    await client.until((e) => partsOf(e).length >= 10, 'the first relayed parts');
    // Revoked by hand, without the `chat:token_revoked` announcement (as if it were lost): the sockets stay open
    // until their keep-alive re-check, so this is the relay's own answer to a 401 (the announced revocation,
    // which closes the sockets at once, is revocation-multi-process.integration.test.ts).
    expect((await pool.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [streamToken.id])).rowCount).toBe(1);
    const before = counter.accepted;
    proxy.cut(); // the reconnect dial carries the revoked token
    await client.until((e) => discontinuities(e).length > 0, 'the relay_failed discontinuity');
    const cutAt = client.events.length;
    await client.until((e) => assistantText(e.slice(cutAt)) !== undefined, 'the durable reply after the discontinuity');
    expect(discontinuities(client.events).map((e) => e.type === 'discontinuity' && e.discontinuity.reason)).toEqual(['relay_failed']);
    expect(counter.accepted - before).toBe(1); // one dial, answered 401, never retried
    // P logged the give-up with the peer's status (pino JSON lines on stdout).
    expect(P.stdout.filter((l) => l.includes('relay authentication failed (status 401)'))).toHaveLength(1);
    expect(relayErrors(client.events)).toEqual([]);
    const after = client.events.slice(cutAt);
    expect(partsOf(after)).toEqual([]);
    // The parts delivered before the discontinuity are the start of the durable reply.
    expect(assistantText(after)!.startsWith(textOf(partsOf(client.events)))).toBe(true);
    expect(client.closed).toBe(false);
    client.close();
    await P.stop();
  });

  it('finishes the chat on another replica after B is killed mid-reply, while the client stays on A', async () => {
    // D generates too, but only acquires at start and when its own stale recovery hands a chat back,
    // so the new chat still goes to B.
    const D = await spawnReplica({ databaseUrl: db.url, env: { ...ENV, CHATD_ACQUIRE_INTERVAL_MS: '600000', CHATD_STALE_AFTER_MS: '1500' } });
    const chatId = await startChat(A, 'outlive the worker');
    const client = openStream(A.url, chatId, token);
    await client.opened;
    await client.until((e) => partsOf(e).length >= 10, 'the first relayed parts');
    const firstRun = partsOf(client.events)[0]!.run_id;
    B.child.kill('SIGKILL');
    await B.exited;
    await client.until((e) => discontinuities(e).length > 0, 'a discontinuity for the lost run', 20_000);
    const lostAt = client.events.findIndex((e) => e.type === 'discontinuity');
    await client.until((e) => assistantText(e.slice(lostAt)) !== undefined, 'the reply finished by D', 20_000);
    const after = client.events.slice(lostAt);
    const newRuns = new Set(partsOf(after).map((p) => p.run_id));
    expect(newRuns.has(firstRun)).toBe(false);
    expect(newRuns.size).toBe(1);
    const [secondRun] = [...newRuns];
    expect(seqsOf(after, secondRun)).toEqual(range(1, REPLY_TOKENS));
    expect(textOf(partsOf(after, secondRun))).toBe(assistantText(after));
    expect(client.closed).toBe(false);
    // B drops out of the registry once stale; D is listed.
    const replicas = await waitFor(
      async () => {
        const list = (await apiClient(A.url, token)('GET', '/replicas')).body as ReplicaInfo[];
        return list.some((r) => r.id === B.replicaId) ? undefined : list;
      },
      { what: 'B to drop out of the replica list' },
    );
    expect(replicas.map((r) => r.id).sort()).toEqual([A.replicaId, C.replicaId, D.replicaId].sort());
    client.close();
  });
});
