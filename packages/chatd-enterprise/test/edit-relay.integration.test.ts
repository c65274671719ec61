// An edit racing a streaming run on two replicas (issue 28 acceptance, contract.md#edit): in-process
// `startChatdServer` replicas on one real PostgreSQL, wired as `chatd-enterprise serve` wires them (relay hook,
// registry, credential check), real ws sockets on port 0. A runs no worker, so the run streams on B and reaches
// A's two clients through one shared relay; a third client sits on B. The edit lands on A mid-stream: every client
// gets `history_reset`, no part of the fenced run after it, and ends holding exactly the visible history.
import { createRealClock } from '@chatd/clock';
import { createDemoLanguageModel, migrate, startChatdServer, type RunningChatd } from '@chatd/oss';
import type { ChatMessage, ChatStreamEvent } from '@chatd/protocol';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { createMultiReplicaSubscribeFn } from '../src/multi-replica-subscribe-fn.js';
import { createReplicaCredentialVerifier } from '../src/replica-credential.js';
import { createReplicaRegistry, type ReplicaRegistry } from '../src/replica-registry.js';
import { apiClient, openStream, type StreamReader } from './helpers/replica-process.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

/** A prompt starting with this gets a reply long enough to outlast the test; any other a short one. */
const LONG_PROMPT = 'long';

/** Demo replies: a long, steady one for LONG_PROMPT (cut by the edit), a five-token one otherwise. */
function editModel() {
  const clock = createRealClock();
  const long = createDemoLanguageModel({ clock, tokensPerSecond: 400, replyTokens: 20_000 });
  const short = createDemoLanguageModel({ clock, tokensPerSecond: 2_000, replyTokens: 5 });
  type Call = Parameters<typeof long.doStream>[0];
  const lastUser = (call: Call) => {
    const m = [...call.prompt].reverse().find((x) => x.role === 'user');
    return m && m.role === 'user' ? m.content.map((p) => (p.type === 'text' ? p.text : '')).join('') : '';
  };
  return { ...long, doStream: (call: Call) => (lastUser(call).startsWith(LONG_PROMPT) ? long : short).doStream(call) };
}

type Replica = { running: RunningChatd; registry: ReplicaRegistry };

async function startReplica(databaseUrl: string, worker: boolean): Promise<Replica> {
  let registry: ReplicaRegistry | undefined;
  const registryOf = (chatd: RunningChatd['chatd']) =>
    (registry ??= createReplicaRegistry({ db: chatd.pool, clock: chatd.clock, heartbeatIntervalMs: 1_000, staleAfterMs: 10_000 }));
  const model = editModel();
  const running = await startChatdServer({
    config: { databaseUrl, worker, maxRunningPerUser: 1_000, writeRatePerMinute: 100_000, writeBurst: 100_000, acquireIntervalMs: 50, heartbeatIntervalMs: 1_000, staleAfterMs: 10_000, logLevel: 'silent' },
    clock: createRealClock(),
    migrate: { sources: ENTERPRISE_MIGRATION_SOURCES },
    models: { resolve: () => model },
    env: {},
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
  const { user } = await A.running.chatd.identity.ensureUser({ username: 'editor' });
  token = (await A.running.chatd.identity.createToken(user.id, 'test')).token;
}, 60_000);

afterAll(async () => {
  await A?.running.close();
  await B?.running.close();
  await A?.registry.deregister();
  await B?.registry.deregister();
});

const parts = (events: readonly ChatStreamEvent[]) => events.filter((e): e is Extract<ChatStreamEvent, { type: 'message_part' }> => e.type === 'message_part');

/** What a client holds after `events`, as contract.md#history-reset tells it: a reset drops everything held. */
function held(events: readonly ChatStreamEvent[]): { messages: ChatMessage[]; inFlightRuns: string[] } {
  const messages = new Map<number, ChatMessage>();
  const inFlight = new Set<string>();
  for (const e of events) {
    if (e.type === 'history_reset' || e.type === 'discontinuity') {
      if (e.type === 'history_reset') messages.clear();
      inFlight.clear();
    } else if (e.type === 'message') {
      messages.set(e.message.id, e.message);
      if (e.message.run_id !== undefined) inFlight.delete(e.message.run_id);
    } else if (e.type === 'message_part') inFlight.add(e.message_part.run_id);
  }
  return { messages: [...messages.values()].sort((x, y) => x.id - y.id), inFlightRuns: [...inFlight] };
}

describe('edit while a run streams on another replica', () => {
  it('no part of the fenced run reaches any client after history_reset (relayed, shared relay, local); every client ends with the visible history', async () => {
    const api = apiClient(A.running.url, token);
    const created = await api('POST', '', { content: `${LONG_PROMPT} story please` });
    expect(created.status).toBe(201);
    const chatId = created.body.id as string;
    await waitFor(async () => (await api('GET', `/${chatId}`)).body.worker_id === B.running.replicaId, { what: 'the run on B', timeoutMs: 15_000 });
    const first = ((await api('GET', `/${chatId}/messages`)).body.messages as ChatMessage[]).at(-1)!;

    const clients: StreamReader[] = [openStream(A.running.url, chatId, token), openStream(A.running.url, chatId, token), openStream(B.running.url, chatId, token)];
    for (const c of clients) await c.until((e) => parts(e).length >= 30, 'parts of the long run');
    const oldRun = parts(clients[0]!.events)[0]!.message_part.run_id;
    // A's two clients ride one relay leg to B (a shared relay).
    expect(B.running.server.metrics.get('chatd_ws_relay_legs')).toBe(1);

    const edited = await api('PATCH', `/${chatId}/messages/${first.id}`, { content: 'short one' });
    expect(edited.status).toBe(200);
    expect(edited.body.deleted_message_ids).toEqual([first.id]);

    await waitFor(async () => (await api('GET', `/${chatId}`)).body.status === 'waiting', { what: 'the new turn to finish', timeoutMs: 15_000 });
    const visible = ((await api('GET', `/${chatId}/messages`)).body.messages as ChatMessage[]).slice().reverse();
    expect(visible.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(visible[0]!.content).toEqual([{ type: 'text', text: 'short one' }]);
    expect(visible.some((m) => m.run_id === oldRun)).toBe(false);

    for (const [i, c] of clients.entries()) {
      await c.until((e) => held(e).messages.length === 2 && held(e).messages.at(-1)!.id === visible[1]!.id, `client ${i}: the visible history`);
      const reset = c.events.findIndex((e) => e.type === 'history_reset');
      expect(reset, `client ${i}: history_reset`).toBeGreaterThan(0);
      expect(parts(c.events.slice(reset)).filter((p) => p.message_part.run_id === oldRun), `client ${i}: old parts after the reset`).toEqual([]);
      expect(held(c.events)).toEqual({ messages: visible, inFlightRuns: [] });
      c.close();
    }
  });
});
