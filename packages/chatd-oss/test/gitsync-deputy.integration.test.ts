// Issue 22 item 3, through a real replica and a stand-in GitHub (node:http on port 0) that hides `corp/secret`
// from anyone without the deployment token: with GITHUB_TOKEN set and no CHATD_GITSYNC_OWNERS, a user's push
// report for that repository sends no Authorization header and reads nothing; with `corp` listed the token is
// used for corp only; `.`/`..` owner or repo segments are a 400 before anything is written or fetched; and
// CHATD_GITSYNC_REFRESHES_PER_MINUTE caps each user with 429 + Retry-After.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRealClock } from '@chatd/clock';
import { createGitHubProvider, createProviderResolver } from '@chatd/gitsync';
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const DEPLOY_TOKEN = 'deployment-secret-token';
const content = [{ type: 'text', text: 'push something' }];

/** Stand-in GitHub: `corp/secret` (private: 404 without the deployment token) and `pub/lib` (public) each have PR #7 on `feat`. */
async function startStandInGitHub() {
  const requests: { path: string; auth: string | undefined }[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: url.pathname, auth: req.headers.authorization });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/repos\/(corp\/secret|pub\/lib)\/pulls(\/7(\/reviews)?)?$/.exec(url.pathname);
    if (!m || (m[1] === 'corp/secret' && req.headers.authorization !== `Bearer ${DEPLOY_TOKEN}`)) return json(404, { message: 'Not Found' });
    if (m[3]) return json(200, []);
    if (m[2]) {
      return json(200, {
        number: 7,
        title: `secret plans of ${m[1]}`,
        state: 'open',
        merged: false,
        draft: false,
        additions: 1,
        deletions: 1,
        changed_files: 1,
        head: { sha: 'abc', ref: 'feat' },
        base: { ref: 'main' },
      });
    }
    return json(200, url.searchParams.get('head')?.endsWith(':feat') ? [{ html_url: `${base}/${m[1]}/pull/7` }] : []);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let gh: Awaited<ReturnType<typeof startStandInGitHub>>;
const replicas: RunningChatd[] = [];
let plain: RunningChatd;
let users = 0;

/** A replica whose gitsync uses the default token wiring (GITHUB_TOKEN from env), pointed at the stand-in. */
async function replicaWith(env: Record<string, string>) {
  const resolver = createProviderResolver([createGitHubProvider({ clock: createRealClock(), apiBaseUrl: gh.base, etagCache: false })]);
  const replica = await startTestReplica(db.url, { env: { GITHUB_TOKEN: DEPLOY_TOKEN, ...env }, gitsync: { resolver, intervalMs: 3_600_000 } });
  replicas.push(replica);
  return replica;
}

beforeAll(async () => {
  gh = await startStandInGitHub();
  plain = await replicaWith({});
});
afterAll(async () => {
  for (const r of replicas) await r.close();
  await gh?.close();
});

describe('the deployment token is not lent to whoever asks', () => {
  it('GITHUB_TOKEN set, no CHATD_GITSYNC_OWNERS: a private repository gets no Authorization header and reads as absent', async () => {
    const replica = plain;
    const mallory = await userToken(replica, 'deputy-mallory');
    const api = apiClient(replica.url, mallory.token);
    const chatId = (await api('POST', '', { content })).body.id as string;
    const before = gh.requests.length;
    expect((await api('PUT', `/${chatId}/git`, { origin: `${gh.base}/corp/secret.git`, branch: 'feat' })).status).toBe(204);
    const status = await api('GET', `/${chatId}/diff-status`);
    expect(status.status).toBe(200);
    expect(status.body.url).toBeUndefined();
    expect(status.body.pull_request_state).toBeUndefined();
    const sent = gh.requests.slice(before);
    expect(sent.map((r) => r.path)).toEqual(['/repos/corp/secret/pulls']);
    expect(sent.every((r) => r.auth === undefined)).toBe(true);

    // A public repository still works without the token.
    const pub = (await api('POST', '', { content })).body.id as string;
    await api('PUT', `/${pub}/git`, { origin: `${gh.base}/pub/lib.git`, branch: 'feat' });
    expect((await api('GET', `/${pub}/diff-status`)).body).toMatchObject({ url: `${gh.base}/pub/lib/pull/7`, pull_request_state: 'open' });
    expect(gh.requests.slice(before).every((r) => r.auth === undefined)).toBe(true);
  });

  it('CHATD_GITSYNC_OWNERS=Corp: the token is used for corp repositories only', async () => {
    const replica = await replicaWith({ CHATD_GITSYNC_OWNERS: ' Corp ' });
    const alice = await userToken(replica, 'deputy-alice');
    const api = apiClient(replica.url, alice.token);
    const secret = (await api('POST', '', { content })).body.id as string;
    const before = gh.requests.length;
    await api('PUT', `/${secret}/git`, { origin: `${gh.base}/corp/secret.git`, branch: 'feat' });
    expect((await api('GET', `/${secret}/diff-status`)).body).toMatchObject({ url: `${gh.base}/corp/secret/pull/7`, pull_request_state: 'open' });
    expect(gh.requests.slice(before).every((r) => r.auth === `Bearer ${DEPLOY_TOKEN}`)).toBe(true);

    const pub = (await api('POST', '', { content })).body.id as string;
    const mid = gh.requests.length;
    await api('PUT', `/${pub}/git`, { origin: `${gh.base}/pub/lib.git`, branch: 'feat' });
    expect((await api('GET', `/${pub}/diff-status`)).body.url).toBe(`${gh.base}/pub/lib/pull/7`);
    expect(gh.requests.slice(mid).length).toBe(3);
    expect(gh.requests.slice(mid).every((r) => r.auth === undefined)).toBe(true);
  });
});

