import { createMockClock } from '@chatd/clock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createEtagCache,
  createGitHubProvider,
  ERROR_BODY_LIMIT_BYTES,
  findRateLimitError,
  GITHUB_API_VERSION,
  GitSyncError,
  hasErrorCode,
  MAX_DIFF_SIZE_BYTES,
  RATE_LIMIT_PADDING_MS,
  type GitHubProviderOptions,
} from '../src/index.js';
import { pullJson, RATE_LIMIT, review, startFakeGitHub, type FakeGitHub } from './fake-github.js';

let gh: FakeGitHub;
beforeEach(async () => {
  gh = await startFakeGitHub();
});
afterEach(async () => {
  await gh.close();
});

const PULLS = '/api/v3/repos/o/r/pulls';
const PULL_1 = '/api/v3/repos/o/r/pulls/1';
const REVIEWS_1 = '/api/v3/repos/o/r/pulls/1/reviews';
const PR1 = { owner: 'o', repo: 'r', number: 1 };

function provider(options: Partial<GitHubProviderOptions> = {}) {
  const clock = createMockClock();
  return { clock, github: createGitHubProvider({ clock, apiBaseUrl: gh.apiBaseUrl, webBaseUrl: 'https://github.com', ...options }) };
}

const caught = (p: Promise<unknown>): Promise<unknown> => p.then(
  () => {
    throw new Error('expected a rejection');
  },
  (e: unknown) => e,
);

