// SSE and socket tickets across replicas (contract.md#sse, contract.md#tickets, contract.md#replica-credential):
// in-process replicas on one real PostgreSQL, wired as `chatd-enterprise serve` wires them. A runs no worker, so
// B generates every reply and A relays it. An SSE client hops between A and B at seeded random cuts, resuming by
// `Last-Event-ID`, with no gap and no duplicate; a ticket minted on B opens a WebSocket and an SSE stream on A,
// relayed from B with the replica credential and the subscriber's user id (no token can be forwarded).
import { createRealClock } from '@chatd/clock';
import { createDemoLanguageModel, migrate } from '@chatd/oss';
import type { ChatStreamEvent } from '@chatd/protocol';
import { openSseReader, seededRandom, useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { startInProcessReplica, type InProcessReplica } from './helpers/in-process-replica.js';
import { apiClient } from './helpers/replica-process.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

type Replica = InProcessReplica;

async function startReplica(databaseUrl: string, worker: boolean): Promise<Replica> {
  const model = createDemoLanguageModel({ clock: createRealClock(), tokensPerSecond: 300, replyTokens: 240 });
  return startInProcessReplica(databaseUrl, { worker, models: { resolve: () => model } });
}


type Part = Extract<ChatStreamEvent, { type: 'message_part' }>;
const isPart = (e: ChatStreamEvent): e is Part => e.type === 'message_part';
const assistantDone = (events: ChatStreamEvent[]) => events.some((e) => e.type === 'message' && e.message.role === 'assistant');
const messageIds = (events: ChatStreamEvent[]) => events.flatMap((e) => (e.type === 'message' ? [e.message.id] : []));

let A: Replica;
let B: Replica;
let token: string;

beforeAll(async () => {
  [A, B] = await Promise.all([startReplica(db.url, false), startReplica(db.url, true)]);
  const { user } = await A.running.chatd.identity.ensureUser({ username: 'sse-relay' });
  token = (await A.running.chatd.identity.createToken(user.id, 'test')).token;
}, 60_000);

afterAll(async () => {
  await A?.running.close();
  await B?.running.close();
});

const streamUrl = (r: Replica, chatId: string, query = '') => `${r.running.url}/api/experimental/chats/${chatId}/stream${query}`;

describe('SSE across replicas', () => {
  it('resumes by Last-Event-ID on the other replica at random cuts with no gap and no duplicate', async () => {
    const api = apiClient(A.running.url, token);
    for (const seed of [3, 99]) {
      const rand = seededRandom(seed);
      const chat = (await api('POST', '', { content: `hop ${seed}` })).body;
      const seen: ChatStreamEvent[] = [];
      let lastId: string | undefined;
      let hops = 0;
      while (!assistantDone(seen)) {
        const on = hops++ % 2 === 0 ? A : B;
        const reader = openSseReader(streamUrl(on, chat.id), { 'coder-session-token': token, ...(lastId !== undefined ? { 'last-event-id': lastId } : {}) });
        expect((await reader.response).status).toBe(200);
        const cutAfter = 1 + Math.floor(rand() * 10);
        await reader.until(() => reader.events.length >= cutAfter || assistantDone(reader.events.flatMap((e) => JSON.parse(e.data) as ChatStreamEvent[])), `frame ${cutAfter} (seed ${seed})`);
        const kept = reader.events.slice(0, cutAfter);
        reader.close();
        for (const frame of kept) {
          seen.push(...(JSON.parse(frame.data) as ChatStreamEvent[]));
          if (frame.id !== undefined) lastId = frame.id;
        }
      }
      expect(hops).toBeGreaterThan(2);
      expect(seen.some((e) => e.type === 'discontinuity')).toBe(false);
      const ids = messageIds(seen);
      expect(new Set(ids).size).toBe(ids.length);
      const seqs = seen.filter(isPart).map((p) => p.message_part.seq);
      expect(seqs.length).toBeGreaterThan(0);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
  });
});

describe('tickets across replicas', () => {
  const mint = async (on: Replica, chatId: string) => {
    const r = await apiClient(on.running.url, token)('POST', `/${chatId}/stream-ticket`);
    expect(r.status).toBe(200);
    return r.body.ticket as string;
  };

  it('a ticket minted on B opens a WebSocket on A whose parts are relayed from B', async () => {
    const chat = (await apiClient(A.running.url, token)('POST', '', { content: 'ticketed ws' })).body;
    const ticket = await mint(B, chat.id);
    const events: ChatStreamEvent[] = [];
    const ws = new WebSocket(`${streamUrl(A, chat.id).replace(/^http/, 'ws')}?ticket=${ticket}`, { perMessageDeflate: false });
    ws.on('message', (d) => events.push(...(JSON.parse(String(d)) as ChatStreamEvent[])));
    ws.on('error', () => {});
    await waitFor(() => assistantDone(events), { what: 'the reply on the ticketed socket', timeoutMs: 20_000 });
    expect(events.filter(isPart).length).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'discontinuity')).toBe(false);
    ws.close();
  });

  it('a ticketed SSE stream on A gets the parts relayed from B', async () => {
    const chat = (await apiClient(A.running.url, token)('POST', '', { content: 'ticketed sse' })).body;
    const reader = openSseReader(streamUrl(A, chat.id, `?ticket=${await mint(A, chat.id)}`));
    expect((await reader.response).status).toBe(200);
    const events = () => reader.events.flatMap((e) => JSON.parse(e.data) as ChatStreamEvent[]);
    await reader.until(() => assistantDone(events()), 'the reply on the ticketed SSE stream', 20_000);
    expect(events().filter(isPart).length).toBeGreaterThan(0);
    expect(events().some((e) => e.type === 'discontinuity')).toBe(false);
    reader.close();
  });

  it('a client naming a relay subscriber itself is no relay leg: without a token it is refused', async () => {
    const chat = (await apiClient(A.running.url, token)('POST', '', { content: 'forged' })).body;
    const { user } = await B.running.chatd.identity.ensureUser({ username: 'sse-relay' });
    const info = await B.running.chatd.identity.verifyToken(token);
    const reader = openSseReader(streamUrl(B, chat.id), { 'x-chatd-relay-subscriber': `${user.id} ${info!.tokenId}`, 'x-coder-relay-source-replica': 'forged' });
    expect((await reader.response).status).toBe(401);
  });
});
