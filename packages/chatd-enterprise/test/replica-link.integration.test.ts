// Relay mode `link` (issue 36, contract.md#replica-link) between two real replica processes: W generates (the only
// worker), E serves the clients and relays every chat from W over ONE replica link (W is reached through a
// fault-injection proxy so the test can cut that link). Each test fails in `per-subscriber` mode (a relay leg per
// chat, no link metrics) or without the link route (E's relays fail).
import { createRealClock } from '@chatd/clock';
import { createIdentityStore, createPool, migrate, type ChatStreamEvent } from '@chatd/oss';
import { createTcpProxy, freePort, useTestDatabase, waitFor, type TcpProxy } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { REPLICA_CREDENTIAL_HEADER } from '../src/replica-credential.js';
import { apiClient, assistantText, openStream, partsOf, spawnReplica, stopAllReplicas, textOf, type ReplicaProcess, type StreamReader } from './helpers/replica-process.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

// 240 tokens at 60/s: a reply takes 4 s, long enough to count links and cut one mid-reply.
const ENV = { CHATD_DEMO_TOKENS_PER_SECOND: '60', CHATD_DEMO_REPLY_TOKENS: '240', CHATD_RELAY_MODE: 'link' };
const CHATS = 6;

let pool: pg.Pool;
let token: string;
let W: ReplicaProcess;
let E: ReplicaProcess;
let proxy: TcpProxy;