describe('dot segments', () => {
  it.each([
    ['/../secret.git'],
    ['/corp/..'],
    ['/corp/%2e%2e'],
    ['/%2E/secret.git'],
    ['/corp/%252e%252e.git'],
    ['/corp/..git'],
    ['//secret.git'],
  ])('origin <stand-in>%s is a 400 with validations; nothing is stored or fetched', async (path) => {
    const replica = plain;
    const user = await userToken(replica, `deputy-dots-${++users}`);
    const api = apiClient(replica.url, user.token);
    const chatId = (await api('POST', '', { content })).body.id as string;
    const before = gh.requests.length;
    const res = await api('PUT', `/${chatId}/git`, { origin: `${gh.base}${path}`, branch: 'feat' });
    expect(res.status).toBe(400);
    expect(res.body.validations).toEqual([expect.objectContaining({ field: 'origin' })]);
    expect(await replica.gitsync!.store.getChatDiffStatus(chatId)).toBeUndefined();
    expect((await api('GET', `/${chatId}/diff-status`)).status).toBe(200);
    expect(gh.requests.length).toBe(before);
  });

  it('ssh and scp-like origins and branches with dot components are refused too', async () => {
    const replica = plain;
    const user = await userToken(replica, 'deputy-dots-ssh');
    const api = apiClient(replica.url, user.token);
    const chatId = (await api('POST', '', { content })).body.id as string;
    expect((await api('PUT', `/${chatId}/git`, { origin: 'git@github.com:../corp.git', branch: 'feat' })).body.validations).toEqual([expect.objectContaining({ field: 'origin' })]);
    expect((await api('PUT', `/${chatId}/git`, { origin: 'ssh://git@github.com/corp/.', branch: 'feat' })).status).toBe(400);
    const branch = await api('PUT', `/${chatId}/git`, { origin: `${gh.base}/pub/lib.git`, branch: '../../../x' });
    expect(branch.status).toBe(400);
    expect(branch.body.validations).toEqual([expect.objectContaining({ field: 'branch' })]);
    expect(await replica.gitsync!.store.getChatDiffStatus(chatId)).toBeUndefined();
  });
});

describe('the per-user refresh cap', () => {
  it('CHATD_GITSYNC_REFRESHES_PER_MINUTE=2: the third push report is a 429 with Retry-After, writes nothing; others are unaffected; GETs serve the stored status', async () => {
    const replica = await replicaWith({ CHATD_GITSYNC_REFRESHES_PER_MINUTE: '2' });
    const carol = await userToken(replica, 'deputy-carol');
    const dave = await userToken(replica, 'deputy-dave');
    const api = apiClient(replica.url, carol.token);
    const chatId = (await api('POST', '', { content })).body.id as string;
    const origin = `${gh.base}/pub/lib.git`;
    expect((await api('PUT', `/${chatId}/git`, { origin, branch: 'one' })).status).toBe(204);
    expect((await api('PUT', `/${chatId}/git`, { origin, branch: 'two' })).status).toBe(204);

    const refused = await fetch(`${replica.url}/api/experimental/chats/${chatId}/git`, {
      method: 'PUT',
      headers: { 'coder-session-token': carol.token, 'content-type': 'application/json' },
      body: JSON.stringify({ origin, branch: 'three' }),
    });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30).toBe(true);
    expect(((await refused.json()) as { message: string }).message).toBe('Too many git status refreshes.');
    expect((await replica.gitsync!.store.getChatDiffStatus(chatId))?.git_branch).toBe('two');

    // The stale row is not refreshed inline while over the cap: stored status, no provider call.
    const before = gh.requests.length;
    const read = await api('GET', `/${chatId}/diff-status`);
    expect(read.status).toBe(200);
    expect(read.body.url).toBeUndefined();
    expect(gh.requests.length).toBe(before);

    const daveApi = apiClient(replica.url, dave.token);
    const daveChat = (await daveApi('POST', '', { content })).body.id as string;
    expect((await daveApi('PUT', `/${daveChat}/git`, { origin, branch: 'feat' })).status).toBe(204);

    expect(replica.gitsync!.metrics()).toEqual({ reportsLimited: 1, inlineRefreshesLimited: 1 });
    const metrics = await (await fetch(`${replica.url}/metrics`)).text();
    expect(metrics).toContain('chatd_gitsync_refreshes_limited_total{kind="report"} 1');
    expect(metrics).toContain('chatd_gitsync_refreshes_limited_total{kind="inline"} 1');
  });
});
