import { createMockClock, type MockClock } from '@chatd/clock';
import type { ChatDiffStatus } from '@chatd/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ACQUISITION_LOCK_MS,
  createMemoryStore,
  createProviderResolver,
  createRefresher,
  createWorker,
  DEFAULT_BATCH_SIZE,
  DEFAULT_INTERVAL_MS,
  DEFAULT_TICK_TIMEOUT_MS,
  DIFF_STATUS_TTL_MS,
  GitSyncError,
  hasErrorCode,
  MARK_STALE_OFFSET_MS,
  NO_PR_BACKOFF_MS,
  NO_PR_RETRY_WINDOW_MS,
  NO_TOKEN_BACKOFF_MS,
  WORKER_TICK_TAG,
  WORKER_TICK_TIMEOUT_TAG,
  type MemoryStore,
  type Refresher,
  type TokenResolver,
  type Worker,
  type WorkerOptions,
} from '../src/index.js';
import { CHAT_1, CHAT_2, CHAT_3, createFakeProvider, flush, makeStatus, ORIGIN, OWNER_1, OWNER_2, runTick, spyStore, untilAborted, WORKSPACE_1, WORKSPACE_2 } from './helpers.js';

type Setup = {
  provider?: ReturnType<typeof createFakeProvider>;
  tokens?: TokenResolver;
  refresher?: Refresher;
  publish?: WorkerOptions['publish'];
  options?: Partial<WorkerOptions>;
};

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

function setup(s: Setup = {}) {
  const clock = createMockClock();
  const memory = createMemoryStore({ clock });
  const store = spyStore(memory);
  const provider = s.provider ?? createFakeProvider();
  const tokenCalls: string[] = [];
  const refresher =
    s.refresher ??
    createRefresher({
      providers: createProviderResolver([provider]),
      tokens: (ownerId, origin, o) => {
        tokenCalls.push(ownerId);
        return (s.tokens ?? (() => 'tok'))(ownerId, origin, o);
      },
      clock,
    });
  const published: Array<{ chatId: string; status: ChatDiffStatus }> = [];
  const worker = createWorker({
    store,
    refresher,
    clock,
    publish:
      s.publish ??
      ((chatId, status) => {
        published.push({ chatId, status });
      }),
    ...s.options,
  });
  workers.push(worker);
  for (const [id, owner, ws] of [
    [CHAT_1, OWNER_1, WORKSPACE_1],
    [CHAT_2, OWNER_1, WORKSPACE_1],
    [CHAT_3, OWNER_2, WORKSPACE_2],
  ] as const) {
    memory.putChat({ id, owner_id: owner, workspace_id: ws });
  }
  return { clock, memory, store, provider, refresher, worker, published, tokenCalls };
}

/** Seeds a stale reference row (stale_at one second ago, updated_at now), as markStale would. */
async function seed(memory: MemoryStore, clock: MockClock, chatId: string, overrides: { url?: string | null; git_branch?: string } = {}) {
  await memory.upsertChatDiffStatusReference({
    chat_id: chatId,
    url: overrides.url ?? null,
    git_branch: overrides.git_branch ?? 'feat',
    git_remote_origin: ORIGIN,
    stale_at: new Date(clock.nowMs() - 1000),
  });
}

