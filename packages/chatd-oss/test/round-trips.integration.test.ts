// PostgreSQL round trips of opening a stream (issue 36): `POST /chats`, a stream socket's open (upgrade to the
// first frame), a resume on the replica that does not run the chat (the edge, with a relay hook as the enterprise
// package installs; the hook here reads nothing) and a relay leg on the replica that runs it, counted on a real
// API-only replica over real PostgreSQL. Every statement any `pg` client of this
// process sends is recorded (the pool's and the LISTEN connection's); the mock clock keeps the replica's
// background loops still, so what is counted is the request's own work.
import { createMockClock } from '@chatd/clock';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { INT64_MAX, RELAY_SOURCE_HEADER, type ChatStreamEvent } from '@chatd/protocol';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import type { SubscribeFn } from '../src/subscribe-fn.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

/**
 * Round trips `POST /chats` may take: the spend limit, the create statement, the notifications (the token was
 * verified by the warm-up and is remembered). It was 13: token, spend limit, BEGIN, organization, model
 * configuration, INSERT chat, INSERT message, status UPDATE, COMMIT, then four NOTIFYs one after the other.
 */
const MAX_CREATE_ROUND_TRIPS = 3;
/** Round trips of one acquisition, however many chats it takes (BEGIN, lock, take, capacity flags, COMMIT). */
const MAX_ACQUIRE_ROUND_TRIPS = 5;
/**
 * Round trips from a stream's upgrade request to its first frame: LISTEN, and the subscription's setup (chat, first
 * page, queue in one statement), whose chat is also the upgrade's ownership check. Was 6 (the token too), then 5.
 */
const MAX_OPEN_ROUND_TRIPS = 2;
/**
 * A client resuming (after_id, run_id, after_seq) a chat that runs on another replica, on a replica with a relay
 * hook: LISTEN and the setup (chat with its run id, cursor check, first page, queue, the cursor's run). Was 8: the
 * upgrade's chat, then the setup's chat, cursor check, page, queue and cursor run apart, and the chat's run state.
 */
const MAX_REMOTE_RESUME_ROUND_TRIPS = 2;
/** A relay leg (RELAY_SOURCE_HEADER) with a part cursor on the replica that runs the chat: LISTEN and the setup (no queue). Was 4. */
const MAX_RELAY_LEG_ROUND_TRIPS = 2;

let replica: RunningChatd;
let alice: { token: string; userId: string };
let api: ReturnType<typeof apiClient>;
let recording: string[] | undefined;
const clientQuery = pg.Client.prototype.query;

beforeAll(async () => {
  // Every query of every client of this process passes here (pool.query checks a client out and calls it).
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : typeof (first as { text?: unknown })?.text === 'string' ? (first as { text: string }).text : String(first);
    recording?.push(text.replace(/\s+/g, ' ').trim());
    return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  };
  const clock = createMockClock({ now: new Date('2026-01-01T00:00:00Z') });
  // A relay hook as the enterprise package installs (it reads nothing here, and relays nothing).
  const relayHook: SubscribeFn = async () => (async function* (): AsyncGenerator<ChatStreamEvent> {})();
  replica = await startTestReplica(db.url, { clock, config: { databaseUrl: db.url, worker: false }, subscribeFn: () => relayHook });
  alice = await userToken(replica, 'alice');
  api = apiClient(replica.url, alice.token);
  // A first request warms what is per process (the default model configuration cache, the pool's connections).
  expect((await api('POST', '', { content: 'warm up' })).status).toBe(201);
});
afterAll(async () => {
  pg.Client.prototype.query = clientQuery;
  await replica?.close();
});

/** The statements sent while `fn` runs (and until the pool is idle again). */
async function recorded(fn: () => Promise<void>): Promise<string[]> {
  const out: string[] = [];
  recording = out;
  try {
    await fn();
    // Publishes after the response are part of the request: wait until nothing is checked out.
    await waitFor(() => replica.chatd.pool.idleCount === replica.chatd.pool.totalCount && replica.chatd.pool.waitingCount === 0, { what: 'an idle pool' });
  } finally {
    recording = undefined;
  }
  return out;
}

