import { createRealClock } from '@chatd/clock';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import { fixedModels } from './helpers/test-models.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { partText, type ChatStreamEvent } from '@chatd/protocol';
import { apiClient, hasStatus, openStream, partsText, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let alice: { token: string; userId: string };
let bob: { token: string; userId: string };
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  // Replies of about half a second: the tests below open a stream after creating a chat and must catch its reply
  // running (the harness's 60 ms replies could finish first on a loaded machine, and the queue test then waited in vain).
  replica = await startTestReplica(db.url, { models: fixedModels(createDemoLanguageModel({ clock: createRealClock(), tokensPerSecond: 50, replyTokens: 24 })) });
  alice = await userToken(replica, 'alice');
  bob = await userToken(replica, 'bob');
  api = apiClient(replica.url, alice.token);
});
afterAll(async () => {
  await replica?.close();
});

const text = (t: string) => [{ type: 'text', text: t }];
const assistantText = (e: ChatStreamEvent) =>
  e.type === 'message' && e.message.role === 'assistant' ? (e.message.content ?? []).map((p) => partText(p) ?? '').join('') : undefined;

describe('chat API: the reply streams and persists', () => {
  it('creates a chat and streams the reply token by token, then the durable message', async () => {
    const created = await api('POST', '', { content: text('tell me about streams') });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'tell me about streams', owner_id: alice.userId, archived: false });
    const chatId = created.body.id as string;
    const s = openStream(replica.url, chatId, alice.token);
    await s.until((e) => e.some((x) => assistantText(x) !== undefined) && hasStatus(e, 'waiting'), 'the reply and waiting');
    const parts = s.events.filter((e) => e.type === 'message_part');
    expect(parts.length).toBeGreaterThan(3);
    const seqs = parts.map((e) => (e.type === 'message_part' ? e.message_part.seq : 0));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const final = s.events.map(assistantText).find((t) => t !== undefined);
    expect(partsText(s.events)).toBe(final);
    expect(s.events[0]?.type).toBe('status');
    s.close();
    const history = await api('GET', `/${chatId}/messages`);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m: { role: string }) => m.role)).toEqual(['assistant', 'user']);
  });

  it('reconnecting with after_id mid-reply gets exactly what was missed (with the part cursor, no duplicate)', async () => {
    const chatId = (await api('POST', '', { content: text('resume me') })).body.id as string;
    const first = openStream(replica.url, chatId, alice.token);
    await first.until((e) => e.filter((x) => x.type === 'message_part').length >= 3, 'a few parts');
    first.ws.terminate();
    const seen = first.events.slice();
    const lastUser = seen.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.id : 0)).at(-1)!;
    const lastPart = seen.filter((e) => e.type === 'message_part').at(-1)!;
    const runId = lastPart.type === 'message_part' ? lastPart.message_part.run_id : '';
    const afterSeq = lastPart.type === 'message_part' ? lastPart.message_part.seq : 0;
    const second = openStream(replica.url, chatId, alice.token, `?after_id=${lastUser}&run_id=${runId}&after_seq=${afterSeq}`);
    await second.until((e) => hasStatus(e, 'waiting'), 'the end of the reply');
    expect(second.events.filter((e) => e.type === 'message' && e.message.role === 'user')).toEqual([]);
    const final = second.events.map(assistantText).find((t) => t !== undefined);
    if (second.events.some((e) => e.type === 'message_part')) {
      // Still running when we came back: the parts continue exactly after afterSeq.
      const firstSeq = second.events.find((e) => e.type === 'message_part');
      expect(firstSeq?.type === 'message_part' && firstSeq.message_part.seq).toBe(afterSeq + 1);
      expect(partsText(seen) + partsText(second.events)).toBe(final);
    } else {
      expect(final).toBeDefined();
    }
    second.close();
  });
});

