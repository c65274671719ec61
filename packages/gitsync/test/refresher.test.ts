import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import {
  createProviderResolver,
  createRefresher,
  DEFAULT_CONCURRENCY,
  DIFF_STATUS_TTL_MS,
  ErrNoTokenAvailable,
  findRateLimitError,
  GitSyncError,
  hasErrorCode,
  type RefreshRequest,
  type TokenResolver,
} from '../src/index.js';
import { CHAT_1, CHAT_2, CHAT_3, createFakeProvider, deferred, flush, makeRow, makeStatus, OWNER_1, OWNER_2, untilAborted } from './helpers.js';

const rateLimited = () =>
  new GitSyncError('RATE_LIMITED', 'rate limited until 2026-01-01T00:10:00.000Z', { retryAfter: new Date(Date.UTC(2026, 0, 1, 0, 10)), status: 429 });

function setup(options: { provider?: ReturnType<typeof createFakeProvider>; tokens?: TokenResolver; concurrency?: number } = {}) {
  const clock = createMockClock();
  const provider = options.provider ?? createFakeProvider();
  const tokenCalls: Array<{ ownerId: string; origin: string }> = [];
  const tokens: TokenResolver = options.tokens ?? (() => 'tok');
  const refresher = createRefresher({
    providers: createProviderResolver([provider]),
    tokens: (ownerId, origin, opts) => {
      tokenCalls.push({ ownerId, origin });
      return tokens(ownerId, origin, opts);
    },
    clock,
    concurrency: options.concurrency,
  });
  return { clock, provider, refresher, tokenCalls };
}

const req = (overrides: Parameters<typeof makeRow>[0] = {}, ownerId = OWNER_1): RefreshRequest => ({ row: makeRow(overrides), ownerId });

