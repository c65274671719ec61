// The git routes through the public API of a real replica: PUT /{chat}/git records a push and makes the chat
// stale, GET /{chat}/diff-status refreshes inline through a fake GitHub (node:http on port 0), Chat responses
// carry diff_status, the owner's watch socket gets diff_status_change events, and the replica's background
// worker refreshes on its own. Other users get 404s and bad bodies 400s with validations.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createRealClock } from '@chatd/clock';
import { createGitHubProvider, createProviderResolver, type ProviderResolver } from '@chatd/gitsync';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const TOKEN = 'gh-test-token';

/** A fake GitHub API: branch `feat` has PR #7, `no-pr` has none, `boom` fails; every request is recorded. */
function startFakeGitHub() {
  const requests: { path: string; auth: string | undefined }[] = [];
  let base = '';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: `${url.pathname}${url.search}`, auth: req.headers.authorization });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/repos/o/r/pulls') {
      const head = url.searchParams.get('head');
      if (head === 'o:boom') return json(500, { message: 'upstream exploded' });
      return json(200, head === 'o:feat' ? [{ html_url: `${base}/o/r/pull/7` }] : []);
    }
    if (url.pathname === '/repos/o/r/pulls/7') {
      return json(200, {
        number: 7,
        title: 'Add the thing',
        state: 'open',
        merged: false,
        draft: false,
        additions: 10,
        deletions: 3,
        changed_files: 2,
        commits: 4,
        head: { sha: 'abc123', ref: 'feat' },
        base: { ref: 'main' },
        user: { login: 'alice', avatar_url: 'https://avatars.example/alice' },
      });
    }
    if (url.pathname === '/repos/o/r/pulls/7/reviews') return json(200, [{ id: 1, state: 'CHANGES_REQUESTED', user: { login: 'bob' } }]);
    return json(404, { message: 'Not Found' });
  });
  return {
    requests,
    get base() {
      return base;
    },
    async start() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The owner's watch socket: every ChatEvent received. */
function openWatch(baseUrl: string, token: string) {
  const events: { kind: string; chat: { id: string; diff_status?: Record<string, unknown> } }[] = [];
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/experimental/chats/watch`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  ws.on('message', (data) => events.push(JSON.parse(String(data)) as (typeof events)[number]));
  ws.on('error', () => {});
  // The server pings once its subscriptions are in place.
  const ready = new Promise<void>((resolve) => ws.once('ping', () => resolve()));
  return { events, ready, close: () => ws.close() };
}

const content = [{ type: 'text', text: 'push something' }];

const fake = startFakeGitHub();
let resolver: ProviderResolver;
let replica: RunningChatd;
let alice: { token: string; userId: string };
let bob: { token: string; userId: string };
let api: ReturnType<typeof apiClient>;
let bobApi: ReturnType<typeof apiClient>;
let origin: string;

beforeAll(async () => {
  await fake.start();
  origin = `${fake.base}/o/r.git`;
  resolver = createProviderResolver([createGitHubProvider({ clock: createRealClock(), apiBaseUrl: fake.base, etagCache: false })]);
  // The background worker is kept out of the way here (one tick an hour): only the routes refresh.
  replica = await startTestReplica(db.url, { gitsync: { resolver, tokens: () => TOKEN, intervalMs: 3_600_000 } });
  alice = await userToken(replica, 'git-alice');
  bob = await userToken(replica, 'git-bob');
  api = apiClient(replica.url, alice.token);
  bobApi = apiClient(replica.url, bob.token);
});
afterAll(async () => {
  await replica?.close();
  await fake.close();
});

const newChat = async () => (await api('POST', '', { content })).body.id as string;
const callsFor = (branch: string) => fake.requests.filter((r) => r.path.includes(`head=o%3A${branch}`) || r.path.includes(`head=o:${branch}`));

describe('gitsync routes: push, then read the status', () => {
  it('PUT /git marks the chat stale (204, diff_status without a PR yet) and publishes diff_status_change', async () => {
    const chatId = await newChat();
    const watch = openWatch(replica.url, alice.token);
    await watch.ready;
    const put = await api('PUT', `/${chatId}/git`, { origin, branch: 'feat' });
    expect(put.status).toBe(204);
    expect(put.body).toBeUndefined();

    const got = await api('GET', `/${chatId}`);
    expect(got.status).toBe(200);
    expect(got.body.diff_status).toMatchObject({ chat_id: chatId, changes_requested: false, additions: 0, deletions: 0, changed_files: 0 });
    expect(got.body.diff_status.url).toBeUndefined();
    expect(got.body.diff_status.refreshed_at).toBeUndefined();
    // Stale now: stale_at is in the past.
    expect(Date.parse(got.body.diff_status.stale_at)).toBeLessThanOrEqual(Date.now());

    await waitFor(() => watch.events.some((e) => e.kind === 'diff_status_change' && e.chat.id === chatId), { what: 'a diff_status_change event', timeoutMs: 10_000 });
    const event = watch.events.find((e) => e.kind === 'diff_status_change')!;
    expect(event.chat.diff_status).toMatchObject({ chat_id: chatId, additions: 0 });
    watch.close();
  });

  it('GET /diff-status refreshes a stale chat through the provider, then serves it fresh without calling again', async () => {
    const chatId = await newChat();
    expect((await api('PUT', `/${chatId}/git`, { origin, branch: 'feat' })).status).toBe(204);
    const before = fake.requests.length;
    const watch = openWatch(replica.url, alice.token);
    await watch.ready;

    const res = await api('GET', `/${chatId}/diff-status`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      chat_id: chatId,
      url: `${fake.base}/o/r/pull/7`,
      pull_request_state: 'open',
      changes_requested: true,
      additions: 10,
      deletions: 3,
      changed_files: 2,
    });
    expect(Date.parse(res.body.stale_at) - Date.parse(res.body.refreshed_at)).toBe(120_000);
    const calls = fake.requests.slice(before);
    expect(calls.map((c) => c.path.split('?')[0])).toEqual(['/repos/o/r/pulls', '/repos/o/r/pulls/7', '/repos/o/r/pulls/7/reviews']);
    expect(calls.every((c) => c.auth === `Bearer ${TOKEN}`)).toBe(true);

    // Fresh now: no provider call, same answer.
    const again = await api('GET', `/${chatId}/diff-status`);
    expect(again.body).toEqual(res.body);
    expect(fake.requests.length).toBe(before + 3);

    // Chat responses carry it, the single chat and the list.
    expect((await api('GET', `/${chatId}`)).body.diff_status).toEqual(res.body);
    const listed = (await api('GET', '')).body as { id: string; diff_status?: unknown }[];
    expect(listed.find((c) => c.id === chatId)?.diff_status).toEqual(res.body);

    // The refresh published the change with the PR on it.
    await waitFor(() => watch.events.some((e) => e.kind === 'diff_status_change' && e.chat.diff_status?.url === res.body.url), { what: 'the refreshed status event', timeoutMs: 10_000 });
    watch.close();
  });

  it('a later push keeps the known PR URL and makes the chat stale again', async () => {
    const chatId = await newChat();
    await api('PUT', `/${chatId}/git`, { origin, branch: 'feat' });
    const first = (await api('GET', `/${chatId}/diff-status`)).body;
    expect((await api('PUT', `/${chatId}/git`, { origin, branch: 'feat' })).status).toBe(204);
    const status = (await api('GET', `/${chatId}`)).body.diff_status;
    expect(status.url).toBe(first.url);
    expect(Date.parse(status.stale_at)).toBeLessThan(Date.parse(first.stale_at));
  });

  it('credentials in an https origin are stripped before storing (the refresh still finds the PR)', async () => {
    const chatId = await newChat();
    const withToken = origin.replace('http://', 'http://x-access-token:s3cret@');
    expect((await api('PUT', `/${chatId}/git`, { origin: withToken, branch: 'feat' })).status).toBe(204);
    const row = await replica.gitsync!.store.getChatDiffStatus(chatId);
    expect(row?.git_remote_origin).toBe(origin);
    expect((await api('GET', `/${chatId}/diff-status`)).body.url).toBe(`${fake.base}/o/r/pull/7`);
  });

  it('a branch without a PR answers 200 with the stored status (no URL, never refreshed)', async () => {
    const chatId = await newChat();
    await api('PUT', `/${chatId}/git`, { origin, branch: 'no-pr' });
    const res = await api('GET', `/${chatId}/diff-status`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ chat_id: chatId, changes_requested: false, additions: 0 });
    expect(res.body.url).toBeUndefined();
    expect(res.body.refreshed_at).toBeUndefined();
    expect(callsFor('no-pr').length).toBe(1);
  });

  it('a provider failure does not fail the read: 200 with the stored status', async () => {
    const chatId = await newChat();
    await api('PUT', `/${chatId}/git`, { origin, branch: 'boom' });
    const res = await api('GET', `/${chatId}/diff-status`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ chat_id: chatId, additions: 0 });
    expect(res.body.url).toBeUndefined();
    expect(callsFor('boom').length).toBe(1);
  });

  it('a chat with no status: GET /diff-status is a zero-value status, Chat responses omit diff_status', async () => {
    const chatId = await newChat();
    const res = await api('GET', `/${chatId}/diff-status`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ chat_id: chatId, changes_requested: false, additions: 0, deletions: 0, changed_files: 0 });
    expect('diff_status' in (await api('GET', `/${chatId}`)).body).toBe(false);
    const listed = (await api('GET', '')).body as { id: string }[];
    expect('diff_status' in listed.find((c) => c.id === chatId)!).toBe(false);
  });
});

describe('gitsync routes: who may call, and bad input', () => {
  it("another user's chat and an unknown chat are 404 on both routes, and nothing is written", async () => {
    const chatId = await newChat();
    for (const id of [chatId, randomUUID()]) {
      const put = await bobApi('PUT', `/${id}/git`, { origin, branch: 'feat' });
      expect(put.status).toBe(404);
      expect(put.body.message).toBe('Resource not found or you do not have access to this resource.');
      expect((await bobApi('GET', `/${id}/diff-status`)).status).toBe(404);
    }
    expect(await replica.gitsync!.store.getChatDiffStatus(chatId)).toBeUndefined();
  });

  it('bad bodies are 400 with validations; a bad chat id is 400; no session is 401', async () => {
    const chatId = await newChat();
    const empty = await api('PUT', `/${chatId}/git`, {});
    expect(empty.status).toBe(400);
    expect(empty.body.validations.map((v: { field: string }) => v.field).sort()).toEqual(['branch', 'origin']);

    const blank = await api('PUT', `/${chatId}/git`, { origin: '  ', branch: 'feat' });
    expect(blank.status).toBe(400);
    expect(blank.body.validations).toEqual([expect.objectContaining({ field: 'origin' })]);

    const spaced = await api('PUT', `/${chatId}/git`, { origin, branch: 'my branch' });
    expect(spaced.status).toBe(400);
    expect(spaced.body.validations).toEqual([expect.objectContaining({ field: 'branch' })]);

    const wrongType = await api('PUT', `/${chatId}/git`, { origin: 42, branch: ['feat'] });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.validations.map((v: { field: string }) => v.field).sort()).toEqual(['branch', 'origin']);

    expect((await api('PUT', `/${chatId}/git`, 'not json', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await api('PUT', '/not-a-uuid/git', { origin, branch: 'feat' })).status).toBe(400);
    expect((await api('GET', '/not-a-uuid/diff-status')).status).toBe(400);
    expect((await apiClient(replica.url, undefined)('GET', `/${chatId}/diff-status`)).status).toBe(401);
    expect((await api('POST', `/${chatId}/git`, { origin, branch: 'feat' })).status).toBe(405);
    expect(await replica.gitsync!.store.getChatDiffStatus(chatId)).toBeUndefined();
  });
});

describe('gitsync worker in the replica', () => {
  it('refreshes a pushed chat in the background and publishes the PR to the watch socket', async () => {
    const worker = await startTestReplica(db.url, { gitsync: { resolver, tokens: () => TOKEN, intervalMs: 100 } });
    try {
      const carol = await userToken(worker, 'git-carol');
      const carolApi = apiClient(worker.url, carol.token);
      const chatId = (await carolApi('POST', '', { content })).body.id as string;
      const watch = openWatch(worker.url, carol.token);
      await watch.ready;
      expect((await carolApi('PUT', `/${chatId}/git`, { origin, branch: 'feat' })).status).toBe(204);
      await waitFor(() => watch.events.some((e) => e.kind === 'diff_status_change' && e.chat.id === chatId && e.chat.diff_status?.url !== undefined), {
        what: 'the worker to refresh the chat',
        timeoutMs: 15_000,
      });
      const stored = await worker.gitsync!.store.getChatDiffStatus(chatId);
      expect(stored).toMatchObject({ url: `${fake.base}/o/r/pull/7`, pr_number: 7, additions: 10, author_login: 'alice', base_branch: 'main', head_branch: 'feat' });
      watch.close();
    } finally {
      await worker.close();
    }
  });

  it('gitsync: false leaves the routes unmounted and Chat responses without diff_status', async () => {
    const plain = await startTestReplica(db.url, { gitsync: false });
    try {
      const dave = await userToken(plain, 'git-dave');
      const daveApi = apiClient(plain.url, dave.token);
      const chatId = (await daveApi('POST', '', { content })).body.id as string;
      expect(plain.gitsync).toBeUndefined();
      expect((await daveApi('GET', `/${chatId}/diff-status`)).status).toBe(404);
      expect((await daveApi('PUT', `/${chatId}/git`, { origin, branch: 'feat' })).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