describe('chat API: queue, interrupt and edits of the chat', () => {
  it('queues while running and promotes in order; statuses never show waiting between replies', async () => {
    const chatId = (await api('POST', '', { content: text('first') })).body.id as string;
    const s = openStream(replica.url, chatId, alice.token);
    await s.until((e) => e.some((x) => x.type === 'message_part'), 'the first reply to start');
    const q1 = await api('POST', `/${chatId}/messages`, { content: text('second') });
    const q2 = await api('POST', `/${chatId}/messages`, { content: 'third' });
    expect(q1.body).toMatchObject({ queued: true, queued_message: { content: text('second') } });
    expect(q2.body.queued).toBe(true);
    await s.until((e) => e.filter((x) => assistantText(x) !== undefined).length === 3 && hasStatus(e, 'waiting'), 'three replies', 30_000);
    const users = s.events.filter((e) => e.type === 'message' && e.message.role === 'user').map((e) => (e.type === 'message' ? partText(e.message.content?.[0]) : ''));
    expect(users).toEqual(['first', 'second', 'third']);
    const statuses = s.events.filter((e) => e.type === 'status').map((e) => (e.type === 'status' ? e.status.status : ''));
    expect(statuses.indexOf('waiting')).toBe(statuses.length - 1);
    s.close();
  });

  it('interrupt with ?wait=true answers once the run stopped, keeping the partial reply', async () => {
    const chatId = (await api('POST', '', { content: text('long one') })).body.id as string;
    const s = openStream(replica.url, chatId, alice.token);
    await s.until((e) => e.filter((x) => x.type === 'message_part').length >= 2, 'parts');
    const r = await api('POST', `/${chatId}/interrupt?wait=true`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('waiting');
    expect(r.body.worker_id).toBeNull();
    await s.until((e) => e.some((x) => assistantText(x) !== undefined), 'the partial reply');
    s.close();
  });

  it('busy_behavior interrupt stops the run and then answers the new message', async () => {
    const chatId = (await api('POST', '', { content: text('will be cut') })).body.id as string;
    const s = openStream(replica.url, chatId, alice.token);
    await s.until((e) => e.filter((x) => x.type === 'message_part').length >= 2, 'parts');
    const r = await api('POST', `/${chatId}/messages`, { content: text('urgent'), busy_behavior: 'interrupt' });
    expect(r.status).toBe(200);
    await s.until((e) => e.filter((x) => assistantText(x) !== undefined).length === 2 && hasStatus(e, 'waiting'), 'partial reply then the answer', 30_000);
    const ids = s.events.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? `${e.message.role}` : ''));
    expect(ids).toEqual(['user', 'assistant', 'user', 'assistant']);
    s.close();
  });

  it('PATCH title and archived (204), list with paging and the archived filter', async () => {
    const ids: string[] = [];
    for (const t of ['a1', 'a2', 'a3']) ids.push((await api('POST', '', { content: text(t) })).body.id);
    // Let every reply finish first: a running chat's updated_at moves, which reorders the list between pages.
    await waitFor(async () => (await api('GET', '?limit=200')).body.every((c: { status: string }) => c.status === 'waiting'), { what: 'all replies to finish', timeoutMs: 20_000 });
    // And their generated titles (contract.md#generated-titles), written after the reply: they move updated_at too.
    await waitFor(async () => {
      const { rows } = await replica.chatd.pool.query<{ n: number }>("select count(*)::int as n from chats where id = any($1) and title_source = 'rule'", [ids]);
      return rows[0]!.n === 0;
    }, { what: 'the generated titles', timeoutMs: 20_000 });
    expect((await api('PATCH', `/${ids[0]}`, { title: 'Renamed' })).status).toBe(204);
    expect((await api('GET', `/${ids[0]}`)).body.title).toBe('Renamed');
    expect((await api('PATCH', `/${ids[1]}`, { archived: true })).status).toBe(204);
    const page1 = await api('GET', '?limit=2');
    expect(page1.body).toHaveLength(2);
    const all = await api('GET', '?limit=200');
    expect(all.body.map((c: { id: string }) => c.id)).not.toContain(ids[1]);
    const archived = await api('GET', '?archived=true');
    expect(archived.body.map((c: { id: string }) => c.id)).toContain(ids[1]);
    const offset = await api('GET', '?limit=1&offset=1');
    expect(offset.body[0].id).toBe(page1.body[1].id);
  });

  it('the watch socket tells the owner of creates, status and title changes and archives, and nothing of others', async () => {
    const events: { kind: string; chat?: { id: string; status: string; title: string } }[] = [];
    const ws = new WebSocket(`${replica.url.replace('http', 'ws')}/api/experimental/chats/watch`, { headers: { 'coder-session-token': alice.token } });
    ws.on('message', (d) => events.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('pong', r).once('ping', r));
    const bobApi = apiClient(replica.url, bob.token);
    await bobApi('POST', '', { content: text("bob's secret") });
    const chatId = (await api('POST', '', { content: text('watched') })).body.id as string;
    await waitFor(() => events.some((e) => e.kind === 'status_change' && e.chat?.id === chatId && e.chat.status === 'waiting'), { what: 'status changes', timeoutMs: 15_000 });
    await api('PATCH', `/${chatId}`, { title: 'New title' });
    await api('PATCH', `/${chatId}`, { archived: true });
    await waitFor(() => events.some((e) => e.kind === 'deleted' && e.chat?.id === chatId), { what: 'archive event' });
    const kinds = events.filter((e) => e.chat?.id === chatId).map((e) => e.kind);
    expect(kinds).toContain('created');
    expect(kinds).toContain('title_change');
    // Inbox notifications have their own socket (contract.md#inbox-socket): every watch frame is {kind, chat}.
    expect(events.every((e) => e.kind !== 'new' && !('inbox_notification' in e) && e.chat !== undefined)).toBe(true);
    expect(events.every((e) => !e.chat || e.chat.title !== "bob's secret")).toBe(true);
    ws.close();
  });
});