describe('createRefresher', () => {
  it('refreshes a row with a PR URL without resolving the branch (WithPRURL)', async () => {
    const { refresher, provider, clock } = setup();
    const [result] = await refresher.refresh([req({ url: 'https://github.com/o/r/pull/3' })]);
    expect(result?.error).toBeUndefined();
    expect(result?.params).toMatchObject({ chat_id: CHAT_1, url: 'https://github.com/o/r/pull/3', pull_request_state: 'open', additions: 10, deletions: 5, changed_files: 3 });
    expect(result!.params!.stale_at.getTime() - result!.params!.refreshed_at.getTime()).toBe(DIFF_STATUS_TTL_MS);
    expect(result!.params!.refreshed_at.getTime()).toBe(clock.nowMs());
    expect(provider.resolveCalls).toHaveLength(0);
    expect(provider.statusCalls.map((c) => c.ref)).toEqual([{ owner: 'o', repo: 'r', number: 3 }]);
    expect(provider.statusCalls[0]?.token).toBe('tok');
  });

  it('resolves a branch to its PR and builds the URL (BranchResolvesToPR)', async () => {
    const { refresher, provider } = setup();
    const [result] = await refresher.refresh([req()]);
    expect(provider.resolveCalls.map((c) => c.ref)).toEqual([{ owner: 'o', repo: 'r', branch: 'feat' }]);
    expect(result?.params?.url).toBe('https://github.com/o/r/pull/7');
    expect(result?.params?.pull_request_state).toBe('open');
  });

  it('gives neither params nor error when the branch has no PR yet (BranchNoPRYet)', async () => {
    const provider = createFakeProvider({ resolve: async () => null });
    const { refresher } = setup({ provider });
    const [result] = await refresher.refresh([req()]);
    expect(result).toEqual({ request: expect.anything() });
    expect(result?.params).toBeUndefined();
    expect(result?.error).toBeUndefined();
    expect(provider.statusCalls).toHaveLength(0);
  });

  it('fails every row of an origin no provider handles (NoProviderForOrigin)', async () => {
    const { refresher, tokenCalls } = setup();
    const results = await refresher.refresh([req({ git_remote_origin: 'https://gitlab.com/o/r' }), req({ chat_id: CHAT_2, git_remote_origin: 'https://gitlab.com/o/r' })]);
    for (const r of results) {
      expect(r.error?.message).toContain('no provider');
      expect(hasErrorCode(r.error, 'NO_PROVIDER')).toBe(true);
    }
    expect(tokenCalls).toHaveLength(0);
  });

  it('reports a throwing token resolver without calling the provider (TokenResolutionFails)', async () => {
    const { refresher, provider } = setup({
      tokens: () => {
        throw new Error('vault down');
      },
    });
    const [result] = await refresher.refresh([req()]);
    expect(result?.error?.message).toBe('resolve token: vault down');
    expect(hasErrorCode(result?.error, 'TOKEN_RESOLUTION_FAILED')).toBe(true);
    expect(hasErrorCode(result?.error, 'NO_TOKEN_AVAILABLE')).toBe(false);
    expect(provider.resolveCalls).toHaveLength(0);
    expect(provider.statusCalls).toHaveLength(0);
  });

  it('keeps ErrNoTokenAvailable findable when the resolver rejects with it', async () => {
    const { refresher } = setup({ tokens: async () => Promise.reject(ErrNoTokenAvailable) });
    const [result] = await refresher.refresh([req()]);
    expect(hasErrorCode(result?.error, 'NO_TOKEN_AVAILABLE')).toBe(true);
    expect(result?.error?.cause).toBe(ErrNoTokenAvailable);
  });

  it.each([
    ['empty', ''],
    ['null', null],
  ])('turns an %s token into ErrNoTokenAvailable and leaves the provider alone (EmptyToken)', async (_name, token) => {
    const { refresher, provider } = setup({ tokens: () => token });
    const [result] = await refresher.refresh([req()]);
    expect(result?.error).toBe(ErrNoTokenAvailable);
    expect(provider.resolveCalls).toHaveLength(0);
    expect(provider.statusCalls).toHaveLength(0);
  });

  it('surfaces a provider fetch failure as a row error (ProviderFetchFails)', async () => {
    const provider = createFakeProvider({
      status: async () => {
        throw new Error('api error');
      },
    });
    const { refresher } = setup({ provider });
    const [result] = await refresher.refresh([req()]);
    expect(result?.params).toBeUndefined();
    expect(result?.error?.message).toBe('fetch pull request status: api error');
  });

  it('wraps a branch resolution failure', async () => {
    const provider = createFakeProvider({
      resolve: async () => {
        throw new GitSyncError('HTTP_ERROR', 'github request failed with status 500: boom', { status: 500 });
      },
    });
    const { refresher } = setup({ provider });
    const [result] = await refresher.refresh([req()]);
    expect(result?.error?.message).toBe('resolve branch pull request: github request failed with status 500: boom');
    expect(hasErrorCode(result?.error, 'HTTP_ERROR')).toBe(true);
  });

  it('fails a row whose stored PR URL does not parse (PRURLParseFailure)', async () => {
    const { refresher, provider } = setup();
    const [result] = await refresher.refresh([req({ url: 'https://github.com/o/r/issues/3' })]);
    expect(result?.error?.message).toBe('parse pull request URL "https://github.com/o/r/issues/3"');
    expect(hasErrorCode(result?.error, 'INVALID_PR_URL')).toBe(true);
    expect(provider.statusCalls).toHaveLength(0);
  });

  it('fails a row whose origin the provider cannot split into owner and repo', async () => {
    const provider = createFakeProvider();
    const refresher = createRefresher({ providers: () => provider, tokens: () => 'tok', clock: createMockClock() });
    const [result] = await refresher.refresh([req({ git_remote_origin: 'not-a-url' })]);
    expect(result?.error?.message).toBe('parse repository origin "not-a-url"');
    expect(hasErrorCode(result?.error, 'INVALID_ORIGIN')).toBe(true);
  });

  it('resolves tokens once per (owner, origin) group (BatchGroupsByOwnerAndOrigin)', async () => {
    const { refresher, tokenCalls } = setup();
    const results = await refresher.refresh([req({ chat_id: CHAT_1 }), req({ chat_id: CHAT_2 }), req({ chat_id: CHAT_3 }, OWNER_2)]);
    expect(tokenCalls).toEqual([
      { ownerId: OWNER_1, origin: 'https://github.com/o/r.git' },
      { ownerId: OWNER_2, origin: 'https://github.com/o/r.git' },
    ]);
    expect(results.every((r) => r.params !== undefined && r.error === undefined)).toBe(true);
  });

  it('treats the same repository spelled two ways as two groups (origins are raw)', async () => {
    const { refresher, tokenCalls } = setup();
    await refresher.refresh([req({ git_remote_origin: 'https://github.com/o/r' }), req({ chat_id: CHAT_2, git_remote_origin: 'git@github.com:o/r.git' })]);
    expect(tokenCalls).toHaveLength(2);
  });

  it('stamps refreshed_at and stale_at from the injected clock (UsesInjectedClock)', async () => {
    const { refresher, clock } = setup();
    await clock.advance(12_345);
    const [result] = await refresher.refresh([req()]);
    expect(result?.params?.refreshed_at.getTime()).toBe(clock.nowMs());
    expect(result?.params?.stale_at.getTime()).toBe(clock.nowMs() + DIFF_STATUS_TTL_MS);
  });

  it('maps empty status strings to null and keeps numbers (params shape)', async () => {
    const provider = createFakeProvider({
      status: async () => makeStatus({ state: '', authorLogin: '', authorAvatarUrl: '', baseBranch: '', headBranch: '', prNumber: 0, commits: 0, approved: false, reviewerCount: 0 }),
    });
    const { refresher } = setup({ provider });
    const [result] = await refresher.refresh([req()]);
    expect(result?.params).toMatchObject({
      pull_request_state: null,
      author_login: null,
      author_avatar_url: null,
      base_branch: null,
      head_branch: null,
      pr_number: 0,
      commits: 0,
      approved: false,
      reviewer_count: 0,
    });
  });

  it('skips the rest of a group after a rate limit (RateLimitSkipsRemainingInGroup)', async () => {
    const provider = createFakeProvider({
      status: async () => {
        throw rateLimited();
      },
    });
    const { refresher } = setup({ provider, concurrency: 1 });
    const results = await refresher.refresh([req({ chat_id: CHAT_1 }), req({ chat_id: CHAT_2 }), req({ chat_id: CHAT_3 })]);
    expect(provider.statusCalls).toHaveLength(1);
    expect(hasErrorCode(results[0]?.error, 'RATE_LIMIT_SKIPPED')).toBe(false);
    expect(hasErrorCode(results[0]?.error, 'RATE_LIMITED')).toBe(true);
    for (const r of results.slice(1)) {
      expect(hasErrorCode(r.error, 'RATE_LIMIT_SKIPPED')).toBe(true);
      expect(r.error?.message).toBe('skipped due to rate limit: rate limited until 2026-01-01T00:10:00.000Z');
    }
    for (const r of results) expect(findRateLimitError(r.error)?.retryAfter?.toISOString()).toBe('2026-01-01T00:10:00.000Z');
  });

  it('does not let a rate limit in one group skip another group', async () => {
    const provider = createFakeProvider({
      status: async (token) => {
        if (token === 'tok-1') throw rateLimited();
        return makeStatus();
      },
    });
    const { refresher } = setup({ provider, concurrency: 1, tokens: (ownerId) => (ownerId === OWNER_1 ? 'tok-1' : 'tok-2') });
    const results = await refresher.refresh([req({ chat_id: CHAT_1 }), req({ chat_id: CHAT_2 }), req({ chat_id: CHAT_3 }, OWNER_2)]);
    expect(hasErrorCode(results[0]?.error, 'RATE_LIMITED')).toBe(true);
    expect(hasErrorCode(results[1]?.error, 'RATE_LIMIT_SKIPPED')).toBe(true);
    expect(results[2]?.error).toBeUndefined();
    expect(results[2]?.params).toBeDefined();
  });

  it('uses the token of each origin (CorrectTokenPerOrigin)', async () => {
    const publicProvider = createFakeProvider();
    const gheProvider = createFakeProvider({ webBaseUrl: 'https://ghes.corp.com' });
    const tokenCalls: string[] = [];
    const refresher = createRefresher({
      providers: createProviderResolver([publicProvider, gheProvider]),
      tokens: (_owner, origin) => {
        tokenCalls.push(origin);
        return origin.includes('ghes.corp.com') ? 'ghe-token' : 'public-token';
      },
      clock: createMockClock(),
    });
    const results = await refresher.refresh([
      req({ chat_id: CHAT_1, git_remote_origin: 'https://github.com/o/r' }),
      req({ chat_id: CHAT_2, git_remote_origin: 'https://github.com/o/r' }),
      req({ chat_id: CHAT_3, git_remote_origin: 'git@ghes.corp.com:org/repo.git' }),
    ]);
    expect(tokenCalls).toHaveLength(2);
    expect(publicProvider.statusCalls.map((c) => c.token)).toEqual(['public-token', 'public-token']);
    expect(gheProvider.statusCalls.map((c) => c.token)).toEqual(['ghe-token']);
    expect(results[2]?.params?.url).toBe('https://ghes.corp.com/org/repo/pull/7');
  });

  it('runs rows concurrently up to the bound (ConcurrentProcessing)', async () => {
    const gate = deferred();
    let entered = 0;
    const allInside = deferred();
    const provider = createFakeProvider({
      status: async () => {
        if (++entered === 3) allInside.resolve();
        await gate.promise;
        return makeStatus();
      },
    });
    const { refresher } = setup({ provider, concurrency: 3 });
    const pending = refresher.refresh([req({ chat_id: CHAT_1 }), req({ chat_id: CHAT_2 }), req({ chat_id: CHAT_3 })]);
    await allInside.promise;
    expect(provider.inFlight).toBe(3);
    gate.resolve();
    const results = await pending;
    expect(results.every((r) => r.params !== undefined)).toBe(true);
  });

  it.each([
    ['an explicit bound of 4', 4, 4],
    ['the default bound', undefined, DEFAULT_CONCURRENCY],
    ['a non-positive option (falls back to the default)', 0, DEFAULT_CONCURRENCY],
  ])('never has more calls in flight than %s, shared by all groups', async (_name, concurrency, expected) => {
    const waiting: Array<() => void> = [];
    const provider = createFakeProvider({
      status: () =>
        new Promise((resolve) => {
          waiting.push(() => resolve(makeStatus()));
        }),
    });
    const { refresher } = setup({ provider, concurrency, tokens: () => 'tok' });
    const requests = Array.from({ length: 30 }, (_, i) => req({ chat_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` }, i % 2 ? OWNER_1 : OWNER_2));
    const pending = refresher.refresh(requests);
    let released = 0;
    while (released < requests.length) {
      await flush();
      expect(provider.inFlight).toBeLessThanOrEqual(expected);
      const next = waiting.shift();
      if (!next) continue;
      next();
      released++;
    }
    const results = await pending;
    expect(provider.maxInFlight).toBe(expected);
    expect(results.filter((r) => r.params)).toHaveLength(30);
  });

  it('returns one result per request in input order, whatever order calls finish in', async () => {
    const gates = new Map<number, ReturnType<typeof deferred<void>>>();
    const provider = createFakeProvider({
      status: async (_t, ref) => {
        const d = deferred();
        gates.set(ref.number, d);
        await d.promise;
        return makeStatus({ prNumber: ref.number });
      },
    });
    const { refresher } = setup({ provider });
    const urls = [1, 2, 3, 4].map((n) => `https://github.com/o/r/pull/${n}`);
    const requests = urls.map((url, i) => req({ chat_id: `c${i}`, url }));
    // One row of a second origin with no provider sits in the middle.
    requests.splice(2, 0, req({ chat_id: 'nope', git_remote_origin: 'https://example.com/x/y' }));
    const pending = refresher.refresh(requests);
    while (gates.size < 4) await flush();
    for (const n of [4, 2, 3, 1]) {
      gates.get(n)!.resolve();
      await flush();
    }
    const results = await pending;
    expect(results.map((r) => r.request)).toEqual(requests);
    expect(results.map((r) => r.params?.pr_number ?? r.error?.message)).toEqual([1, 2, 'no provider for origin "https://example.com/x/y"', 3, 4]);
  });

  it('gives rows still waiting for a slot the abort reason when the signal aborts', async () => {
    const provider = createFakeProvider({ status: (_t, _r, signal) => untilAborted(signal) });
    const { refresher } = setup({ provider, concurrency: 1 });
    const controller = new AbortController();
    const pending = refresher.refresh([req({ chat_id: CHAT_1 }), req({ chat_id: CHAT_2 })], { signal: controller.signal });
    while (provider.statusCalls.length < 1) await flush();
    const reason = new GitSyncError('TIMEOUT', 'tick timed out');
    controller.abort(reason);
    const results = await pending;
    expect(provider.statusCalls).toHaveLength(1);
    expect(provider.statusCalls[0]?.signal?.aborted).toBe(true);
    expect(results[0]?.error?.message).toBe('fetch pull request status: tick timed out');
    expect(hasErrorCode(results[0]?.error, 'TIMEOUT')).toBe(true);
    expect(results[1]?.error).toBe(reason);
  });

  it('fails every row when the signal is already aborted, without resolving tokens', async () => {
    const { refresher, tokenCalls } = setup();
    const controller = new AbortController();
    controller.abort(new GitSyncError('ABORTED', 'stopped'));
    const results = await refresher.refresh([req()], { signal: controller.signal });
    expect(hasErrorCode(results[0]?.error, 'ABORTED')).toBe(true);
    expect(tokenCalls).toHaveLength(0);
  });

  it('wraps a non-Error thrown by a provider', async () => {
    const provider = createFakeProvider({
      status: async () => {
        throw 'plain string';
      },
    });
    const { refresher } = setup({ provider });
    const [result] = await refresher.refresh([req()]);
    expect(result?.error).toBeInstanceOf(GitSyncError);
    expect(result?.error?.message).toBe('fetch pull request status: plain string');
  });

  it('returns an empty list for an empty batch', async () => {
    const { refresher, tokenCalls } = setup();
    expect(await refresher.refresh([])).toEqual([]);
    expect(tokenCalls).toHaveLength(0);
  });
});
