import { createMockClock } from '@chatd/clock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countDiffLines, createGitLabProvider, createProvider, findRateLimitError, hasErrorCode, mapGitLabState, MAX_DIFF_SIZE_BYTES, RATE_LIMIT_PADDING_MS } from '../src/index.js';
import { startFakeGitHub, type FakeGitHub } from './fake-github.js';

let server: FakeGitHub;
beforeEach(async () => {
  server = await startFakeGitHub();
});
afterEach(async () => {
  await server.close();
});

const PROJECT = '/api/v4/projects/g%2Fs%2Fr';
const MR = `${PROJECT}/merge_requests/4`;
const REF = { owner: 'g/s', repo: 'r', number: 4 };

function provider() {
  const clock = createMockClock();
  return { clock, gitlab: createGitLabProvider({ clock, baseUrl: server.url }) };
}

const caught = (p: Promise<unknown>) => p.then(() => new Error('expected a rejection'), (e: unknown) => e);

const mrJson = (overrides: Record<string, unknown> = {}) => ({
  iid: 4,
  title: 'Draft: thing',
  state: 'opened',
  draft: true,
  sha: 'sha-1',
  diff_refs: { head_sha: 'head-sha', base_sha: 'b' },
  source_branch: 'feat',
  target_branch: 'main',
  author: { username: 'alice', avatar_url: 'https://a.example/alice' },
  changes_count: '1000+',
  web_url: `${server.url}/g/s/r/-/merge_requests/4`,
  ...overrides,
});

