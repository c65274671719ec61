// The newest original's API where we used to differ (issue 28, conformance): after_id-only history pages list
// ascending; every chat route also answers under /api/v2/chats (REST, stream and watch sockets); inbox
// notifications leave the watch socket for GET /api/v2/notifications/inbox/watch with the original's frame; a GET
// of the stream route without an upgrade is a 400 for a malformed query and a 426 otherwise. On a real replica.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import type { ChatStreamEvent } from '@chatd/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { CHATS_BASE_PATH } from '../src/server/create-chat-server.js';
import { sendJson } from '../src/server/http-io.js';
import { apiClient, hasStatus, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let alice: { token: string; userId: string };
let bob: { token: string; userId: string };
let api: ReturnType<typeof apiClient>;

const V2 = '/api/v2/chats';
const text = (t: string) => [{ type: 'text', text: t }];

beforeAll(async () => {
  replica = await startTestReplica(db.url, {
    config: { databaseUrl: db.url, acquireIntervalMs: 50, maxWatchSocketsPerUser: 2 },
    // A route another package mounts under the base path (as the enterprise /replicas is).
    extraRoutes: () => [{ method: 'GET', path: `${CHATS_BASE_PATH}/extra-ping`, auth: true, handler: async (_req, res, who) => sendJson(res, 200, { user: who?.user.id }) }],
  });
  alice = await userToken(replica, 'alice');
  bob = await userToken(replica, 'bob');
  api = apiClient(replica.url, alice.token);
});
afterAll(async () => {
  await replica?.close();
});

/** A JSON call under /api/v2/chats. */
async function v2(method: string, path: string, token: string | undefined, body?: unknown) {
  const res = await fetch(`${replica.url}${V2}${path}`, {
    method,
    headers: { ...(token ? { 'coder-session-token': token } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const t = await res.text();
  return { status: res.status, headers: res.headers, body: t ? (JSON.parse(t) as any) : undefined };
}

/** Opens a socket at `path` (server-relative) and collects its JSON frames. */
function socket(path: string, token: string) {
  const frames: any[] = [];
  const ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}${path}`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  let unexpected: number | undefined;
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  ws.on('error', () => {});
  ws.on('unexpected-response', (_req, res) => (unexpected = res.statusCode));
  // Watch-like sockets ping once their subscription is in place; a stream socket's snapshot is its first frame.
  const ready = new Promise<void>((resolve) => {
    ws.once('ping', () => resolve());
    ws.once('message', () => resolve());
  });
  return {
    ws,
    frames,
    ready,
    get unexpected() {
      return unexpected;
    },
  };
}

async function finishedChat(content: string): Promise<string> {
  const id = (await api('POST', '', { content: text(content) })).body.id as string;
  await waitFor(async () => (await api('GET', `/${id}`)).body.status === 'waiting', { what: 'the reply', timeoutMs: 20_000 });
  return id;
}

describe('history paging (contract.md#history-order)', () => {
  it('after_id alone lists the oldest `limit` after it in ascending order; has_more means more after the page', async () => {
    const chatId = await finishedChat('page me');
    for (const t of ['two', 'three']) {
      await api('POST', `/${chatId}/messages`, { content: text(t) });
      await waitFor(async () => (await api('GET', `/${chatId}/messages?limit=200`)).body.messages.length >= 2 && (await api('GET', `/${chatId}`)).body.status === 'waiting', {
        what: 'the reply',
        timeoutMs: 20_000,
      });
    }
    await waitFor(async () => (await api('GET', `/${chatId}/messages?limit=200`)).body.messages.length === 6, { what: 'six messages', timeoutMs: 20_000 });
    const newestFirst = ((await api('GET', `/${chatId}/messages?limit=200`)).body.messages as { id: number }[]).map((m) => m.id);
    const ids = [...newestFirst].reverse();
    const first = await api('GET', `/${chatId}/messages?after_id=${ids[0]}&limit=2`);
    expect(first.body.messages.map((m: { id: number }) => m.id)).toEqual([ids[1], ids[2]]);
    expect(first.body.has_more).toBe(true);
    const last = await api('GET', `/${chatId}/messages?after_id=${ids[3]}&limit=2`);
    expect(last.body.messages.map((m: { id: number }) => m.id)).toEqual([ids[4], ids[5]]);
    expect(last.body.has_more).toBe(false);
    // Every other form stays newest first.
    const between = await api('GET', `/${chatId}/messages?after_id=${ids[0]}&before_id=${ids[5]}&limit=2`);
    expect(between.body.messages.map((m: { id: number }) => m.id)).toEqual([ids[2], ids[1]]);
    expect((await api('GET', `/${chatId}/messages?before_id=${ids[5]}&limit=2`)).body.messages.map((m: { id: number }) => m.id)).toEqual([ids[4], ids[3]]);
  });
});

describe('routes under /api/v2/chats (contract.md#v2-routes)', () => {
  it('REST routes answer there exactly as under /api/experimental/chats', async () => {
    const created = await v2('POST', '', alice.token, { content: text('hello v2') });
    expect(created.status).toBe(201);
    const chatId = created.body.id as string;
    expect((await v2('GET', `/${chatId}`, alice.token)).body).toMatchObject({ id: chatId, title: 'hello v2' });
    expect((await v2('GET', '', alice.token)).body.map((c: { id: string }) => c.id)).toContain(chatId);
    await waitFor(async () => (await v2('GET', `/${chatId}`, alice.token)).body.status === 'waiting', { what: 'the reply', timeoutMs: 20_000 });
    const v2Page = await v2('GET', `/${chatId}/messages`, alice.token);
    expect(v2Page.body).toEqual((await api('GET', `/${chatId}/messages`)).body);
    expect((await v2('PATCH', `/${chatId}`, alice.token, { title: 'Renamed' })).status).toBe(204);
    expect((await v2('GET', '/model-configs', alice.token)).status).toBe(200);
    // Errors as under the experimental path: 401, 404 (another user's chat, unknown route), 405, 400.
    expect((await v2('GET', '', undefined)).status).toBe(401);
    expect((await v2('GET', `/${chatId}`, bob.token)).status).toBe(404);
    expect((await v2('GET', '/no/such/route/here', alice.token)).body).toEqual({ message: 'Route not found.' });
    expect((await v2('DELETE', `/${chatId}/interrupt`, alice.token)).status).toBe(405);
    expect((await v2('POST', '', alice.token, { content: 42 })).status).toBe(400);
    // Extra routes mounted under the base path answer there too.
    expect((await v2('GET', '/extra-ping', alice.token)).body).toEqual({ user: alice.userId });
    expect((await v2('GET', '/extra-ping', undefined)).status).toBe(401);
    // Only the chats base moved: other /api/v2 paths are not routes.
    expect((await fetch(`${replica.url}/api/v2/chatsx`, { headers: { 'coder-session-token': alice.token } })).status).toBe(404);
  });

  it('the stream and watch sockets open there', async () => {
    const watch = socket(`${V2}/watch`, alice.token);
    await watch.ready;
    const chatId = (await v2('POST', '', alice.token, { content: text('streamed on v2') })).body.id as string;
    const stream = socket(`${V2}/${chatId}/stream`, alice.token);
    const events = () => (stream.frames as ChatStreamEvent[][]).flat();
    await waitFor(() => hasStatus(events(), 'waiting') && events().some((e) => e.type === 'message' && e.message.role === 'assistant'), { what: 'the reply on the v2 stream', timeoutMs: 20_000 });
    await waitFor(() => watch.frames.some((f) => f.kind === 'status_change' && f.chat?.id === chatId && f.chat.status === 'waiting'), { what: 'the v2 watch socket', timeoutMs: 20_000 });
    expect(watch.frames.some((f) => f.kind === 'created' && f.chat.id === chatId)).toBe(true);
    const bad = socket(`${V2}/${chatId}/stream?after_id=abc`, alice.token);
    await waitFor(() => bad.unexpected, { what: 'a 400 before the upgrade' });
    expect(bad.unexpected).toBe(400);
    stream.ws.close();
    watch.ws.close();
  });
});

describe('inbox notifications on their own socket (contract.md#inbox-socket)', () => {
  it('a finished run sends {notification, unread_count} on the inbox socket and nothing on the watch socket; it counts as a watch socket', async () => {
    const { token, userId } = await userToken(replica, 'inbox-reader');
    const own = apiClient(replica.url, token);
    const watch = socket(`${V2}/watch`, token);
    const inbox = socket('/api/v2/notifications/inbox/watch', token);
    await Promise.all([watch.ready, inbox.ready]);
    expect(replica.server.caps.held({ kind: 'watch', userId })).toBe(2);
    // The per-user watch cap (2 here) covers inbox sockets: a third socket of either kind is refused.
    const third = socket('/api/v2/notifications/inbox/watch', token);
    await waitFor(() => third.unexpected, { what: 'the cap' });
    expect(third.unexpected).toBe(429);

    const ids: string[] = [];
    for (const t of ['first', 'second']) {
      const id = (await own('POST', '', { content: text(t) })).body.id as string;
      ids.push(id);
      await waitFor(() => watch.frames.some((f) => f.kind === 'status_change' && f.chat?.id === id && f.chat.status === 'waiting'), { what: 'the reply', timeoutMs: 20_000 });
    }
    await waitFor(() => inbox.frames.length === 2, { what: 'two inbox notifications' });
    expect(inbox.frames.map((f) => Object.keys(f).sort())).toEqual([
      ['notification', 'unread_count'],
      ['notification', 'unread_count'],
    ]);
    expect(inbox.frames.map((f) => f.unread_count)).toEqual([1, 2]);
    expect(inbox.frames.map((f) => f.notification.targets)).toEqual([[ids[0]], [ids[1]]]);
    expect(inbox.frames[0].notification).toMatchObject({ user_id: userId, title: 'Reply ready: first', read_at: null, actions: [{ label: 'View chat' }] });
    // The watch socket carries chat events only: every frame is {kind, chat, ...}.
    expect(watch.frames.length).toBeGreaterThan(0);
    expect(watch.frames.every((f) => typeof f.kind === 'string' && f.kind !== 'new' && f.chat !== undefined && f.inbox_notification === undefined && f.notification === undefined)).toBe(true);
    // Nobody else's notifications: Alice's chats finished meanwhile too.
    expect(inbox.frames.every((f) => f.notification.user_id === userId)).toBe(true);
    watch.ws.close();
    inbox.ws.close();
  });

  it('the inbox socket needs authentication', async () => {
    const anon = socket('/api/v2/notifications/inbox/watch', 'chatd_not-a-real-token');
    await waitFor(() => anon.unexpected, { what: '401' });
    expect(anon.unexpected).toBe(401);
  });
});

describe('the stream route without an upgrade (contract.md#stream-no-upgrade)', () => {
  it('a malformed query is the upgrade path\'s 400; otherwise 426 with Upgrade: websocket; 401 and 404 as the route has', async () => {
    const chatId = (await api('POST', '', { content: text('no upgrade') })).body.id as string;
    for (const base of ['/api/experimental/chats', V2]) {
      const get = (q: string, token = alice.token) => fetch(`${replica.url}${base}/${chatId}/stream${q}`, { headers: token ? { 'coder-session-token': token } : {} });
      for (const q of ['?after_id=abc', '?after_seq=3', '?run_id=x']) {
        const res = await get(q);
        expect(res.status, q).toBe(400);
        // The same error body as the upgrade path gives.
        const upgradeBody = await new Promise<string>((resolve) => {
          const probe = new WebSocket(`${replica.url.replace(/^http/, 'ws')}${base}/${chatId}/stream${q}`, { headers: { 'coder-session-token': alice.token } });
          probe.on('error', () => {});
          probe.on('unexpected-response', (_req, r) => {
            let b = '';
            r.on('data', (d: Buffer) => (b += d));
            r.on('end', () => resolve(b));
          });
        });
        expect(await res.json()).toEqual(JSON.parse(upgradeBody));
      }
      const ok = await get('?after_id=5');
      expect(ok.status).toBe(426);
      expect(ok.headers.get('upgrade')).toBe('websocket');
      expect(((await ok.json()) as { message: string }).message).toBeTruthy();
      expect((await get('', '')).status).toBe(401);
      expect((await get('', bob.token)).status).toBe(404);
      expect((await fetch(`${replica.url}${base}/not-a-chat/stream`, { headers: { 'coder-session-token': alice.token } })).status).toBe(400);
    }
  });
});