type PartEvent = Extract<ChatStreamEvent, { type: 'message_part' }>;
const seqsOf = (events: ChatStreamEvent[]) => partsOf(events).map((p) => p.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** One sample of a replica's /metrics (0 when absent). */
async function metric(replica: ReplicaProcess, line: string): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  const m = new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (-?\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function startChats(n: number, prompt: string): Promise<string[]> {
  const api = apiClient(E.url, token);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api('POST', '', { content: [{ type: 'text', text: `${prompt} ${i}` }] });
    expect(res.status).toBe(201);
    ids.push(res.body.id as string);
  }
  await waitFor(async () => (await Promise.all(ids.map(async (id) => (await api('GET', `/${id}`)).body as { status: string; worker_id: string | null }))).every((c) => c.worker_id === W.replicaId), {
    what: 'every chat taken by W',
    timeoutMs: 20_000,
  });
  return ids;
}

/**
 * The parts arrived exactly once and in order, and spell the start of the durable reply: parts that would arrive
 * after the reply message are not sent (the message replaces them), so when the message's notification overtakes
 * the link's last parts the client holds a prefix of the reply, never text twice or out of order.
 */
async function expectWhole(client: StreamReader) {
  await client.until((e) => assistantText(e) !== undefined, 'the reply message', 40_000);
  const seqs = seqsOf(client.events);
  expect(seqs.length).toBeGreaterThan(0);
  expect(seqs).toEqual(range(seqs[0]!, seqs[seqs.length - 1]!));
  const reply = assistantText(client.events)!;
  const text = textOf(partsOf(client.events));
  expect(text.length).toBeGreaterThan(0);
  // The parts start where this client's stream began (a subscriber that joined mid-reply holds a middle slice).
  expect(reply.includes(text)).toBe(true);
}

beforeAll(async () => {
  pool = createPool(db.url, 2);
  const identity = createIdentityStore({ pool, clock: createRealClock() });
  const { user } = await identity.ensureUser({ username: 'link-user' });
  token = (await identity.createToken(user.id, 'link test')).token;
  const wPort = await freePort();
  proxy = await createTcpProxy({ port: wPort });
  [W, E] = await Promise.all([
    spawnReplica({ databaseUrl: db.url, port: wPort, relayAddress: `http://127.0.0.1:${proxy.port}`, env: ENV }),
    spawnReplica({ databaseUrl: db.url, worker: false, env: ENV }),
  ]);
}, 60_000);

afterAll(async () => {
  await stopAllReplicas();
  await proxy?.close();
  await pool?.end();
});

describe('relay mode link', () => {
  it('carries many chats over one link, every part exactly once and in order, and unsubscribes closed subscribers', async () => {
    const chats = await startChats(CHATS, 'many');
    const clients = chats.map((id) => openStream(E.url, id, token));
    for (const c of clients) await c.until((e) => partsOf(e).length > 0, 'relayed parts on E', 20_000);
    // One relay leg on W (the link) and one link on E, while every chat streams through it.
    await waitFor(async () => (await metric(W, 'chatd_replica_link_streams')) === CHATS, { what: `${CHATS} streams on the link`, timeoutMs: 15_000 });
    expect(await metric(W, 'chatd_ws_relay_legs')).toBe(1);
    expect(await metric(W, 'chatd_replica_links')).toBe(1);
    expect(await metric(E, 'chatd_relay_links')).toBe(1);
    expect(await metric(W, 'chatd_replica_link_frames_sent_total')).toBeGreaterThan(0);
    for (const c of clients) await expectWhole(c);

    // Subscribers that stay on a finished chat keep nothing open on W once they leave.
    const more = await startChats(2, 'leave');
    const leaving = more.map((id) => openStream(E.url, id, token));
    for (const c of leaving) await c.until((e) => partsOf(e).length > 0, 'relayed parts on E', 20_000);
    await waitFor(async () => (await metric(W, 'chatd_replica_link_streams')) >= 2, { what: 'the new streams on the link', timeoutMs: 15_000 });
    for (const c of [...clients, ...leaving]) c.close();
    await waitFor(async () => (await metric(W, 'chatd_replica_link_streams')) === 0, { what: 'every stream unsubscribed', timeoutMs: 15_000 });
  }, 120_000);

  it('resumes from a part cursor over the link', async () => {
    const [chatId] = await startChats(1, 'resume');
    const first = openStream(E.url, chatId!, token);
    await first.until((e) => partsOf(e).length >= 5, 'five parts', 20_000);
    const held = partsOf(first.events);
    const cut = held[3]!;
    const lastMessage = [...first.events].reverse().find((e): e is Extract<ChatStreamEvent, { type: 'message' }> => e.type === 'message')!;
    first.close();
    const resumed = openStream(E.url, chatId!, token, `?after_id=${lastMessage.message.id}&run_id=${cut.run_id}&after_seq=${cut.seq}`);
    await expectWhole(resumed);
    const seqs = seqsOf(resumed.events);
    expect(seqs[0]).toBe(cut.seq + 1);
    const full = textOf([...held.slice(0, 4), ...partsOf(resumed.events)] as PartEvent['message_part'][]);
    expect(full).toBe(assistantText(resumed.events));
    resumed.close();
  }, 60_000);

  it('every chat resumes without loss or duplicates when the link is cut mid-stream', async () => {
    const chats = await startChats(4, 'cut');
    const clients = chats.map((id) => openStream(E.url, id, token));
    for (const c of clients) await c.until((e) => partsOf(e).length >= 3, 'parts before the cut', 20_000);
    const framesBefore = await metric(W, 'chatd_replica_links');
    expect(framesBefore).toBe(1);
    proxy.cut();
    for (const c of clients) await expectWhole(c);
    // Each client holds the reply's parts from the first on, in order and once, up to where the reply message took
    // over: the reply's NOTIFY can reach E before the re-dialled link's last parts (the message then carries them).
    for (const c of clients) {
      const parts = textOf(partsOf(c.events));
      expect(parts.length).toBeGreaterThan(0);
      expect(assistantText(c.events)!.startsWith(parts)).toBe(true);
    }
    // E dialled a new link (the old one is gone on W).
    expect(await metric(E, 'chatd_relay_links')).toBe(1);
    for (const c of clients) c.close();
  }, 90_000);

  it('refuses a link without a verified replica credential', async () => {
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${W.url.replace(/^http/, 'ws')}/api/experimental/replica-link`, { headers });
        ws.on('error', () => undefined);
        ws.once('open', () => {
          ws.terminate();
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      });
    expect(await status({})).toBe(401);
    expect(await status({ [REPLICA_CREDENTIAL_HEADER]: 'not-a-credential', 'coder-session-token': token })).toBe(401);
  });
});
