// Relay legs under the socket caps with two real replicas (issue 21 item 4): in-process `startChatdServer` with
// the enterprise hook, registry and credential check wired as `chatd-enterprise serve` wires them, real ws sockets
// on port 0 and real PostgreSQL. A user follows more chats running on B through A than B lets them open
// themselves: B counts A's legs as relay legs of A (under the per-peer cap), never against the user; the relay
// header with a wrong or no credential is the user's own socket.
import { RELAY_SOURCE_HEADER } from '@chatd/protocol';
import { migrate, type ChatStreamEvent, type RunningChatd } from '@chatd/oss';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { REPLICA_CREDENTIAL_HEADER } from '../src/replica-credential.js';
import { apiClient } from './helpers/replica-process.js';
import { startInProcessReplica, type InProcessReplica } from './helpers/in-process-replica.js';

/** The fields of a `Chat` these tests read. */
type ChatRun = { status: string; worker_id: string | null };

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

/** B lets one user open 2 stream sockets and one peer 4 relay legs; the user follows 3 of B's chats through A. */
const USER_STREAMS_ON_B = 2;
const LEGS_PER_PEER_ON_B = 4;
const CHATS = 3;

type Replica = InProcessReplica;

async function startReplica(databaseUrl: string, worker: boolean, caps: { maxStreamSocketsPerUser: number; maxRelayLegsPerPeer: number }): Promise<Replica> {
  return startInProcessReplica(databaseUrl, {
    worker,
    config: caps,
    // These tests are about the per-subscriber legs (a leg per chat); the link's counterpart is in relay-leg-caps-serve.integration.test.ts.
    relayMode: 'per-subscriber',
    // Replies long enough that every chat is still running on B for the whole test.
    env: { CHATD_DEMO_TOKENS_PER_SECOND: '20', CHATD_DEMO_REPLY_TOKENS: '4000' },
  });
}

let A: Replica;
let B: Replica;
let token: string;
let userId: string;
const chatIds: string[] = [];
const sockets: WebSocket[] = [];

beforeAll(async () => {
  // A runs no worker, so every chat runs on B and A's subscribers reach it through relay legs.
  [A, B] = await Promise.all([
    startReplica(db.url, false, { maxStreamSocketsPerUser: 16, maxRelayLegsPerPeer: 16 }),
    startReplica(db.url, true, { maxStreamSocketsPerUser: USER_STREAMS_ON_B, maxRelayLegsPerPeer: LEGS_PER_PEER_ON_B }),
  ]);
  const { user } = await A.running.chatd.identity.ensureUser({ username: 'many-chats' });
  userId = user.id;
  token = (await A.running.chatd.identity.createToken(user.id, 'test')).token;
  const api = apiClient(A.running.url, token);
  for (let i = 0; i < CHATS; i++) chatIds.push((await api('POST', '', { content: [{ type: 'text', text: `chat ${i}` }] })).body.id as string);
  await waitFor(
    async () => {
      const chats = await Promise.all(chatIds.map(async (id) => (await api('GET', `/${id}`)).body as ChatRun));
      return chats.every((c) => c.status === 'running' && c.worker_id === B.running.replicaId);
    },
    { what: 'every chat running on B', timeoutMs: 20_000 },
  );
}, 60_000);

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await A?.running.close();
  await B?.running.close();
  await A?.registry.deregister();
  await B?.registry.deregister();
});

type Upgrade = { ws: WebSocket; events: ChatStreamEvent[] } | { status: number; body: { message: string; detail?: string } };

function connect(replica: Replica, chatId: string, headers: Record<string, string> = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${replica.running.url.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream`, {
      headers: { 'coder-session-token': token, ...headers },
      perMessageDeflate: false,
    });
    const events: ChatStreamEvent[] = [];
    ws.on('message', (data) => events.push(...(JSON.parse(String(data)) as ChatStreamEvent[])));
    ws.on('error', () => undefined);
    ws.once('open', () => {
      sockets.push(ws);
      resolve({ ws, events });
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      res.on('error', reject);
    });
  });
}
async function opened(p: Promise<Upgrade>) {
  const r = await p;
  if (!('ws' in r)) throw new Error(`expected an open socket, got ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}
async function refused(p: Promise<Upgrade>) {
  const r = await p;
  if ('ws' in r) throw new Error('expected a refusal, the socket opened');
  return r;
}
const onB = {
  relayLegs: () => B.running.server.metrics.get('chatd_ws_relay_legs'),
  userStreams: () => B.running.server.caps.held({ kind: 'stream', userId }),
  legsOfA: () => B.running.server.caps.held({ kind: 'relay', peerId: A.running.replicaId }),
  refused: (reason: string) => B.running.server.metrics.get('chatd_ws_refused_total', { reason }),
};

describe('relay legs and per-user caps across two replicas', () => {
  it("counts A's credentialed legs apart from the user's sockets on B, so the user is never refused for them", async () => {
    // More chats followed through A than the user may open on B.
    const viaA = [];
    for (const id of chatIds) viaA.push(await opened(connect(A, id)));
    await waitFor(() => onB.legsOfA() === CHATS, { what: "A's relay legs held on B as A's", timeoutMs: 15_000 });
    expect(onB.relayLegs()).toBe(CHATS);
    expect(onB.userStreams()).toBe(0);
    expect(onB.refused('user_streams')).toBe(0);
    // The legs carry the live reply to the subscribers on A.
    for (const s of viaA) await waitFor(() => s.events.some((e) => e.type === 'message_part'), { what: 'relayed parts on A', timeoutMs: 15_000 });

    // The user's own sockets on B have their full cap.
    for (let i = 0; i < USER_STREAMS_ON_B; i++) await opened(connect(B, chatIds[i]!));
    expect(onB.userStreams()).toBe(USER_STREAMS_ON_B);
    const over = await refused(connect(B, chatIds[0]!));
    expect(over.status).toBe(429);
    expect(onB.refused('user_streams')).toBe(1);
    expect(onB.legsOfA()).toBe(CHATS);
  });

  it("refuses A's legs past the per-peer cap, and treats the relay header with a wrong or no credential as the user's socket", async () => {
    const credentialOfA = A.registry.credential();
    expect(credentialOfA).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const asA = { [RELAY_SOURCE_HEADER]: A.running.replicaId };

    // A leg with A's real credential counts under A's cap: one more fits, the next is refused.
    await opened(connect(B, chatIds[0]!, { ...asA, [REPLICA_CREDENTIAL_HEADER]: credentialOfA! }));
    expect(onB.legsOfA()).toBe(LEGS_PER_PEER_ON_B);
    const beyond = await refused(connect(B, chatIds[0]!, { ...asA, [REPLICA_CREDENTIAL_HEADER]: credentialOfA! }));
    expect(beyond.status).toBe(429);
    expect(beyond.body.detail).toMatch(/relay legs/);
    expect(onB.refused('peer_relay_legs')).toBe(1);

    // The user is at their cap on B: the relay header without the right credential is refused as theirs.
    const wrong = await refused(connect(B, chatIds[0]!, { ...asA, [REPLICA_CREDENTIAL_HEADER]: 'not-the-credential' }));
    expect(wrong.status).toBe(429);
    expect(wrong.body.detail).toMatch(/stream sockets of this user/);
    const none = await refused(connect(B, chatIds[0]!, asA));
    expect(none.status).toBe(429);
    expect(onB.refused('user_streams')).toBe(3);
    expect(onB.refused('peer_relay_legs')).toBe(1);
    expect(onB.legsOfA()).toBe(LEGS_PER_PEER_ON_B);
  });
});