describe('worker tick', () => {
  it('does not tick at start: the first tick comes one interval later', async () => {
    const { worker, clock, store } = setup();
    worker.start();
    expect(clock.pendingTimers().map((t) => [t.tag, t.delayMs])).toEqual([[WORKER_TICK_TAG, DEFAULT_INTERVAL_MS]]);
    expect(store.calls).toHaveLength(0);
    await runTick(clock);
    expect(store.callsOf('acquireStaleChatDiffStatuses')).toEqual([[DEFAULT_BATCH_SIZE, expect.any(AbortSignal)]]);
  });

  it('makes no other store calls when nothing is stale (SkipsFreshRows)', async () => {
    const { worker, clock, store, memory, provider, tokenCalls } = setup();
    await memory.upsertChatDiffStatusReference({ chat_id: CHAT_1, url: null, git_branch: 'feat', git_remote_origin: ORIGIN, stale_at: new Date(clock.nowMs() + 3_600_000) });
    worker.start();
    await runTick(clock);
    expect(store.calls.map((c) => c.method)).toEqual(['acquireStaleChatDiffStatuses']);
    expect(tokenCalls).toHaveLength(0);
    expect(provider.resolveCalls).toHaveLength(0);
  });

  it('upserts and publishes every refreshed row with stale_at = now + TTL (LimitsToNRows)', async () => {
    const { worker, clock, store, memory, published } = setup();
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5'];
    for (const id of ids) {
      memory.putChat({ id, owner_id: OWNER_1, workspace_id: WORKSPACE_1 });
      await seed(memory, clock, id);
    }
    worker.start();
    await runTick(clock);
    expect(store.callsOf('acquireStaleChatDiffStatuses')[0]?.[0]).toBe(50);
    expect(store.callsOf('upsertChatDiffStatus').map((a) => (a[0] as { chat_id: string }).chat_id)).toEqual(ids);
    expect(published.map((p) => p.chatId)).toEqual(ids);
    const row = memory.getChatDiffStatus('c1')!;
    expect(row.refreshed_at?.getTime()).toBe(clock.nowMs());
    expect(row.stale_at.getTime()).toBe(clock.nowMs() + DIFF_STATUS_TTL_MS);
    expect(published[0]?.status).toEqual({
      chat_id: 'c1',
      url: 'https://github.com/o/r/pull/7',
      pull_request_state: 'open',
      changes_requested: false,
      additions: 10,
      deletions: 5,
      changed_files: 3,
      refreshed_at: new Date(clock.nowMs()).toISOString(),
      stale_at: new Date(clock.nowMs() + DIFF_STATUS_TTL_MS).toISOString(),
    });
  });

  it('claims at most batchSize rows per tick', async () => {
    const { worker, clock, memory, store } = setup({ options: { batchSize: 2 } });
    for (const id of [CHAT_1, CHAT_2, CHAT_3]) await seed(memory, clock, id);
    worker.start();
    await runTick(clock);
    expect(store.callsOf('acquireStaleChatDiffStatuses')[0]?.[0]).toBe(2);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(2);
    await runTick(clock);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(3);
  });

  it('backs off NO_PR_BACKOFF_MS when there is no PR shortly after markStale (NoPR_RecentMarkStale)', async () => {
    const { worker, clock, memory, store, published } = setup({ provider: createFakeProvider({ resolve: async () => null }) });
    await seed(memory, clock, CHAT_1);
    worker.start();
    await runTick(clock);
    expect(store.callsOf('backoffChatDiffStatus')).toEqual([[{ chat_id: CHAT_1, stale_at: new Date(clock.nowMs() + NO_PR_BACKOFF_MS) }, expect.any(AbortSignal)]]);
    expect(memory.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(clock.nowMs() + NO_PR_BACKOFF_MS);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(0);
    expect(published).toHaveLength(0);
  });

  it('leaves the acquisition claim in place for an old row without a PR (NoPR_OldRow_Skips)', async () => {
    const { worker, clock, memory, store } = setup({ provider: createFakeProvider({ resolve: async () => null }) });
    await seed(memory, clock, CHAT_1);
    await clock.advance(5 * 60_000);
    worker.start();
    await runTick(clock);
    expect(store.callsOf('backoffChatDiffStatus')).toHaveLength(0);
    expect(memory.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(clock.nowMs() + ACQUISITION_LOCK_MS);
  });

  it.each([
    ['exactly the window: no backoff (strict <)', NO_PR_RETRY_WINDOW_MS, 0],
    ['1 ms inside the window: short backoff', NO_PR_RETRY_WINDOW_MS - 1, 1],
  ])('applies the no-PR window at its boundary, %s', async (_name, ageAtTick, backoffs) => {
    const { worker, clock, memory, store } = setup({ provider: createFakeProvider({ resolve: async () => null }) });
    await seed(memory, clock, CHAT_1);
    await clock.advance(ageAtTick - DEFAULT_INTERVAL_MS);
    worker.start();
    await runTick(clock);
    const row = memory.getChatDiffStatus(CHAT_1)!;
    expect(clock.nowMs() - row.updated_at.getTime()).toBe(ageAtTick);
    expect(store.callsOf('backoffChatDiffStatus')).toHaveLength(backoffs);
  });

  it('polls for a new PR about every 15 s for two minutes after a push, then falls back to the claim', async () => {
    const { worker, clock, memory, provider } = setup({ provider: createFakeProvider({ resolve: async () => null }) });
    const start = clock.nowMs();
    await worker.markStale({ workspaceId: WORKSPACE_1, chatId: CHAT_1, branch: 'feat', origin: ORIGIN });
    worker.start();
    const callTimes = () => provider.resolveCalls.length;
    const seen: number[] = [];
    while (clock.nowMs() - start < 440_000) {
      const before = callTimes();
      await runTick(clock);
      if (callTimes() > before) seen.push((clock.nowMs() - start) / 1000);
    }
    expect(seen).toEqual([10, 30, 50, 70, 90, 110, 130, 430]);
  });

  it('continues with the next row when a no-PR backoff fails (NoPR_BackoffError_ContinuesNextRow)', async () => {
    const { worker, clock, memory, store } = setup({ provider: createFakeProvider({ resolve: async () => null }) });
    await seed(memory, clock, CHAT_1);
    await seed(memory, clock, CHAT_2);
    store.failWhen('backoffChatDiffStatus', (a) => (a[0] as { chat_id: string }).chat_id === CHAT_1);
    worker.start();
    await runTick(clock);
    expect(store.callsOf('backoffChatDiffStatus')).toHaveLength(2);
    expect(memory.getChatDiffStatus(CHAT_2)?.stale_at.getTime()).toBe(clock.nowMs() + NO_PR_BACKOFF_MS);
  });

  it('backs off a failed row by the TTL and still upserts the others (RefresherError_BacksOffRow)', async () => {
    const provider = createFakeProvider({
      status: async (_t, ref) => {
        if (ref.number === 1) throw new Error('api error');
        return makeStatus();
      },
    });
    const { worker, clock, memory, store, published } = setup({ provider });
    await seed(memory, clock, CHAT_1, { url: 'https://github.com/o/r/pull/1' });
    await seed(memory, clock, CHAT_2, { url: 'https://github.com/o/r/pull/2' });
    worker.start();
    await runTick(clock);
    expect(store.callsOf('backoffChatDiffStatus')).toEqual([[{ chat_id: CHAT_1, stale_at: new Date(clock.nowMs() + DIFF_STATUS_TTL_MS) }, expect.any(AbortSignal)]]);
    expect(store.callsOf('upsertChatDiffStatus').map((a) => (a[0] as { chat_id: string }).chat_id)).toEqual([CHAT_2]);
    expect(published.map((p) => p.chatId)).toEqual([CHAT_2]);
  });

  it('backs off a rate-limited row by the TTL, not by its retry-after (as upstream)', async () => {
    const provider = createFakeProvider({
      status: async () => {
        throw new GitSyncError('RATE_LIMITED', 'rate limited', { retryAfter: new Date(Date.UTC(2027, 0, 1)) });
      },
    });
    const { worker, clock, memory } = setup({ provider });
    await seed(memory, clock, CHAT_1);
    await seed(memory, clock, CHAT_2);
    worker.start();
    await runTick(clock);
    expect(memory.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(clock.nowMs() + DIFF_STATUS_TTL_MS);
    expect(memory.getChatDiffStatus(CHAT_2)?.stale_at.getTime()).toBe(clock.nowMs() + DIFF_STATUS_TTL_MS);
  });

  it('backs off NO_TOKEN_BACKOFF_MS without a token and retries exactly then (NoTokenBackoff)', async () => {
    const { worker, clock, memory, store, provider } = setup({ tokens: () => '' });
    await seed(memory, clock, CHAT_1);
    worker.start();
    await runTick(clock);
    const firstTick = clock.nowMs();
    expect(memory.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(firstTick + NO_TOKEN_BACKOFF_MS);
    expect(provider.resolveCalls).toHaveLength(0);
    // Ticks fall on whole intervals, so one lands exactly on the boundary.
    const acquiredAt: number[] = [];
    while (clock.nowMs() < firstTick + NO_TOKEN_BACKOFF_MS) {
      const before = store.callsOf('backoffChatDiffStatus').length;
      await runTick(clock);
      if (store.callsOf('backoffChatDiffStatus').length > before) acquiredAt.push(clock.nowMs() - firstTick);
    }
    expect(acquiredAt).toEqual([NO_TOKEN_BACKOFF_MS]);
  });

  it('backs off NO_TOKEN_BACKOFF_MS when the resolver rejects with an error wrapping ErrNoTokenAvailable', async () => {
    const { ErrNoTokenAvailable } = await import('../src/index.js');
    const { worker, clock, memory } = setup({
      tokens: () => {
        throw new GitSyncError('NO_TOKEN_AVAILABLE', 'no link for github', { cause: ErrNoTokenAvailable });
      },
    });
    await seed(memory, clock, CHAT_1);
    worker.start();
    await runTick(clock);
    expect(memory.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(clock.nowMs() + NO_TOKEN_BACKOFF_MS);
  });

  it('makes a TTL-backed-off row eligible again exactly TTL later', async () => {
    const provider = createFakeProvider({
      status: async () => {
        throw new Error('api error');
      },
    });
    const { worker, clock, memory } = setup({ provider });
    await seed(memory, clock, CHAT_1);
    worker.start();
    await runTick(clock);
    const failedAt = clock.nowMs();
    while (clock.nowMs() < failedAt + DIFF_STATUS_TTL_MS - DEFAULT_INTERVAL_MS) await runTick(clock);
    expect(provider.statusCalls).toHaveLength(1);
    await runTick(clock);
    expect(clock.nowMs() - failedAt).toBe(DIFF_STATUS_TTL_MS);
    expect(provider.statusCalls).toHaveLength(2);
  });

  it('continues with the next row when an upsert fails (UpsertError_ContinuesNextRow)', async () => {
    const { worker, clock, memory, store, published } = setup();
    await seed(memory, clock, CHAT_1);
    await seed(memory, clock, CHAT_2);
    store.failWhen('upsertChatDiffStatus', (a) => (a[0] as { chat_id: string }).chat_id === CHAT_1);
    worker.start();
    await runTick(clock);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(2);
    expect(published.map((p) => p.chatId)).toEqual([CHAT_2]);
    expect(memory.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(clock.nowMs() + ACQUISITION_LOCK_MS);
  });

  it('ends the tick on an acquire error and keeps ticking (TickStoreError)', async () => {
    const { worker, clock, memory, store, tokenCalls } = setup();
    await seed(memory, clock, CHAT_1);
    let fail = true;
    store.failWhen('acquireStaleChatDiffStatuses', () => fail);
    worker.start();
    await runTick(clock);
    expect(store.calls.map((c) => c.method)).toEqual(['acquireStaleChatDiffStatuses']);
    expect(tokenCalls).toHaveLength(0);
    fail = false;
    await runTick(clock);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(1);
  });

  it('skips per-row handling when the refresher rejects, and keeps ticking', async () => {
    let calls = 0;
    const refresher: Refresher = {
      async refresh() {
        calls++;
        throw new Error('catastrophe');
      },
    };
    const { worker, clock, memory, store } = setup({ refresher });
    await seed(memory, clock, CHAT_1);
    worker.start();
    await runTick(clock);
    expect(calls).toBe(1);
    expect(store.calls.map((c) => c.method)).toEqual(['acquireStaleChatDiffStatuses']);
    expect(clock.pendingTimers().map((t) => t.tag)).toEqual([WORKER_TICK_TAG]);
  });

  it('ignores publish failures', async () => {
    let n = 0;
    const { worker, clock, memory, store } = setup({
      publish: () => {
        n++;
        if (n === 1) throw new Error('sync publish failure');
        return Promise.reject(new Error('async publish failure'));
      },
    });
    await seed(memory, clock, CHAT_1);
    await seed(memory, clock, CHAT_2);
    worker.start();
    await runTick(clock);
    expect(n).toBe(2);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(2);
  });

  it('logs write failures as warnings and publish failures at debug level only', async () => {
    const logs: Array<[string, string]> = [];
    const logger = {
      debug: (_o: object, m?: string) => void logs.push(['debug', m ?? '']),
      info: (_o: object, m?: string) => void logs.push(['info', m ?? '']),
      warn: (_o: object, m?: string) => void logs.push(['warn', m ?? '']),
      error: (_o: object, m?: string) => void logs.push(['error', m ?? '']),
    };
    const { worker, clock, memory, store } = setup({
      publish: () => {
        throw new Error('bus down');
      },
      options: { logger },
    });
    await seed(memory, clock, CHAT_1);
    await seed(memory, clock, CHAT_2);
    store.failWhen('upsertChatDiffStatus', (a) => (a[0] as { chat_id: string }).chat_id === CHAT_1);
    worker.start();
    await runTick(clock);
    expect(logs).toEqual([
      ['warn', 'gitsync: upsert chat diff status failed'],
      ['debug', 'gitsync: publish diff status change failed'],
    ]);
  });

  it('aborts a tick at the tick timeout; its rows keep the claim and the next tick runs', async () => {
    const provider = createFakeProvider({ status: (_t, _r, signal) => untilAborted(signal) });
    const { worker, clock, memory, store } = setup({ provider });
    await seed(memory, clock, CHAT_1);
    worker.start();
    const due = await clock.waitForTimer({ tag: WORKER_TICK_TAG });
    await clock.advance(due.delayMs);
    const deadline = await clock.waitForTimer({ tag: WORKER_TICK_TIMEOUT_TAG });
    expect(deadline.delayMs).toBe(DEFAULT_TICK_TIMEOUT_MS);
    while (provider.statusCalls.length === 0) await flush();
    const tickStart = clock.nowMs();
    // Ticks never overlap: while this one runs, no tick timer is armed.
    expect(clock.pendingTimers().map((t) => t.tag)).toEqual([WORKER_TICK_TIMEOUT_TAG]);
    const trap = clock.trap({ tag: WORKER_TICK_TAG });
    await clock.advance(DEFAULT_TICK_TIMEOUT_MS - 1);
    expect(provider.statusCalls[0]?.signal?.aborted).toBe(false);
    await clock.advance(1);
    await trap.wait();
    trap.close();
    const signal = provider.statusCalls[0]?.signal;
    expect(signal?.aborted).toBe(true);
    expect(hasErrorCode(signal?.reason, 'TIMEOUT')).toBe(true);
    expect(store.callsOf('backoffChatDiffStatus')).toHaveLength(0);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(0);
    expect(memory.getChatDiffStatus(CHAT_1)?.stale_at.getTime()).toBe(tickStart + ACQUISITION_LOCK_MS);
    expect(clock.pendingTimers().map((t) => t.tag)).toEqual([WORKER_TICK_TAG]);
    await runTick(clock);
    expect(store.callsOf('acquireStaleChatDiffStatuses')).toHaveLength(2);
  });

  it('ends a tick at the deadline even when a provider ignores the abort signal', async () => {
    const provider = createFakeProvider({ status: () => new Promise(() => undefined) });
    const { worker, clock, memory, store } = setup({ provider, options: { tickTimeoutMs: 1000 } });
    await seed(memory, clock, CHAT_1);
    worker.start();
    await clock.advance(DEFAULT_INTERVAL_MS);
    while (provider.statusCalls.length === 0) await flush();
    const trap = clock.trap({ tag: WORKER_TICK_TAG });
    await clock.advance(1000);
    await trap.wait();
    trap.close();
    expect(store.callsOf('backoffChatDiffStatus')).toHaveLength(0);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(0);
    await worker.stop();
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('honours the interval and tick timeout options', async () => {
    const provider = createFakeProvider({ status: (_t, _r, signal) => untilAborted(signal) });
    const { worker, clock, memory } = setup({ provider, options: { intervalMs: 1000, tickTimeoutMs: 5000 } });
    await seed(memory, clock, CHAT_1);
    worker.start();
    expect((await clock.waitForTimer({ tag: WORKER_TICK_TAG })).delayMs).toBe(1000);
    await clock.advance(1000);
    expect((await clock.waitForTimer({ tag: WORKER_TICK_TIMEOUT_TAG })).delayMs).toBe(5000);
  });

  it('runs a full refresh of a reference row (TestWorker)', async () => {
    const provider = createFakeProvider({ resolve: async (_t, ref) => ({ owner: ref.owner, repo: ref.repo, number: 1 }), status: async () => makeStatus({ diffStats: { additions: 10, deletions: 3, changedFiles: 2 } }) });
    const { worker, clock, memory, published } = setup({ provider });
    await seed(memory, clock, CHAT_1);
    worker.start();
    await runTick(clock);
    const row = memory.getChatDiffStatus(CHAT_1)!;
    expect(row).toMatchObject({ url: 'https://github.com/o/r/pull/1', pull_request_state: 'open', additions: 10, deletions: 3, changed_files: 2, git_branch: 'feat', git_remote_origin: ORIGIN });
    expect(row.refreshed_at?.getTime()).toBe(clock.nowMs());
    expect(row.stale_at.getTime()).toBe(clock.nowMs() + DIFF_STATUS_TTL_MS);
    expect(published).toHaveLength(1);
  });
});

describe('worker lifecycle', () => {
  it('stops cleanly: done resolves and no timer is left (RespectsShutdown)', async () => {
    const { worker, clock, memory, store } = setup();
    await seed(memory, clock, CHAT_1);
    worker.start();
    await runTick(clock);
    await worker.stop();
    await worker.done();
    expect(clock.pendingTimers()).toEqual([]);
    const calls = store.calls.length;
    await clock.advance(10 * DEFAULT_INTERVAL_MS);
    expect(store.calls).toHaveLength(calls);
  });

  it('stopping during a tick aborts its provider calls, writes nothing and leaves no timer', async () => {
    const provider = createFakeProvider({ status: (_t, _r, signal) => untilAborted(signal) });
    const { worker, clock, memory, store } = setup({ provider });
    await seed(memory, clock, CHAT_1);
    worker.start();
    await clock.advance(DEFAULT_INTERVAL_MS);
    while (provider.statusCalls.length === 0) await flush();
    await worker.stop();
    await worker.done();
    expect(hasErrorCode(provider.statusCalls[0]?.signal?.reason, 'ABORTED')).toBe(true);
    expect(store.callsOf('backoffChatDiffStatus')).toHaveLength(0);
    expect(store.callsOf('upsertChatDiffStatus')).toHaveLength(0);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('stops when the start signal aborts', async () => {
    const { worker, clock } = setup();
    const controller = new AbortController();
    worker.start(controller.signal);
    controller.abort();
    await worker.done();
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('ignores a second start and resolves done when stopped before starting', async () => {
    const first = setup();
    first.worker.start();
    first.worker.start();
    expect(first.clock.pendingTimers()).toHaveLength(1);
    const second = setup();
    await second.worker.stop();
    await second.worker.done();
    second.worker.start();
    expect(second.clock.pendingTimers()).toEqual([]);
  });
});

describe('worker.markStale', () => {
  it('marks and publishes every chat of the workspace (MarkStale_UpsertAndPublish)', async () => {
    const { worker, clock, store, published } = setup();
    await worker.markStale({ workspaceId: WORKSPACE_1, branch: 'feat', origin: ORIGIN });
    expect(store.callsOf('getChatsByWorkspaceIds')).toEqual([[[WORKSPACE_1]]]);
    const upserts = store.callsOf('upsertChatDiffStatusReference').map((a) => a[0]);
    expect(upserts).toEqual(
      [CHAT_1, CHAT_2].map((chat_id) => ({ chat_id, url: null, git_branch: 'feat', git_remote_origin: ORIGIN, stale_at: new Date(clock.nowMs() - MARK_STALE_OFFSET_MS) })).sort((a, b) => (a.chat_id < b.chat_id ? -1 : 1)),
    );
    expect(published.map((p) => p.chatId).sort()).toEqual([CHAT_1, CHAT_2]);
    expect(published[0]?.status.url).toBeUndefined();
  });

  it('keeps a known PR URL and makes the row acquirable at once', async () => {
    const { worker, clock, memory } = setup();
    await seed(memory, clock, CHAT_1, { url: 'https://github.com/o/r/pull/4' });
    await memory.backoffChatDiffStatus({ chat_id: CHAT_1, stale_at: new Date(clock.nowMs() + 3_600_000) });
    await worker.markStale({ workspaceId: WORKSPACE_1, chatId: CHAT_1, branch: 'feat2', origin: ORIGIN });
    const row = memory.getChatDiffStatus(CHAT_1)!;
    expect(row).toMatchObject({ url: 'https://github.com/o/r/pull/4', git_branch: 'feat2' });
    expect(row.updated_at.getTime()).toBe(clock.nowMs());
    expect((await memory.acquireStaleChatDiffStatuses(10)).map((r) => r.chat_id)).toEqual([CHAT_1]);
  });

  it('strips credentials from the origin before storing it', async () => {
    const { worker, memory } = setup();
    await worker.markStale({ workspaceId: WORKSPACE_1, chatId: CHAT_1, branch: 'feat', origin: 'https://x-access-token:ghp_secret@github.com/o/r.git' });
    expect(memory.getChatDiffStatus(CHAT_1)?.git_remote_origin).toBe('https://github.com/o/r.git');
  });

  it('does nothing when the workspace has no chats (MarkStale_NoMatchingChats)', async () => {
    const { worker, store, published } = setup();
    await worker.markStale({ workspaceId: '20000000-0000-4000-8000-000000000099', branch: 'feat', origin: ORIGIN });
    expect(store.callsOf('upsertChatDiffStatusReference')).toHaveLength(0);
    expect(published).toHaveLength(0);
  });

  it('continues after one chat fails (MarkStale_UpsertFails_ContinuesNext)', async () => {
    const { worker, store, published } = setup();
    store.failWhen('upsertChatDiffStatusReference', (a) => (a[0] as { chat_id: string }).chat_id === CHAT_1);
    await worker.markStale({ workspaceId: WORKSPACE_1, branch: 'feat', origin: ORIGIN });
    expect(store.callsOf('upsertChatDiffStatusReference')).toHaveLength(2);
    expect(published.map((p) => p.chatId)).toEqual([CHAT_2]);
  });

  it('returns quietly when listing chats fails (MarkStale_GetChatsByWorkspaceIDsFails)', async () => {
    const { worker, store } = setup();
    store.failWhen('getChatsByWorkspaceIds', () => true);
    await expect(worker.markStale({ workspaceId: WORKSPACE_1, branch: 'feat', origin: ORIGIN })).resolves.toBeUndefined();
    expect(store.callsOf('upsertChatDiffStatusReference')).toHaveLength(0);
  });

  it.each([
    ['both empty', '', ''],
    ['branch empty', '', ORIGIN],
    ['origin empty', 'feat', ''],
  ])('makes no store call when %s (MarkStale_EmptyBranchOrOrigin)', async (_name, branch, origin) => {
    const { worker, store, published } = setup();
    await worker.markStale({ workspaceId: WORKSPACE_1, chatId: CHAT_1, branch, origin });
    await worker.markStale({ workspaceId: WORKSPACE_1, branch, origin });
    expect(store.calls).toHaveLength(0);
    expect(published).toHaveLength(0);
  });

  it('marks only the given chat without listing (MarkStale_WithChatID)', async () => {
    const { worker, store, published } = setup();
    await worker.markStale({ workspaceId: WORKSPACE_2, chatId: CHAT_1, branch: 'feat', origin: ORIGIN });
    expect(store.callsOf('getChatsByWorkspaceIds')).toHaveLength(0);
    expect(store.callsOf('upsertChatDiffStatusReference').map((a) => (a[0] as { chat_id: string }).chat_id)).toEqual([CHAT_1]);
    expect(published.map((p) => p.chatId)).toEqual([CHAT_1]);
  });

  it('broadcasts when chatId is null (MarkStale_NilChatID_Broadcasts)', async () => {
    const { worker, store, published } = setup();
    await worker.markStale({ workspaceId: WORKSPACE_2, chatId: null, branch: 'feat', origin: ORIGIN });
    expect(store.callsOf('getChatsByWorkspaceIds')).toEqual([[[WORKSPACE_2]]]);
    expect(published.map((p) => p.chatId)).toEqual([CHAT_3]);
  });
});

describe('worker.refreshChat', () => {
  it('upserts, publishes and returns the stored row (RefreshChat_Success)', async () => {
    const { worker, clock, memory, store, published } = setup();
    await seed(memory, clock, CHAT_1);
    const row = memory.getChatDiffStatus(CHAT_1)!;
    const updated = await worker.refreshChat(row, OWNER_1);
    expect(store.callsOf('upsertChatDiffStatus').map((a) => (a[0] as { chat_id: string }).chat_id)).toEqual([CHAT_1]);
    expect(updated).toEqual(memory.getChatDiffStatus(CHAT_1));
    expect(updated?.url).toBe('https://github.com/o/r/pull/7');
    expect(published.map((p) => p.chatId)).toEqual([CHAT_1]);
    expect(store.callsOf('acquireStaleChatDiffStatuses')).toHaveLength(0);
    expect(store.callsOf('backoffChatDiffStatus')).toHaveLength(0);
  });

  it('returns null without writing when there is no PR (RefreshChat_NoPR)', async () => {
    const { worker, clock, memory, store, published } = setup({ provider: createFakeProvider({ resolve: async () => null }) });
    await seed(memory, clock, CHAT_1);
    expect(await worker.refreshChat(memory.getChatDiffStatus(CHAT_1)!, OWNER_1)).toBeNull();
    expect(store.calls).toHaveLength(0);
    expect(published).toHaveLength(0);
  });

  it('rejects with the refresh error and writes nothing (RefreshChat_RefreshError)', async () => {
    const { worker, clock, memory, store } = setup();
    await seed(memory, clock, CHAT_1);
    const row = { ...memory.getChatDiffStatus(CHAT_1)!, git_remote_origin: 'https://example.com/a/b' };
    const err: unknown = await worker.refreshChat(row, OWNER_1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitSyncError);
    expect((err as Error).message).toBe('refresh chat diff status: no provider for origin "https://example.com/a/b"');
    expect(hasErrorCode(err, 'NO_PROVIDER')).toBe(true);
    expect(store.calls).toHaveLength(0);
  });

  it('rejects with the upsert error and does not publish (RefreshChat_UpsertError)', async () => {
    const { worker, clock, memory, store, published } = setup();
    await seed(memory, clock, CHAT_1);
    store.failWhen('upsertChatDiffStatus', () => true, new Error('db down'));
    await expect(worker.refreshChat(memory.getChatDiffStatus(CHAT_1)!, OWNER_1)).rejects.toThrow('upsert chat diff status: db down');
    expect(published).toHaveLength(0);
  });
});
