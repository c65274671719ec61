// Relay metrics with two real replicas (issue 34): in-process `startChatdServer` with the enterprise hook as
// `chatd-enterprise serve` wires it, real ws sockets on port 0 and real PostgreSQL. A runs no worker, so the chat
// runs on B and A's subscribers are fed through a relay: A counts its relay connection in `chatd_relays` (two
// subscribers with one token share one) and every part it hands to its clients in
// `chatd_part_lag_seconds{path="relay"}`; B counts the run and the parts it sent down the relay leg as local.
import { createRealClock } from '@chatd/clock';
import { migrate, startChatdServer, type ChatStreamEvent, type RunningChatd } from '@chatd/oss';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { createMultiReplicaSubscribeFn } from '../src/multi-replica-subscribe-fn.js';
import { createReplicaCredentialVerifier } from '../src/replica-credential.js';
import { createReplicaRegistry, type ReplicaRegistry } from '../src/replica-registry.js';
import { apiClient } from './helpers/replica-process.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

/** Demo reply: 60 tokens at 30 a second, so the clients are subscribed well before it ends. */
const REPLY_TOKENS = 60;

type Replica = { running: RunningChatd; registry: ReplicaRegistry };

async function startReplica(databaseUrl: string, worker: boolean): Promise<Replica> {
  let registry: ReplicaRegistry | undefined;
  const registryOf = (chatd: RunningChatd['chatd']) =>
    (registry ??= createReplicaRegistry({ db: chatd.pool, clock: chatd.clock, heartbeatIntervalMs: 1_000, staleAfterMs: 10_000 }));
  const running = await startChatdServer({
    config: { databaseUrl, worker, maxRunningPerUser: 1_000, writeRatePerMinute: 100_000, writeBurst: 100_000, acquireIntervalMs: 50, heartbeatIntervalMs: 1_000, staleAfterMs: 10_000, logLevel: 'silent' },
    clock: createRealClock(),
    migrate: { sources: ENTERPRISE_MIGRATION_SOURCES },
    env: { CHATD_DEMO_TOKENS_PER_SECOND: '30', CHATD_DEMO_REPLY_TOKENS: String(REPLY_TOKENS) },
    gitsync: false,
    console: false,
    subscribeFn: (chatd) => {
      const reg = registryOf(chatd);
      return createMultiReplicaSubscribeFn({
        resolveReplicaAddress: (signal, id) => reg.resolveReplicaAddress(signal, id),
        replicaId: () => chatd.replicaId,
        replicaCredential: () => reg.credential(),
      });
    },
    verifyReplicaCredential: (chatd) => {
      const reg = registryOf(chatd);
      return createReplicaCredentialVerifier({ credentialHash: (id) => reg.credentialHash(id), clock: chatd.clock });
    },
  });
  const reg = registryOf(running.chatd);
  await reg.register({ id: running.replicaId, relayAddress: running.url, worker });
  return { running, registry: reg };
}

let A: Replica;
let B: Replica;
let token: string;

beforeAll(async () => {
  [A, B] = await Promise.all([startReplica(db.url, false), startReplica(db.url, true)]);
  const { user } = await A.running.chatd.identity.ensureUser({ username: 'relay-metered' });
  token = (await A.running.chatd.identity.createToken(user.id, 'test')).token;
}, 60_000);

afterAll(async () => {
  await A?.running.close();
  await B?.running.close();
  await A?.registry.deregister();
  await B?.registry.deregister();
});

function stream(replica: Replica, chatId: string) {
  const events: ChatStreamEvent[] = [];
  const ws = new WebSocket(`${replica.running.url.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  ws.on('message', (data) => events.push(...(JSON.parse(String(data)) as ChatStreamEvent[])));
  ws.on('error', () => undefined);
  return { ws, events, parts: () => events.filter((e) => e.type === 'message_part').length, done: () => events.some((e) => e.type === 'message' && e.message.role === 'assistant') };
}

describe('relay metrics across two replicas', () => {
  it('A counts one shared relay connection while it relays and every relayed part it delivers; B counts the run', async () => {
    const a = A.running.server.metrics;
    const b = B.running.server.metrics;
    const created = await apiClient(A.running.url, token)('POST', '', { content: [{ type: 'text', text: 'relay me' }] });
    const chatId = created.body.id as string;
    const first = stream(A, chatId);
    const second = stream(A, chatId);
    await waitFor(() => first.parts() > 0 && second.parts() > 0, { what: 'relayed parts on A', timeoutMs: 15_000 });
    // Two subscribers with one session token ride one relay connection.
    expect(a.get('chatd_relays')).toBe(1);
    expect(b.get('chatd_relays')).toBe(0);
    expect(a.get('chatd_live_runs')).toBe(0);
    expect(b.get('chatd_live_runs')).toBe(1);

    await waitFor(() => first.done() && second.done(), { what: 'the reply on A', timeoutMs: 20_000 });
    await waitFor(() => b.get('chatd_runs_total', { outcome: 'finished' }) === 1, { what: 'the run to end on B' });
    // Each part a client of A received came through the relay and was timed once on its way out.
    expect(a.count('chatd_part_lag_seconds', { path: 'relay' })).toBe(first.parts() + second.parts());
    expect(a.count('chatd_part_lag_seconds', { path: 'local' })).toBe(0);
    expect(b.count('chatd_part_lag_seconds', { path: 'relay' })).toBe(0);
    expect(b.count('chatd_time_to_first_token_seconds')).toBe(1);
    expect(b.count('chatd_run_duration_seconds', { outcome: 'finished' })).toBe(1);
    expect(a.count('chatd_run_duration_seconds', { outcome: 'finished' })).toBe(0);
    const exposition = await (await fetch(`${A.running.url}/metrics`)).text();
    expect(exposition).toMatch(/^chatd_part_lag_seconds_count\{path="relay"\} \d+$/m);

    first.ws.close();
    second.ws.close();
    await waitFor(() => a.get('chatd_relays') === 0, { what: "A's relay connection closed", timeoutMs: 15_000 });
    expect(b.get('chatd_live_runs')).toBe(0);
  });
});
