// Server-Sent Events on `GET /{chat}/stream` (contract.md#sse) on a real replica: the same event arrays as the
// WebSocket with the cursor as `id:`, `Last-Event-ID` resuming at seeded random cuts with no gap and no duplicate,
// a reader that stops reading coalesced then cut with `too_slow` (measured on `res.writableLength`), the
// per-user stream cap counting SSE streams, revocation ending them, and a malformed `Last-Event-ID` refused.
import { createRealClock } from '@chatd/clock';
import { openSseReader, seededRandom, type SseReader, useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatClient, type ChatClient } from '@chatd/client';
import { partText, type ChatStreamEvent } from '@chatd/protocol';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { createTestModel, finishPart, fixedModels, lastUserText, usage } from './helpers/test-models.js';
import { openStream, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

type Part = Extract<ChatStreamEvent, { type: 'message_part' }>;
const isPart = (e: ChatStreamEvent): e is Part => e.type === 'message_part';
const eventsOf = (r: SseReader) => r.events.flatMap((e) => JSON.parse(e.data) as ChatStreamEvent[]);
const assistantDone = (events: ChatStreamEvent[]) => events.some((e) => e.type === 'message' && e.message.role === 'assistant');
const streamUrl = (replica: RunningChatd, chatId: string, query = '') => `${replica.url}/api/experimental/chats/${chatId}/stream${query}`;

describe('SSE stream', () => {
  let replica: RunningChatd;
  let token: string;
  let client: ChatClient;
  beforeAll(async () => {
    const clock = createRealClock();
    // A slower demo reply (about a second) so that cuts fall inside the run.
    replica = await startTestReplica(db.url, { clock, models: fixedModels(createDemoLanguageModel({ clock, tokensPerSecond: 300, replyTokens: 240 })), config: { databaseUrl: db.url, maxStreamSocketsPerUser: 3 } });
    ({ token } = await userToken(replica, 'sse-user'));
    client = createChatClient({ baseUrl: replica.url, token });
  });
  afterAll(async () => {
    await replica?.close();
  });

  it('streams the WebSocket event arrays with the cursor as id; Last-Event-ID resumes at random cuts with no gap and no duplicate', async () => {
    for (const seed of [7, 30, 4242]) {
      const rand = seededRandom(seed);
      const chat = await client.create(`sse resume ${seed}`);
      const ws = openStream(replica.url, chat.id, token);
      const seen: ChatStreamEvent[] = [];
      let lastId: string | undefined;
      let connections = 0;
      while (!assistantDone(seen)) {
        connections++;
        const reader = openSseReader(streamUrl(replica, chat.id), { 'coder-session-token': token, ...(lastId !== undefined ? { 'last-event-id': lastId } : {}) });
        const { status, headers } = await reader.response;
        expect(status).toBe(200);
        expect(headers['content-type']).toMatch(/^text\/event-stream/);
        const cutAfter = 1 + Math.floor(rand() * 12);
        await reader.until(() => reader.events.length >= cutAfter || assistantDone(eventsOf(reader)), `frame ${cutAfter} (seed ${seed})`);
        // Cut after exactly `cutAfter` frames: later ones are dropped as a lost connection would drop them.
        const kept = reader.events.slice(0, cutAfter);
        reader.close();
        for (const frame of kept) {
          seen.push(...(JSON.parse(frame.data) as ChatStreamEvent[]));
          if (frame.id !== undefined) lastId = frame.id;
        }
      }
      await ws.until((e) => assistantDone(e), 'the WebSocket reader');
      expect(connections).toBeGreaterThan(1);
      // No duplicate: each message once, each part's seq once and rising; no gap: seqs count up by one.
      const ids = seen.filter((e) => e.type === 'message').map((e) => (e as Extract<ChatStreamEvent, { type: 'message' }>).message.id);
      expect(new Set(ids).size).toBe(ids.length);
      const wsIds = ws.events.filter((e) => e.type === 'message').map((e) => (e as Extract<ChatStreamEvent, { type: 'message' }>).message.id);
      expect(ids).toEqual(wsIds);
      const seqs = seen.filter(isPart).map((p) => p.message_part.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      const wsText = ws.events.filter(isPart).map((p) => partText(p.message_part.part) ?? '').join('');
      expect(wsText.startsWith(seen.filter(isPart).map((p) => partText(p.message_part.part) ?? '').join(''))).toBe(true);
      ws.close();
    }
  });

  it('answers 400 for a malformed Last-Event-ID and 426 without Accept: text/event-stream', async () => {
    const chat = await client.create('sse refusals');
    const bad = openSseReader(streamUrl(replica, chat.id), { 'coder-session-token': token, 'last-event-id': 'after_id=banana' });
    expect((await bad.response).status).toBe(400);
    const res = await fetch(streamUrl(replica, chat.id), { headers: { 'coder-session-token': token } });
    expect(res.status).toBe(426);
    await res.body?.cancel();
  });

  it('SSE streams count against the per-user stream cap and end when their token is revoked', async () => {
    const { token: own, userId } = await userToken(replica, 'sse-capped');
    const ownClient = createChatClient({ baseUrl: replica.url, token: own });
    const chat = await ownClient.create('sse caps');
    const readers = [0, 1, 2].map(() => openSseReader(streamUrl(replica, chat.id), { 'coder-session-token': own }));
    for (const r of readers) expect((await r.response).status).toBe(200);
    expect(replica.server.caps.held({ kind: 'stream', userId })).toBe(3);
    const fourth = openSseReader(streamUrl(replica, chat.id), { 'coder-session-token': own });
    expect((await fourth.response).status).toBe(429);
    const info = await replica.chatd.identity.verifyToken(own);
    await replica.chatd.identity.revokeToken(info!.tokenId);
    await waitFor(() => readers.every((r) => r.ended), { what: 'SSE streams to end on revocation' });
    await waitFor(() => replica.server.caps.held({ kind: 'stream', userId }) === 0, { what: 'the cap slots to be freed' });
  });
});

/**
 * A model whose prompt `bulk <n>` streams n 100-byte deltas once the test opens its gate: two text deltas, then a
 * reasoning one, so coalescing merges pairs but cannot shrink the backlog below the cut (~6 MB on the wire, more
 * than loopback buffers absorb).
 */
function createGatedBulkModel() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const provider = createTestModel('bulk', async function* (call) {
    const n = Number(lastUserText(call).split(' ')[1]);
    await opened;
    for (let i = 0; i < n; i++) {
      yield { type: i % 3 === 2 ? 'reasoning-delta' : 'text-delta', id: 'bulk', delta: `${i % 10}${'abcdefghij'.repeat(10).slice(1)}` };
      if (i % 100 === 99) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    yield finishPart('stop', usage(1, n));
  });
  return { provider, open };
}

describe('SSE slow client', () => {
  const bulk = createGatedBulkModel();
  let replica: RunningChatd;
  let token: string;
  beforeAll(async () => {
    replica = await startTestReplica(db.url, { models: fixedModels(bulk.provider), sender: { coalesceThresholdBytes: 32 * 1024, maxQueuedBytes: 128 * 1024 } });
    ({ token } = await userToken(replica, 'sse-slowpoke'));
  });
  afterAll(async () => {
    await replica?.close();
  });

  it('an SSE reader that stops reading is coalesced, then cut with too_slow; it resumes from its Last-Event-ID', async () => {
    const client = createChatClient({ baseUrl: replica.url, token });
    const chat = await client.create('bulk 30000');
    const reader = openSseReader(streamUrl(replica, chat.id), { 'coder-session-token': token });
    await reader.response;
    await reader.until(() => reader.events.length > 0, 'the snapshot');
    reader.pause();
    const coalescedBefore = replica.server.metrics.get('chatd_stream_parts_coalesced_total');
    const cutBefore = replica.server.metrics.get('chatd_stream_slow_clients_cut_total');
    bulk.open();
    await waitFor(() => replica.server.metrics.get('chatd_stream_slow_clients_cut_total') > cutBefore, { what: 'the SSE reader to be cut', timeoutMs: 30_000 });
    expect(replica.server.metrics.get('chatd_stream_parts_coalesced_total')).toBeGreaterThan(coalescedBefore);
    reader.resume();
    await reader.until(() => reader.ended, 'the cut stream to end', 30_000);
    const events = eventsOf(reader);
    const last = events.at(-1);
    expect(last?.type).toBe('discontinuity');
    expect(last?.type === 'discontinuity' && last.discontinuity.reason).toBe('too_slow');
    // The cut client resumes from its Last-Event-ID and gets the reply (once it is persisted: a reader as tight
    // as this one would be cut again by the run's live snapshot).
    await waitFor(async () => (await client.get(chat.id)).status === 'waiting', { what: 'the run to end', timeoutMs: 30_000 });
    const again = openSseReader(streamUrl(replica, chat.id), { 'coder-session-token': token, 'last-event-id': reader.lastEventId ?? '' });
    await again.until(() => assistantDone(eventsOf(again)), 'the reply after the resume', 30_000);
    again.close();
  }, 90_000);
});