describe('createGitLabProvider', () => {
  it('finds the open MR of a branch', async () => {
    server.route(`${PROJECT}/merge_requests`, { json: [{ iid: 4, web_url: `${server.url}/g/s/r/-/merge_requests/4` }] });
    const { gitlab } = provider();
    expect(await gitlab.resolveBranchPullRequest('tok', { owner: 'g/s', repo: 'r', branch: 'feat' })).toEqual(REF);
    expect(server.requests[0]?.rawQuery).toBe('order_by=updated_at&per_page=1&sort=desc&source_branch=feat&state=opened');
    expect(server.requests[0]?.headers.authorization).toBe('Bearer tok');
  });

  it('falls back to the iid when web_url does not parse, and gives null when none is open', async () => {
    server.route(`${PROJECT}/merge_requests`, { json: [{ iid: 9, web_url: 'https://elsewhere.example/x' }] });
    const { gitlab } = provider();
    expect(await gitlab.resolveBranchPullRequest('tok', { owner: 'g/s', repo: 'r', branch: 'feat' })).toEqual({ owner: 'g/s', repo: 'r', number: 9 });
    server.route(`${PROJECT}/merge_requests`, { json: [] });
    expect(await gitlab.resolveBranchPullRequest('tok', { owner: 'g/s', repo: 'r', branch: 'feat' })).toBeNull();
  });

  it('reads the status from the MR, approvals, commits and diffs', async () => {
    server.route(MR, { json: mrJson() });
    server.route(`${MR}/approvals`, { json: { approved: true, approved_by: [{ user: { username: 'bob' } }, { user: { username: 'carol' } }] } });
    server.route(`${MR}/commits`, { json: [{ id: 'c1' }, { id: 'c2' }], headers: { 'x-total': '7' } });
    server.route(`${MR}/diffs`, { json: [{ diff: '@@ -1 +1,2 @@\n-a\n+b\n+c\n' }, { diff: '--- a/x\n+++ b/x\n+d\n' }] });
    const { gitlab, clock } = provider();
    expect(await gitlab.fetchPullRequestStatus('tok', REF)).toEqual({
      title: 'Draft: thing',
      state: 'open',
      draft: true,
      headSha: 'head-sha',
      headBranch: 'feat',
      baseBranch: 'main',
      diffStats: { additions: 3, deletions: 1, changedFiles: 1000 },
      changesRequested: false,
      approved: true,
      reviewerCount: 2,
      authorLogin: 'alice',
      authorAvatarUrl: 'https://a.example/alice',
      prNumber: 4,
      commits: 7,
      fetchedAt: clock.now(),
    });
  });

  it('uses the commit list length without X-Total and sha without diff_refs', async () => {
    server.route(MR, { json: mrJson({ diff_refs: null, state: 'merged', changes_count: null }) });
    server.route(`${MR}/approvals`, { json: { approved: false } });
    server.route(`${MR}/commits`, { json: [{ id: 'c1' }, { id: 'c2' }] });
    server.route(`${MR}/diffs`, { json: [] });
    const status = await provider().gitlab.fetchPullRequestStatus('tok', REF);
    expect(status).toMatchObject({ commits: 2, headSha: 'sha-1', state: 'merged', reviewerCount: 0, approved: false, diffStats: { additions: 0, deletions: 0, changedFiles: 0 } });
  });

  it('detects rate limits from Retry-After and RateLimit-Reset', async () => {
    const { gitlab, clock } = provider();
    server.route(MR, { status: 429, body: '', headers: { 'ratelimit-reset': String(clock.nowMs() / 1000 + 30) } });
    expect(findRateLimitError(await caught(gitlab.fetchPullRequestStatus('tok', REF)))?.retryAfter?.getTime()).toBe(clock.nowMs() + 30_000 + RATE_LIMIT_PADDING_MS);
    server.route(MR, { status: 403, body: '', headers: { 'retry-after': '5', 'ratelimit-reset': String(clock.nowMs() / 1000 + 30) } });
    expect(findRateLimitError(await caught(gitlab.fetchPullRequestStatus('tok', REF)))?.retryAfter?.getTime()).toBe(clock.nowMs() + 5_000 + RATE_LIMIT_PADDING_MS);
  });

  it('rejects malformed bodies with INVALID_RESPONSE', async () => {
    server.route(MR, { json: { iid: 'four' } });
    const err = await caught(provider().gitlab.fetchPullRequestStatus('tok', REF));
    expect(hasErrorCode(err, 'INVALID_RESPONSE')).toBe(true);
    expect((err as Error).message).toMatch(/^decode gitlab response: /);
  });

  it('fetches raw MR diffs with the size cap', async () => {
    let body = 'diff --git a/x b/x\n';
    server.route(`${MR}/raw_diffs`, () => ({ body }));
    const { gitlab } = provider();
    expect(await gitlab.fetchPullRequestDiff('tok', REF)).toBe(body);
    body = 'a'.repeat(MAX_DIFF_SIZE_BYTES + 1);
    expect(hasErrorCode(await caught(gitlab.fetchPullRequestDiff('tok', REF)), 'DIFF_TOO_LARGE')).toBe(true);
  });

  it('rebuilds a branch diff from the compare entries, leaving collapsed ones out', async () => {
    server.route(PROJECT, { json: { default_branch: 'main' } });
    server.route(`${PROJECT}/repository/compare`, {
      json: {
        compare_timeout: false,
        diffs: [
          { old_path: 'a.txt', new_path: 'a.txt', diff: '@@ -1 +1 @@\n-x\n+y' },
          { old_path: 'new.txt', new_path: 'new.txt', diff: '@@ -0,0 +1 @@\n+n\n', new_file: true },
          { old_path: 'big.bin', new_path: 'big.bin', diff: '', collapsed: true },
        ],
      },
    });
    const { gitlab } = provider();
    expect(await gitlab.fetchBranchDiff('tok', { owner: 'g/s', repo: 'r', branch: 'feat' })).toBe(
      'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-x\n+y\n' + 'diff --git a/new.txt b/new.txt\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+n\n',
    );
    expect(server.requests[1]?.rawQuery).toBe('from=main&to=feat&unidiff=true');
  });

  it('fails a branch diff on a compare timeout', async () => {
    server.route(PROJECT, { json: { default_branch: 'main' } });
    server.route(`${PROJECT}/repository/compare`, { json: { compare_timeout: true, diffs: [] } });
    expect((await caught(provider().gitlab.fetchBranchDiff('tok', { owner: 'g/s', repo: 'r', branch: 'feat' })) as Error).message).toBe('gitlab compare timed out');
  });

  it('is created by type name', () => {
    expect(createProvider('gitlab', { clock: createMockClock() })?.parseRepositoryOrigin('git@gitlab.com:a/b.git')?.owner).toBe('a');
  });
});

describe('GitLab helpers', () => {
  it.each([
    ['opened', 'open'],
    ['Opened', 'open'],
    [' merged ', 'merged'],
    ['closed', 'closed'],
    ['locked', 'closed'],
    ['weird', 'closed'],
    ['', 'closed'],
  ])('maps state %j to %s (TestMapGitLabState)', (input, out) => {
    expect(mapGitLabState(input)).toBe(out);
  });

  it.each([
    ['Empty', '', 0, 0],
    ['OnlyAdditions', '+a\n+b\n', 2, 0],
    ['OnlyDeletions', '-a\n-b\n-c\n', 0, 3],
    ['MixedWithHeaders', '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n context\n', 1, 1],
    ['NoTrailingNewline', '+a\n-b', 1, 1],
  ])('counts diff lines: %s (TestCountDiffLines)', (_name, diff, additions, deletions) => {
    expect(countDiffLines(diff)).toEqual({ additions, deletions });
  });
});
