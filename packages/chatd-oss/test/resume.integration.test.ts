// Exactly-once resume over real sockets (contract.md#part-cursor): a reply is cut at seeded random parts,
// many times, and the client resumes with the cursor, first on a raw socket, then through
// createChatClient.stream behind a proxy that resets the connection. A finished run's cursor yields
// its message and no parts.
import { createRealClock } from '@chatd/clock';
import { createTcpProxy, seededRandom, type TcpProxy, useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createChatClient } from '@chatd/client';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import { fixedModels } from './helpers/test-models.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { partText, type ChatStreamEvent } from '@chatd/protocol';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const CHATS = 30;
const PARALLEL = 6;
const REPLY_TOKENS = 30;
/** Slow enough that a reconnect usually lands mid-reply; both outcomes are checked exactly. */
const TOKENS_PER_SECOND = 120;

let replica: RunningChatd;
let token: string;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  replica = await startTestReplica(db.url, {
    models: fixedModels(createDemoLanguageModel({ clock: createRealClock(), tokensPerSecond: TOKENS_PER_SECOND, replyTokens: REPLY_TOKENS })),
  });
  ({ token } = await userToken(replica, 'resumer'));
  api = apiClient(replica.url, token);
});
afterAll(async () => {
  await replica?.close();
});

type Part = Extract<ChatStreamEvent, { type: 'message_part' }>;
const isPart = (e: ChatStreamEvent): e is Part => e.type === 'message_part';
const assistantText = (events: ChatStreamEvent[]) =>
  events
    .filter((e) => e.type === 'message' && e.message.role === 'assistant')
    .map((e) => (e.type === 'message' ? (e.message.content ?? []).map((p) => partText(p) ?? '').join('') : ''))
    .at(-1);
const partKeys = (events: ChatStreamEvent[]) => events.filter(isPart).map((e) => `${e.message_part.run_id}:${e.message_part.seq}`);

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/**
 * One connection of a raw stream socket that keeps events up to and including the `cutAtPart`-th part it
 * receives, then terminates (the rest of that frame is lost, as on a dead link). Resolves with what it kept.
 */
function rawConnection(chatId: string, query: string, cutAtPart: number | undefined, until: (kept: ChatStreamEvent[]) => boolean) {
  return new Promise<{ kept: ChatStreamEvent[]; cut: boolean }>((resolve, reject) => {
    const kept: ChatStreamEvent[] = [];
    let parts = 0;
    let done = false;
    const ws = new WebSocket(`${replica.url.replace('http', 'ws')}/api/experimental/chats/${chatId}/stream${query}`, { headers: { 'coder-session-token': token } });
    const finish = (cut: boolean) => {
      if (done) return;
      done = true;
      ws.terminate();
      resolve({ kept, cut });
    };
    ws.on('message', (data) => {
      if (done) return;
      for (const e of JSON.parse(String(data)) as ChatStreamEvent[]) {
        kept.push(e);
        if (isPart(e) && ++parts === cutAtPart) return finish(true);
      }
      if (until(kept)) finish(false);
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`stream refused: ${res.statusCode}`)));
    ws.on('error', (err) => !done && reject(err));
  });
}

const replyDone = (events: ChatStreamEvent[]) => assistantText(events) !== undefined && events.some((e) => e.type === 'status' && e.status.status === 'waiting');