describe('resolveBranchPullRequest (TestResolveBranchPullRequest)', () => {
  it('finds the open PR of the branch with the documented query and headers', async () => {
    gh.route(PULLS, { json: [pullJson({ html_url: 'https://github.com/o/r/pull/42', number: 42 })] });
    const { github } = provider();
    expect(await github.resolveBranchPullRequest('tok', { owner: 'o', repo: 'r', branch: 'feat' })).toEqual({ owner: 'o', repo: 'r', number: 42 });
    const [req] = gh.requests;
    expect(req?.path).toBe(PULLS);
    expect(req?.rawQuery).toBe('direction=desc&head=o%3Afeat&per_page=1&sort=updated&state=open');
    expect(req?.headers).toMatchObject({
      accept: 'application/vnd.github+json',
      'x-github-api-version': GITHUB_API_VERSION,
      'user-agent': 'chatd-chat-diff-status',
      authorization: 'Bearer tok',
    });
  });

  it('returns null when no PR is open (NoneOpen)', async () => {
    gh.route(PULLS, { json: [] });
    expect(await provider().github.resolveBranchPullRequest('tok', { owner: 'o', repo: 'r', branch: 'feat' })).toBeNull();
  });

  it('returns null when the html_url is not a PR URL of this host (InvalidHTMLURL)', async () => {
    gh.route(PULLS, { json: [pullJson({ html_url: 'https://example.com/o/r/pull/1' })] });
    expect(await provider().github.resolveBranchPullRequest('tok', { owner: 'o', repo: 'r', branch: 'feat' })).toBeNull();
  });

  it('returns null without a request when a part is empty', async () => {
    const { github } = provider();
    expect(await github.resolveBranchPullRequest('tok', { owner: 'o', repo: 'r', branch: '' })).toBeNull();
    expect(await github.resolveBranchPullRequest('tok', { owner: '', repo: 'r', branch: 'b' })).toBeNull();
    expect(gh.requests).toHaveLength(0);
  });

  it('sends no Authorization header for an empty token', async () => {
    gh.route(PULLS, { json: [] });
    await provider().github.resolveBranchPullRequest('', { owner: 'o', repo: 'r', branch: 'feat' });
    expect(gh.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('works on a GitHub Enterprise base whose web host is derived from the API base', async () => {
    gh.route(PULLS, { json: [{ html_url: `${gh.url}/o/r/pull/5` }] });
    const github = createGitHubProvider({ clock: createMockClock(), apiBaseUrl: `${gh.apiBaseUrl}/` });
    expect(github.parseRepositoryOrigin(`${gh.url}/o/r.git`)?.normalizedUrl).toBe(`${gh.url}/o/r`);
    expect(await github.resolveBranchPullRequest('tok', { owner: 'o', repo: 'r', branch: 'feat' })).toEqual({ owner: 'o', repo: 'r', number: 5 });
  });
});

describe('fetchPullRequestStatus (TestFetchPullRequestStatus)', () => {
  const cases: Array<[string, Record<string, unknown>, unknown[], { state: string; draft?: boolean; changesRequested: boolean; approved: boolean; reviewerCount: number }]> = [
    ['OpenPR/NoReviews', {}, [], { state: 'open', changesRequested: false, approved: false, reviewerCount: 0 }],
    ['SingleChangesRequested', {}, [review(1, 'bob', 'CHANGES_REQUESTED')], { state: 'open', changesRequested: true, approved: false, reviewerCount: 1 }],
    ['ChangesRequestedThenApproved', {}, [review(1, 'bob', 'CHANGES_REQUESTED'), review(2, 'Bob', 'APPROVED')], { state: 'open', changesRequested: false, approved: true, reviewerCount: 1 }],
    ['ChangesRequestedThenDismissed', {}, [review(1, 'bob', 'CHANGES_REQUESTED'), review(2, 'bob', 'DISMISSED')], { state: 'open', changesRequested: false, approved: false, reviewerCount: 1 }],
    ['MultipleReviewersMixed', {}, [review(1, 'alice', 'APPROVED'), review(2, 'bob', 'CHANGES_REQUESTED')], { state: 'open', changesRequested: true, approved: false, reviewerCount: 2 }],
    ['CommentedDoesNotAffect', {}, [review(1, 'bob', 'COMMENTED'), review(2, 'carol', 'PENDING')], { state: 'open', changesRequested: false, approved: false, reviewerCount: 0 }],
    ['HighestIdWinsNotOrder', {}, [review(9, 'bob', 'CHANGES_REQUESTED'), review(3, 'bob', 'APPROVED')], { state: 'open', changesRequested: true, approved: false, reviewerCount: 1 }],
    ['MergedPR', { state: 'closed', merged: true }, [], { state: 'merged', changesRequested: false, approved: false, reviewerCount: 0 }],
    ['ClosedPR', { state: 'closed', merged: false }, [], { state: 'closed', changesRequested: false, approved: false, reviewerCount: 0 }],
    ['DraftPR', { draft: true }, [], { state: 'open', draft: true, changesRequested: false, approved: false, reviewerCount: 0 }],
  ];

  it.each(cases)('%s', async (_name, pull, reviews, expected) => {
    gh.route(PULL_1, { json: pullJson(pull) });
    gh.route(REVIEWS_1, { json: [...reviews, { id: 50, state: 'APPROVED', user: null }] });
    const { github, clock } = provider();
    const status = await github.fetchPullRequestStatus('tok', PR1);
    expect(status).toEqual({
      title: 'Add a feature',
      state: expected.state,
      draft: expected.draft ?? false,
      headSha: 'abc123',
      headBranch: 'feat',
      baseBranch: 'main',
      diffStats: { additions: 10, deletions: 5, changedFiles: 3 },
      changesRequested: expected.changesRequested,
      approved: expected.approved,
      reviewerCount: expected.reviewerCount,
      authorLogin: 'alice',
      authorAvatarUrl: 'https://avatars.example/alice',
      prNumber: 1,
      commits: 2,
      fetchedAt: clock.now(),
    });
    expect(gh.requests.map((r) => `${r.path}?${r.rawQuery}`)).toEqual([`${PULL_1}?`, `${REVIEWS_1}?per_page=100`]);
  });

  it('accepts a PR with no user and null draft/merged', async () => {
    gh.route(PULL_1, { json: pullJson({ user: null, draft: null, merged: null, base: undefined }) });
    gh.route(REVIEWS_1, { json: [] });
    const status = await provider().github.fetchPullRequestStatus('tok', PR1);
    expect(status).toMatchObject({ authorLogin: '', authorAvatarUrl: '', draft: false, state: 'open', baseBranch: '' });
  });
});

describe('rate limits (contract.md#provider-rate-limits)', () => {
  it('treats a 403 with a future reset as a rate limit until reset + padding (403WithResetHeader)', async () => {
    const { github, clock } = provider();
    const reset = clock.nowMs() / 1000 + 60;
    gh.route(PULL_1, { status: 403, json: { message: 'API rate limit exceeded' }, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) } });
    const err = await caught(github.fetchPullRequestStatus('tok', PR1));
    expect(hasErrorCode(err, 'RATE_LIMITED')).toBe(true);
    expect(findRateLimitError(err)?.retryAfter?.getTime()).toBe(reset * 1000 + RATE_LIMIT_PADDING_MS);
    expect((err as Error).message).toBe(`rate limited until ${new Date(reset * 1000 + RATE_LIMIT_PADDING_MS).toISOString()}`);
  });

  it('uses an integer Retry-After on a 429 (429WithRetryAfter)', async () => {
    const { github, clock } = provider();
    gh.route(PULLS, { status: 429, body: 'slow down', headers: { 'retry-after': '120' } });
    const err = await caught(github.resolveBranchPullRequest('tok', { owner: 'o', repo: 'r', branch: 'feat' }));
    expect(findRateLimitError(err)?.retryAfter?.getTime()).toBe(clock.nowMs() + 120_000 + RATE_LIMIT_PADDING_MS);
  });

  it('prefers Retry-After over the reset header (secondary rate limit on a 403)', async () => {
    const { github, clock } = provider();
    gh.route(PULL_1, { status: 403, json: { message: 'secondary rate limit' }, headers: { 'retry-after': '30', 'x-ratelimit-remaining': '4000', 'x-ratelimit-reset': String(clock.nowMs() / 1000 + 3600) } });
    const err = await caught(github.fetchPullRequestStatus('tok', PR1));
    expect(findRateLimitError(err)?.retryAfter?.getTime()).toBe(clock.nowMs() + 30_000 + RATE_LIMIT_PADDING_MS);
  });

  it('ignores an HTTP-date Retry-After and falls back to the reset header', async () => {
    const { github, clock } = provider();
    gh.route(PULL_1, { status: 429, body: '', headers: { 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT', 'x-ratelimit-reset': String(clock.nowMs() / 1000 + 10) } });
    const err = await caught(github.fetchPullRequestStatus('tok', PR1));
    expect(findRateLimitError(err)?.retryAfter?.getTime()).toBe(clock.nowMs() + 10_000 + RATE_LIMIT_PADDING_MS);
  });

  it.each([
    ['no headers (403NormalError)', 403, {}],
    ['a reset in the past', 403, { 'x-ratelimit-reset': '1700000000' }],
    ['only x-ratelimit-remaining: 0 (remaining is not read)', 429, { 'x-ratelimit-remaining': '0' }],
    ['an unparsable reset', 403, { 'x-ratelimit-reset': 'soon' }],
  ])('is an ordinary HTTP error with %s', async (_name, status, headers) => {
    gh.route(PULL_1, { status, json: { message: 'Bad credentials' }, headers });
    const err = await caught(provider().github.fetchPullRequestStatus('tok', PR1));
    expect(hasErrorCode(err, 'RATE_LIMITED')).toBe(false);
    expect(hasErrorCode(err, 'HTTP_ERROR')).toBe(true);
    expect((err as GitSyncError).status).toBe(status);
    expect((err as Error).message).toBe(`github request failed with status ${status}: {"message":"Bad credentials"}`);
  });

  it('reports rate limits on the diff endpoints too', async () => {
    gh.route(PULL_1, { status: 429, body: '', headers: { 'retry-after': '60' } });
    gh.route('/api/v3/repos/o/r', { json: { default_branch: 'main' } });
    gh.route('/api/v3/repos/o/r/compare/main...feat', { status: 429, body: '', headers: { 'retry-after': '60' } });
    const { github } = provider();
    expect(hasErrorCode(await caught(github.fetchPullRequestDiff('tok', PR1)), 'RATE_LIMITED')).toBe(true);
    expect(hasErrorCode(await caught(github.fetchBranchDiff('tok', { owner: 'o', repo: 'r', branch: 'feat' })), 'RATE_LIMITED')).toBe(true);
  });
});

describe('conditional requests (contract.md#conditional-requests)', () => {
  it('revalidates with If-None-Match and answers a 304 from the cache at no rate-limit cost', async () => {
    gh.route(PULL_1, { json: pullJson() });
    gh.route(REVIEWS_1, { json: [review(1, 'bob', 'APPROVED')] });
    const { github } = provider();
    const first = await github.fetchPullRequestStatus('tok', PR1);
    expect(gh.remaining).toBe(RATE_LIMIT - 2);
    const second = await github.fetchPullRequestStatus('tok', PR1);
    expect(second).toEqual(first);
    expect(gh.remaining).toBe(RATE_LIMIT - 2);
    expect(gh.requests.slice(2).every((r) => typeof r.headers['if-none-match'] === 'string')).toBe(true);
    expect(gh.requests.slice(0, 2).every((r) => r.headers['if-none-match'] === undefined)).toBe(true);
  });

  it('picks up changed data with a new ETag', async () => {
    let additions = 10;
    gh.route(PULL_1, () => ({ json: pullJson({ additions }) }));
    gh.route(REVIEWS_1, { json: [] });
    const { github } = provider();
    await github.fetchPullRequestStatus('tok', PR1);
    additions = 11;
    expect((await github.fetchPullRequestStatus('tok', PR1)).diffStats.additions).toBe(11);
    additions = 12;
    expect((await github.fetchPullRequestStatus('tok', PR1)).diffStats.additions).toBe(12);
  });

  it('never serves a cached body to another token', async () => {
    gh.route(PULLS, { json: [] });
    const { github } = provider();
    await github.resolveBranchPullRequest('tok-a', { owner: 'o', repo: 'r', branch: 'feat' });
    await github.resolveBranchPullRequest('tok-b', { owner: 'o', repo: 'r', branch: 'feat' });
    await github.resolveBranchPullRequest('tok-a', { owner: 'o', repo: 'r', branch: 'feat' });
    expect(gh.requests.map((r) => r.headers['if-none-match'] !== undefined)).toEqual([false, false, true]);
  });

  it('shares an injected cache and can be disabled', async () => {
    gh.route(PULLS, { json: [] });
    const cache = createEtagCache();
    const ref = { owner: 'o', repo: 'r', branch: 'feat' };
    await provider({ etagCache: cache }).github.resolveBranchPullRequest('tok', ref);
    await provider({ etagCache: cache }).github.resolveBranchPullRequest('tok', ref);
    expect(cache.size()).toBe(1);
    const { github } = provider({ etagCache: false });
    await github.resolveBranchPullRequest('tok', ref);
    await github.resolveBranchPullRequest('tok', ref);
    expect(gh.requests.map((r) => r.headers['if-none-match'] !== undefined)).toEqual([false, true, false, false]);
  });

  it('fails a 304 that has no cached entry', async () => {
    gh.route(PULL_1, { status: 304, etag: false });
    const err = await caught(provider().github.fetchPullRequestStatus('tok', PR1));
    expect(hasErrorCode(err, 'HTTP_ERROR')).toBe(true);
    expect((err as GitSyncError).status).toBe(304);
  });
});

describe('malformed and failed responses', () => {
  it('rejects a body that is not JSON with INVALID_RESPONSE', async () => {
    gh.route(PULL_1, { body: '{"title": "half', etag: '"x"' });
    const err = await caught(provider().github.fetchPullRequestStatus('tok', PR1));
    expect(hasErrorCode(err, 'INVALID_RESPONSE')).toBe(true);
    expect((err as Error).message).toMatch(/^decode github response: /);
  });

  it('rejects JSON of the wrong shape, naming the field, and does not cache it', async () => {
    gh.route(PULL_1, { json: pullJson({ additions: 'ten' }) });
    const { github } = provider();
    const err = await caught(github.fetchPullRequestStatus('tok', PR1));
    expect(hasErrorCode(err, 'INVALID_RESPONSE')).toBe(true);
    expect((err as Error).message).toContain('additions');
    await caught(github.fetchPullRequestStatus('tok', PR1));
    expect(gh.requests[1]?.headers['if-none-match']).toBeUndefined();
  });

  it.each([
    ['an object instead of a list', PULLS, { message: 'oops' }],
    ['a list item without html_url', PULLS, [{ number: 1 }]],
  ])('rejects %s', async (_name, path, json) => {
    gh.route(path, { json });
    const err = await caught(provider().github.resolveBranchPullRequest('tok', { owner: 'o', repo: 'r', branch: 'feat' }));
    expect(hasErrorCode(err, 'INVALID_RESPONSE')).toBe(true);
  });

  it('rejects a malformed reviews list', async () => {
    gh.route(PULL_1, { json: pullJson() });
    gh.route(REVIEWS_1, { json: [{ id: 'one', state: 'APPROVED' }] });
    expect(hasErrorCode(await caught(provider().github.fetchPullRequestStatus('tok', PR1)), 'INVALID_RESPONSE')).toBe(true);
  });

  it('caps the error body in the message', async () => {
    gh.route(PULL_1, { status: 500, body: 'x'.repeat(20_000) });
    const err = await caught(provider().github.fetchPullRequestStatus('tok', PR1));
    expect((err as Error).message).toBe(`github request failed with status 500: ${'x'.repeat(ERROR_BODY_LIMIT_BYTES)}`);
  });

  it('reports a 404 as an HTTP error', async () => {
    const err = await caught(provider().github.fetchPullRequestStatus('tok', { owner: 'o', repo: 'r', number: 99 }));
    expect((err as GitSyncError).status).toBe(404);
  });

  it('reports a refused connection as TRANSPORT_ERROR', async () => {
    const closed = await startFakeGitHub();
    await closed.close();
    const github = createGitHubProvider({ clock: createMockClock(), apiBaseUrl: closed.apiBaseUrl });
    const err = await caught(github.fetchPullRequestStatus('tok', PR1));
    expect(hasErrorCode(err, 'TRANSPORT_ERROR')).toBe(true);
    expect((err as Error).message).toMatch(/^execute github request: /);
  });

  it('uses the injected fetch', async () => {
    const seen: string[] = [];
    const fetchImpl: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response('[]', { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const github = createGitHubProvider({ clock: createMockClock(), fetch: fetchImpl });
    expect(await github.resolveBranchPullRequest('tok', { owner: 'o', repo: 'r', branch: 'feat' })).toBeNull();
    expect(seen).toEqual(['https://api.github.com/repos/o/r/pulls?direction=desc&head=o%3Afeat&per_page=1&sort=updated&state=open']);
  });

  it('aborts a hanging request with the signal reason', async () => {
    gh.route(PULL_1, { hang: true });
    const controller = new AbortController();
    const pending = caught(provider().github.fetchPullRequestStatus('tok', PR1, { signal: controller.signal }));
    while (gh.requests.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort(new GitSyncError('TIMEOUT', 'tick timed out'));
    const err = await pending;
    expect(hasErrorCode(err, 'TIMEOUT')).toBe(true);
  });
});

describe('diffs', () => {
  it('fetches a PR diff with the diff media type (TestGitHubFetchPullRequestDiff)', async () => {
    gh.route(PULL_1, { body: 'diff --git a/x b/x\n+hello\n' });
    expect(await provider().github.fetchPullRequestDiff('tok', PR1)).toBe('diff --git a/x b/x\n+hello\n');
    expect(gh.requests[0]?.headers).toMatchObject({ accept: 'application/vnd.github.diff', 'user-agent': 'chatd-chat-diff' });
  });

  it('accepts a diff of exactly the maximum size and rejects one byte more', async () => {
    let size = MAX_DIFF_SIZE_BYTES;
    gh.route(PULL_1, () => ({ body: 'a'.repeat(size) }));
    const { github } = provider();
    expect((await github.fetchPullRequestDiff('tok', PR1)).length).toBe(MAX_DIFF_SIZE_BYTES);
    size = MAX_DIFF_SIZE_BYTES + 1;
    expect(hasErrorCode(await caught(github.fetchPullRequestDiff('tok', PR1)), 'DIFF_TOO_LARGE')).toBe(true);
  });

  it('diffs a branch against the default branch (TestFetchBranchDiff)', async () => {
    gh.route('/api/v3/repos/o/r', { json: { default_branch: 'main' } });
    gh.route('/api/v3/repos/o/r/compare/main...feat/my%20thing', { body: 'the diff' });
    const { github } = provider();
    expect(await github.fetchBranchDiff('tok', { owner: 'o', repo: 'r', branch: 'feat/my thing' })).toBe('the diff');
    expect(await github.fetchBranchDiff('tok', { owner: 'o', repo: 'r', branch: '' })).toBe('');
    expect(gh.requests).toHaveLength(2);
  });

  it('rejects a branch diff over the maximum size (DiffTooLarge)', async () => {
    gh.route('/api/v3/repos/o/r', { json: { default_branch: 'main' } });
    gh.route('/api/v3/repos/o/r/compare/main...feat', { body: 'b'.repeat(MAX_DIFF_SIZE_BYTES + 1) });
    const err = await caught(provider().github.fetchBranchDiff('tok', { owner: 'o', repo: 'r', branch: 'feat' }));
    expect(hasErrorCode(err, 'DIFF_TOO_LARGE')).toBe(true);
    expect((err as Error).message).toBe('diff exceeds maximum size of 4194304 bytes');
  });

  it('fails when the default branch is empty (EmptyDefaultBranch)', async () => {
    gh.route('/api/v3/repos/o/r', { json: { default_branch: '' } });
    const err = await caught(provider().github.fetchBranchDiff('tok', { owner: 'o', repo: 'r', branch: 'feat' }));
    expect((err as Error).message).toBe('github repository default branch is empty');
  });
});
