import { createMockClock } from '@chatd/clock';
import type { ChatDiffStatus } from '@chatd/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ACQUISITION_LOCK_MS,
  createEnvTokenResolver,
  createGitHubProvider,
  createMemoryStore,
  createProviderResolver,
  createRefresher,
  createWorker,
  DIFF_STATUS_TTL_MS,
  type GitSyncLogger,
  type Worker,
} from '../src/index.js';
import { pullJson, RATE_LIMIT, startFakeGitHub, type FakeGitHub } from './fake-github.js';
import { CHAT_1, CHAT_2, CHAT_3, OWNER_1, runTick, WORKSPACE_1 } from './helpers.js';

let gh: FakeGitHub;
let worker: Worker | undefined;
beforeEach(async () => {
  gh = await startFakeGitHub();
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await gh.close();
});

function setup() {
  const clock = createMockClock();
  const store = createMemoryStore({ clock });
  const github = createGitHubProvider({ clock, apiBaseUrl: gh.apiBaseUrl, webBaseUrl: 'https://github.com' });
  const refresher = createRefresher({ providers: createProviderResolver([github]), tokens: createEnvTokenResolver({ env: { GITHUB_TOKEN: 'env-token' } }), clock });
  const published: Array<{ chatId: string; status: ChatDiffStatus }> = [];
  const warnings: string[] = [];
  const logger: GitSyncLogger = { debug: () => undefined, info: () => undefined, warn: (_o, msg) => warnings.push(msg ?? ''), error: (_o, msg) => warnings.push(`error: ${msg ?? ''}`) };
  worker = createWorker({ store, refresher, clock, logger, publish: (chatId, status) => void published.push({ chatId, status }) });
  for (const id of [CHAT_1, CHAT_2, CHAT_3]) store.putChat({ id, owner_id: OWNER_1, workspace_id: WORKSPACE_1 });
  return { clock, store, worker, published, warnings };
}

describe('worker with the GitHub provider against a local REST server', () => {
  it('discovers the PR of a pushed branch, then revalidates with 304s that cost no rate limit', async () => {
    gh.route('/api/v3/repos/o/r/pulls', { json: [pullJson()] });
    gh.route('/api/v3/repos/o/r/pulls/1', { json: pullJson() });
    gh.route('/api/v3/repos/o/r/pulls/1/reviews', { json: [{ id: 1, state: 'CHANGES_REQUESTED', user: { login: 'bob' } }] });
    const { clock, store, worker, published } = setup();
    await worker.markStale({ workspaceId: WORKSPACE_1, chatId: CHAT_1, branch: 'feat', origin: 'git@github.com:o/r.git' });
    worker.start();
    await runTick(clock);
    const row = store.getChatDiffStatus(CHAT_1)!;
    expect(row).toMatchObject({ url: 'https://github.com/o/r/pull/1', pull_request_state: 'open', changes_requested: true, additions: 10, deletions: 5, changed_files: 3 });
    expect(gh.requests.map((r) => r.headers.authorization)).toEqual(['Bearer env-token', 'Bearer env-token', 'Bearer env-token']);
    expect(gh.remaining).toBe(RATE_LIMIT - 3);
    // The stored URL is used from now on; after the TTL the unchanged PR costs nothing.
    while (clock.nowMs() < row.stale_at.getTime()) await runTick(clock);
    expect(gh.requests.slice(3).map((r) => r.path)).toEqual(['/api/v3/repos/o/r/pulls/1', '/api/v3/repos/o/r/pulls/1/reviews']);
    expect(gh.remaining).toBe(RATE_LIMIT - 3);
    expect(store.getChatDiffStatus(CHAT_1)?.refreshed_at?.getTime()).toBe(clock.nowMs());
    expect(published.map((p) => p.chatId)).toEqual([CHAT_1, CHAT_1, CHAT_1]);
  });

  it('turns malformed bodies into row errors: the row backs off and the worker keeps ticking', async () => {
    gh.route('/api/v3/repos/o/r/pulls/1', { body: '<html>502 Bad Gateway</html>' });
    gh.route('/api/v3/repos/o/r/pulls/2', { json: { title: 42 } });
    const { clock, store, worker, published } = setup();
    for (const [chat, n] of [[CHAT_1, 1], [CHAT_2, 2]] as const) {
      await store.upsertChatDiffStatusReference({ chat_id: chat, url: `https://github.com/o/r/pull/${n}`, git_branch: 'feat', git_remote_origin: 'https://github.com/o/r', stale_at: clock.now() });
    }
    worker.start();
    await runTick(clock);
    for (const chat of [CHAT_1, CHAT_2]) expect(store.getChatDiffStatus(chat)?.stale_at.getTime()).toBe(clock.nowMs() + DIFF_STATUS_TTL_MS);
    expect(published).toHaveLength(0);
    await runTick(clock);
    expect(clock.pendingTimers()).toHaveLength(1);
  });

  it('skips the rest of a group after a 429 and backs every row off by the TTL', async () => {
    gh.route('/api/v3/repos/o/r/pulls', { status: 429, body: '', headers: { 'retry-after': '60' } });
    const { clock, store, worker } = setup();
    for (const chat of [CHAT_1, CHAT_2, CHAT_3]) {
      await store.upsertChatDiffStatusReference({ chat_id: chat, url: null, git_branch: `b-${chat}`, git_remote_origin: 'https://github.com/o/r', stale_at: clock.now() });
    }
    worker.start();
    await runTick(clock);
    // Default concurrency 10: all three may start before the first 429 lands, so at most three calls, at least one.
    expect(gh.requests.length).toBeGreaterThanOrEqual(1);
    expect(gh.requests.length).toBeLessThanOrEqual(3);
    for (const chat of [CHAT_1, CHAT_2, CHAT_3]) expect(store.getChatDiffStatus(chat)?.stale_at.getTime()).toBe(clock.nowMs() + DIFF_STATUS_TTL_MS);
  });

  it('leaves a branch without a PR on its claim once the push is old', async () => {
    gh.route('/api/v3/repos/o/r/pulls', { json: [] });
    const { clock, store, worker } = setup();
    await worker.markStale({ workspaceId: WORKSPACE_1, branch: 'feat', origin: 'https://github.com/o/r' });
    await clock.advance(10 * 60_000);
    worker.start();
    await runTick(clock);
    expect(store.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(clock.nowMs() + ACQUISITION_LOCK_MS);
  });
});