describe('chat API: errors (contract.md#errors)', () => {
  it('400 with validations, 401, 403, 404 for another user\'s chat, 413, 405', async () => {
    const bad = await api('POST', '', { content: 42 });
    expect(bad.status).toBe(400);
    expect(bad.body.validations?.[0]?.field).toBe('content');
    expect((await api('POST', '', '{not json')).status).toBe(400);
    expect((await apiClient(replica.url, undefined)('GET', '')).status).toBe(401);
    expect((await apiClient(replica.url, 'chatd_not-a-real-token')('GET', '')).status).toBe(401);
    expect((await api('POST', '', { content: text('x'), organization_id: '3f0e8ae4-0000-4000-8000-000000000001' })).status).toBe(403);
    const bobChat = (await apiClient(replica.url, bob.token)('POST', '', { content: text('mine') })).body.id as string;
    for (const [m, p] of [['GET', `/${bobChat}`], ['GET', `/${bobChat}/messages`], ['POST', `/${bobChat}/messages`], ['POST', `/${bobChat}/interrupt`], ['PATCH', `/${bobChat}`]] as const) {
      const r = await api(m, p, m === 'GET' ? undefined : m === 'PATCH' ? { title: 'pwned' } : { content: text('hi') });
      expect(r.status, `${m} ${p}`).toBe(404);
      expect(r.body.message).toBe('Resource not found or you do not have access to this resource.');
    }
    expect((await api('GET', '/not-a-uuid')).status).toBe(400);
    const big = await api('POST', '', { content: text('x'.repeat(1024 * 1024 + 10)) });
    expect(big.status).toBe(413);
    expect((await api('DELETE', '')).status).toBe(405);
    // Nothing of bob's chat changed.
    expect((await apiClient(replica.url, bob.token)('GET', `/${bobChat}`)).body.title).toBe('mine');
  });

  it('model configuration writes are for admins only: a user gets 403 and nothing changes; an admin may write', async () => {
    const before = (await api('GET', '/model-configs')).body as { id: string; display_name?: string }[];
    const target = before[0]!;
    expect((await api('POST', '/model-configs', { provider: 'demo', model: 'user-made', context_limit: 1000 })).status).toBe(403);
    expect((await api('PATCH', `/model-configs/${target.id}`, { display_name: 'renamed by a user' })).status).toBe(403);
    expect((await api('DELETE', `/model-configs/${target.id}`)).status).toBe(403);
    expect((await api('GET', '/model-configs')).body).toEqual(before);
    const admin = apiClient(replica.url, (await userToken(replica, 'root-of-configs', true)).token);
    const made = await admin('POST', '/model-configs', { provider: 'demo', model: 'admin-made', context_limit: 1000 });
    expect(made.status).toBe(201);
    expect((await admin('DELETE', `/model-configs/${(made.body as { id: string }).id}`)).status).toBe(204);
  });

  it('labels and client_type are bounded: 400 with validations naming the field, and nothing is stored (issue 21)', async () => {
    const count = async () => (await replica.chatd.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chats WHERE owner_id = $1', [alice.userId])).rows[0]!.n;
    const before = await count();
    const cases: [Record<string, unknown>, string][] = [
      [{ client_type: 'x'.repeat(200_000) }, 'client_type'],
      [{ client_type: 'line\nbreak' }, 'client_type'],
      [{ labels: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, 'v'])) }, 'labels'],
      [{ labels: { ['k'.repeat(65)]: 'v' } }, 'labels'],
      [{ labels: { k: 'v'.repeat(257) } }, 'labels'],
      [{ labels: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v'.repeat(200)])) }, 'labels'],
    ];
    for (const [extra, field] of cases) {
      const r = await api('POST', '', { content: text('bounded'), ...extra });
      expect(r.status, field).toBe(400);
      expect(r.body.validations).toEqual([{ field, detail: expect.any(String) }]);
    }
    expect(await count()).toBe(before);
    const ok = await api('POST', '', { content: text('bounded'), client_type: 'api', labels: { team: 'a' } });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ client_type: 'api', labels: { team: 'a' } });
  });

  it('content and system_prompt are parsed by the routes: the original 400s (and 413), and nothing is stored (issue 24)', async () => {
    const count = async (sql: string, args: unknown[]) => (await replica.chatd.pool.query<{ n: number }>(sql, args)).rows[0]!.n;
    const chats = () => count('SELECT count(*)::int AS n FROM chats WHERE owner_id = $1', [alice.userId]);
    const chatId = (await api('POST', '', { content: '  padded   text  ' })).body.id as string;
    const userRows = () => count("SELECT count(*)::int AS n FROM chat_messages WHERE chat_id = $1 AND role = 'user'", [chatId]);
    const queued = () => count('SELECT count(*)::int AS n FROM chat_queued_messages WHERE chat_id = $1', [chatId]);
    // A bare string is one text part, trimmed like any other.
    const first = (await api('GET', `/${chatId}/messages`)).body.messages.find((m: { role: string }) => m.role === 'user');
    expect(first.content).toEqual([{ type: 'text', text: 'padded   text' }]);
    const before = { chats: await chats(), userRows: await userRows(), queued: await queued() };
    const contentCases: [unknown, number, Record<string, unknown>][] = [
      [[], 400, { message: 'Content is required.', detail: 'Content cannot be empty.' }],
      [[{ type: 'image', text: 'x' }], 400, { message: 'Invalid input part.', detail: 'content[0].type "image" is not supported.' }],
      [[{ type: 'file', file_id: 'f1' }], 400, { message: 'Invalid input part.', detail: 'content[0].file_id is not a file you uploaded.' }],
      [[{ type: 'text', text: 'a' }, { type: 'text', text: '   ' }], 400, { message: 'Invalid input part.', detail: 'content[1].text cannot be empty.' }],
      ['   ', 400, { message: 'Invalid input part.', detail: 'content[0].text cannot be empty.' }],
      [text('x'.repeat(300 * 1024)), 413, { message: 'Message content is too large.' }],
    ];
    for (const [content, status, body] of contentCases) {
      for (const path of ['', `/${chatId}/messages`]) {
        const r = await api('POST', path, { content });
        expect(r.status, `${path} ${JSON.stringify(content).slice(0, 40)}`).toBe(status);
        expect(r.body).toMatchObject(body);
      }
    }
    const prompt = await api('POST', '', { content: text('hi'), system_prompt: 'x'.repeat(10_001) });
    expect(prompt.status).toBe(400);
    expect(prompt.body).toMatchObject({ message: 'Invalid system prompt.', detail: 'system_prompt must be a string of at most 10000 characters.' });
    expect({ chats: await chats(), userRows: await userRows(), queued: await queued() }).toEqual(before);
    await api('POST', `/${chatId}/interrupt`);
  });

  it('429 when the queue is full', async () => {
    const chatId = (await api('POST', '', { content: text('busy') })).body.id as string;
    // Pretend another replica is generating it, so every post queues (this replica's own run is fenced off).
    await replica.chatd.pool.query("update chats set status = 'running', worker_id = 'replica-elsewhere', run_id = gen_random_uuid(), heartbeat_at = now() where id = $1", [chatId]);
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await api('POST', `/${chatId}/messages`, { content: text(`q${i}`) })).status);
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(statuses[20]).toBe(429);
    expect((await api('GET', `/${chatId}/messages`)).body.queued_messages).toHaveLength(20);
    await api('POST', `/${chatId}/interrupt`);
  });

  it('stream: after_id=MAX gives a snapshot with no messages; a malformed after_id is a 400 before the upgrade; no token is a 401', async () => {
    const chatId = (await api('POST', '', { content: text('snap') })).body.id as string;
    const max = openStream(replica.url, chatId, alice.token, '?after_id=9223372036854775807');
    await max.opened;
    await max.until((e) => e.length > 0, 'the snapshot');
    expect(max.events.filter((e) => e.type === 'message')).toEqual([]);
    expect(max.events[0]?.type).toBe('status');
    max.close();
    for (const q of ['?after_id=abc', '?after_id=-1', '?after_id=9223372036854775808', '?after_seq=3', '?run_id=x']) {
      const s = openStream(replica.url, chatId, alice.token, q);
      await waitFor(() => s.unexpected, { what: `400 for ${q}` });
      expect(s.unexpected?.status, q).toBe(400);
      expect(JSON.parse(s.unexpected!.body).message).toBeTruthy();
    }
    const anon = openStream(replica.url, chatId, '', '');
    await waitFor(() => anon.unexpected, { what: '401' });
    expect(anon.unexpected?.status).toBe(401);
    const foreign = openStream(replica.url, chatId, bob.token, '');
    await waitFor(() => foreign.unexpected, { what: '404' });
    expect(foreign.unexpected?.status).toBe(404);
  });

  it('health, readiness and metrics answer without auth and reveal no chat data', async () => {
    expect((await fetch(`${replica.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
    const m = await (await fetch(`${replica.url}/metrics`)).text();
    expect(m).toContain('chatd_stream_events_sent_total');
    expect(m).toContain('chatd_ws_connections');
    expect(m).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});