describe('resume with the cursor after a cut at a random part', () => {
  it(`raw socket: ${CHATS} chats, up to 3 cuts each, text seen equals the final message with no duplicate part`, async () => {
    const rand = seededRandom(20261126);
    const plans = Array.from({ length: CHATS }, (_, i) => {
      const cuts: number[] = [];
      const n = 1 + Math.floor(rand() * 3);
      for (let c = 0; c < n; c++) cuts.push(1 + Math.floor(rand() * (REPLY_TOKENS / 2)));
      return { i, cuts };
    });
    const outcomes = { resumedMidRun: 0, finishedWhileAway: 0 };
    await inBatches(plans, PARALLEL, async ({ i, cuts }) => {
      const created = await api('POST', '', { content: [{ type: 'text', text: `resume prompt number ${i}` }] });
      expect(created.status).toBe(201);
      const chatId = created.body.id as string;
      const seen: ChatStreamEvent[] = [];
      let query = '';
      for (const cut of [...cuts, undefined]) {
        const { kept } = await rawConnection(chatId, query, cut, replyDone);
        seen.push(...kept);
        // The cursor: the last durable message id and the last part seen.
        const lastId = seen.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.id : 0)).at(-1);
        const lastPart = seen.filter(isPart).at(-1);
        const q = new URLSearchParams();
        if (lastId !== undefined) q.set('after_id', String(lastId));
        if (lastPart) {
          q.set('run_id', lastPart.message_part.run_id);
          q.set('after_seq', String(lastPart.message_part.seq));
        }
        query = `?${q}`;
        if (replyDone(seen)) break;
      }
      const keys = partKeys(seen);
      expect(new Set(keys).size, `chat ${i}: a part was delivered twice`).toBe(keys.length);
      const ids = seen.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.id : 0));
      expect(new Set(ids).size, `chat ${i}: a message was delivered twice`).toBe(ids.length);
      const parts = seen.filter(isPart);
      expect(parts.map((p) => p.message_part.seq), `chat ${i}: seqs have a gap`).toEqual(parts.map((_, k) => k + 1));
      const final = assistantText(seen)!;
      const text = parts.map((p) => partText(p.message_part.part) ?? '').join('');
      if (parts.length === REPLY_TOKENS) {
        outcomes.resumedMidRun++;
        expect(text, `chat ${i}`).toBe(final);
      } else {
        // The run finished while the client was away: the durable message stands in for the rest.
        outcomes.finishedWhileAway++;
        expect(final.startsWith(text), `chat ${i}`).toBe(true);
      }
    });
    expect(outcomes.resumedMidRun + outcomes.finishedWhileAway).toBe(CHATS);
    expect(outcomes.resumedMidRun).toBeGreaterThan(0);
  });

  it(`createChatClient.stream behind a proxy that resets the socket: ${CHATS} chats, each part and message once, text equals the final message`, async () => {
    const rand = seededRandom(7);
    const plans = Array.from({ length: CHATS }, (_, i) => ({ i, cutAt: 1 + Math.floor(rand() * (REPLY_TOKENS / 2)) }));
    const outcomes = { resumedMidRun: 0, finishedWhileAway: 0, reconnects: 0 };
    await inBatches(plans, PARALLEL, async ({ i, cutAt }) => {
      // A proxy per chat: cut() resets every connection through it.
      const proxy: TcpProxy = await createTcpProxy({ port: replica.port });
      try {
        const client = createChatClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, token, reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
        const chat = await client.create(`proxied prompt number ${i}`);
        const seen: ChatStreamEvent[] = [];
        const stop = new AbortController();
        let parts = 0;
        for await (const e of client.stream(chat.id, { signal: stop.signal, onReconnect: () => outcomes.reconnects++ })) {
          seen.push(e);
          if (isPart(e) && ++parts === cutAt) proxy.cut();
          if (replyDone(seen)) stop.abort();
        }
        const keys = partKeys(seen);
        expect(new Set(keys).size, `chat ${i}: duplicate part`).toBe(keys.length);
        const ids = seen.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.id : 0));
        expect(new Set(ids).size, `chat ${i}: duplicate message`).toBe(ids.length);
        const seqs = seen.filter(isPart).map((p) => p.message_part.seq);
        expect(seqs, `chat ${i}: gap`).toEqual(seqs.map((_, k) => k + 1));
        const text = seen.filter(isPart).map((p) => partText(p.message_part.part) ?? '').join('');
        const final = assistantText(seen)!;
        if (seqs.length === REPLY_TOKENS) {
          outcomes.resumedMidRun++;
          expect(text, `chat ${i}`).toBe(final);
        } else {
          outcomes.finishedWhileAway++;
          expect(final.startsWith(text), `chat ${i}`).toBe(true);
        }
      } finally {
        await proxy.close();
      }
    });
    expect(outcomes.reconnects).toBeGreaterThanOrEqual(CHATS);
    expect(outcomes.resumedMidRun + outcomes.finishedWhileAway).toBe(CHATS);
    expect(outcomes.resumedMidRun).toBeGreaterThan(0);
  });

  it('a history longer than one store read (10,001 messages) arrives whole in the snapshot, in order', async () => {
    const chatId = (await api('POST', '', { content: [{ type: 'text', text: 'long history' }] })).body.id as string;
    await rawConnection(chatId, '', undefined, replyDone);
    await replica.chatd.pool.query(
      `INSERT INTO chat_messages (chat_id, role, content, created_at)
       SELECT $1, 'user', jsonb_build_array(jsonb_build_object('type', 'text', 'text', 'm' || g)), now() FROM generate_series(1, 9999) g`,
      [chatId],
    );
    const { kept } = await rawConnection(chatId, '', undefined, (k) => k.filter((e) => e.type === 'message').length >= 10_001);
    const ids = kept.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.id : 0));
    expect(ids).toHaveLength(10_001);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
  });

  it("a finished run's cursor yields its message and none of its parts", async () => {
    const chatId = (await api('POST', '', { content: [{ type: 'text', text: 'finish first' }] })).body.id as string;
    const { kept } = await rawConnection(chatId, '', undefined, replyDone);
    const user = kept.find((e) => e.type === 'message' && e.message.role === 'user');
    const part = kept.filter(isPart).at(3)!;
    expect(user && part).toBeTruthy();
    const query = `?after_id=${user?.type === 'message' ? user.message.id : 0}&run_id=${part.message_part.run_id}&after_seq=${part.message_part.seq}`;
    const again = await rawConnection(chatId, query, undefined, (k) => assistantText(k) !== undefined);
    expect(again.kept.filter(isPart)).toEqual([]);
    expect(again.kept.filter((e) => e.type === 'discontinuity')).toEqual([]);
    expect(again.kept[0]).toMatchObject({ type: 'status', status: { status: 'waiting' } });
    expect(assistantText(again.kept)).toBe(assistantText(kept));
    // Through the client too: the cursor given as options.
    const client = createChatClient({ baseUrl: replica.url, token });
    const stop = new AbortController();
    const events: ChatStreamEvent[] = [];
    for await (const e of client.stream(chatId, { signal: stop.signal, afterId: user?.type === 'message' ? user.message.id : 0, runId: part.message_part.run_id, afterSeq: part.message_part.seq })) {
      events.push(e);
      if (assistantText(events) !== undefined) stop.abort();
    }
    expect(events.filter(isPart)).toEqual([]);
    expect(assistantText(events)).toBe(assistantText(kept));
    await waitFor(() => replica.subscriber.metrics().active === 0, { what: 'the subscriptions to close' });
  });
});