describe('round trips of opening a stream (issue 36)', () => {
  it(`POST /chats runs at most ${MAX_CREATE_ROUND_TRIPS} statements`, async () => {
    let chatId = '';
    const sent = await recorded(async () => {
      const r = await api('POST', '', { content: 'count my round trips' });
      expect(r.status).toBe(201);
      chatId = r.body.id as string;
    });
    console.log(`POST /chats: ${sent.length} round trips\n  ${sent.map((s) => s.slice(0, 160)).join('\n  ')}`);
    expect(chatId).not.toBe('');
    expect(sent.length).toBeLessThanOrEqual(MAX_CREATE_ROUND_TRIPS);
  });

  it(`a stream socket's open (upgrade to first frame) runs at most ${MAX_OPEN_ROUND_TRIPS} statements`, async () => {
    const chatId = (await api('POST', '', { content: 'open me' })).body.id as string;
    let ws: WebSocket | undefined;
    const sent = await recorded(async () => {
      ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream`, { headers: { 'coder-session-token': alice.token } });
      ws.on('error', () => undefined);
      await new Promise<void>((resolve) => ws!.once('message', () => resolve()));
    });
    ws?.close();
    console.log(`stream open: ${sent.length} round trips\n  ${sent.map((s) => s.slice(0, 160)).join('\n  ')}`);
    expect(sent.length).toBeLessThanOrEqual(MAX_OPEN_ROUND_TRIPS);
  });

  it(`a resume of a chat running on another replica runs at most ${MAX_REMOTE_RESUME_ROUND_TRIPS} statements (upgrade to first frame)`, async () => {
    const chatId = (await api('POST', '', { content: 'resume me elsewhere' })).body.id as string;
    const taken = await replica.chatd.chats.acquireChats('round-trips-far', 100);
    const runId = taken.find((t) => t.chat.id === chatId)!.runId;
    const firstId = (await replica.chatd.chats.messagesAfter(chatId, 0n)).messages[0]!.id;
    let ws: WebSocket | undefined;
    const frames: string[] = [];
    const sent = await recorded(async () => {
      ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream?after_id=${firstId}&run_id=${runId}&after_seq=3`, {
        headers: { 'coder-session-token': alice.token },
      });
      ws.on('error', () => undefined);
      ws.on('message', (data) => frames.push(String(data)));
      await waitFor(() => frames.length > 0, { what: 'the first frame' });
    });
    ws?.close();
    console.log(`remote resume: ${sent.length} round trips\n  ${sent.map((s) => s.slice(0, 160)).join('\n  ')}`);
    // The run is in flight elsewhere: no run_lost, and no run state or run read of its own.
    expect(frames.join('')).toContain('"running"');
    expect(frames.join('')).not.toContain('run_lost');
    expect(sent.filter((s) => s.startsWith('SELECT status, worker_id, run_id FROM chats'))).toEqual([]);
    expect(sent.length).toBeLessThanOrEqual(MAX_REMOTE_RESUME_ROUND_TRIPS);
  });

  it(`a relay leg with a part cursor runs at most ${MAX_RELAY_LEG_ROUND_TRIPS} statements (served from local state, no queue)`, async () => {
    const chatId = (await api('POST', '', { content: 'relay me' })).body.id as string;
    const taken = await replica.chatd.chats.acquireChats('round-trips-here', 100);
    const runId = taken.find((t) => t.chat.id === chatId)!.runId;
    const events: string[] = [];
    let sub: { close(): void } | undefined;
    const sent = await recorded(async () => {
      sub = await replica.subscriber.subscribe(
        chatId,
        { afterId: INT64_MAX, runId, afterSeq: 0, requestHeader: new Headers({ [RELAY_SOURCE_HEADER]: 'peer-replica' }) },
        { push: (o) => void events.push(o.event.type), end: () => undefined },
      );
    });
    sub?.close();
    console.log(`relay leg: ${sent.length} round trips\n  ${sent.map((s) => s.slice(0, 160)).join('\n  ')}`);
    expect(events).toEqual(['status']);
    expect(sent.length).toBeLessThanOrEqual(MAX_RELAY_LEG_ROUND_TRIPS);
  });

  it(`acquiring 5 chats runs at most ${MAX_ACQUIRE_ROUND_TRIPS} statements (not one more per chat)`, async () => {
    for (let i = 0; i < 5; i++) expect((await api('POST', '', { content: `take me ${i}` })).status).toBe(201);
    let taken = 0;
    const sent = await recorded(async () => {
      taken = (await replica.chatd.chats.acquireChats('round-trips-worker', 100)).length;
    });
    console.log(`acquire: ${sent.length} round trips for ${taken} chats\n  ${sent.map((s) => s.slice(0, 160)).join('\n  ')}`);
    // Every chat this file created is pending (the replica has no worker), the warm-up's and the others' included.
    expect(taken).toBeGreaterThanOrEqual(5);
    expect(sent.length).toBeLessThanOrEqual(MAX_ACQUIRE_ROUND_TRIPS);
  });
});
