// The confused-deputy fixes (issue 22 item 3) at the package level: `.`/`..` never become an owner or repo
// (origin and PR URL parsing, the provider's own path building, the raw-text input checks), the owner-scoped
// resolver keeps a deployment token for listed owners, and PUBLIC_ACCESS makes the refresher call the
// fake GitHub without an Authorization header.
import { createMockClock } from '@chatd/clock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createGitHubProvider,
  createGitHubUrls,
  createGitLabUrls,
  createOwnerScopedTokenResolver,
  createProviderResolver,
  createRefresher,
  hasErrorCode,
  parseOwnerList,
  PUBLIC_ACCESS,
  unsafeBranchComponent,
  unsafeOriginSegment,
} from '../src/index.js';
import { makeRow, OWNER_1 } from './helpers.js';
import { pullJson, startFakeGitHub, type FakeGitHub } from './fake-github.js';

const github = createGitHubUrls();

describe('dot segments are never an owner or repo', () => {
  it.each([
    'https://github.com/../r',
    'https://github.com/o/..',
    'https://github.com/./r.git',
    'https://github.com/o/..git',
    'git@github.com:../r.git',
    'ssh://git@github.com/o/.',
  ])('parseRepositoryOrigin rejects %j', (origin) => {
    expect(github.parseRepositoryOrigin(origin)).toBeNull();
  });

  it.each(['https://github.com/../r/pull/1', 'https://github.com/o/../pull/1', 'https://github.com/./x/pull/2'])('parsePullRequestUrl rejects %j', (url) => {
    expect(github.parsePullRequestUrl(url)).toBeNull();
  });

  it('names with dots inside still parse', () => {
    expect(github.parseRepositoryOrigin('https://github.com/my.org/.github')).toMatchObject({ owner: 'my.org', repo: '.github' });
    expect(github.parseRepositoryOrigin('https://github.com/o/r..x.git')).toMatchObject({ owner: 'o', repo: 'r..x' });
  });

  it.each([
    ['https://github.com/../r.git', '..'],
    ['https://github.com/o/%2e%2e', '%2e%2e'],
    ['https://github.com/%2E/r', '%2E'],
    ['https://github.com/o/%252e%252e.git', '%252e%252e'],
    ['https://github.com/a%2F..%2Fb/r', 'a%2F..%2Fb'],
    ['git@github.com:o/..', '..'],
    ['ssh://git@github.com:22/./r.git', '.'],
    ['https://gitlab.com/group/../sub/r.git', '..'],
    ['https://github.com//r', ''],
    ['https://github.com/o\\..\\x/r', '..'],
    ['https://x-access-token:t@github.com/o/..git', '.'],
  ])('unsafeOriginSegment(%j) is %j', (origin, segment) => {
    expect(unsafeOriginSegment(origin)).toBe(segment);
  });

  it.each(['https://github.com/o/r.git', 'https://github.com/o/r/', 'git@github.com:o/r.git', 'ssh://git@host:22/group/sub/r.git', 'https://gitlab.com/g/s/r', 'https://github.com/my.org/.github'])(
    'unsafeOriginSegment(%j) is undefined',
    (origin) => {
      expect(unsafeOriginSegment(origin)).toBeUndefined();
    },
  );

  it('branch components git refuses are reported', () => {
    expect(unsafeBranchComponent('../../x')).toBe('..');
    expect(unsafeBranchComponent('feat/.hidden')).toBe('.hidden');
    expect(unsafeBranchComponent('a..b')).toBe('a..b');
    expect(unsafeBranchComponent('feat//x')).toBe('');
    expect(unsafeBranchComponent('feat/my-thing_1.2')).toBeUndefined();
  });

  it('GitLab origins with dot segments do not parse', () => {
    expect(createGitLabUrls().parseRepositoryOrigin('git@gitlab.com:g/../r.git')).toBeNull();
  });
});

describe('the GitHub provider against a fake GitHub', () => {
  let gh: FakeGitHub;
  beforeEach(async () => {
    gh = await startFakeGitHub();
  });
  afterEach(async () => {
    await gh.close();
  });
  const provider = () => createGitHubProvider({ clock: createMockClock(), apiBaseUrl: gh.apiBaseUrl, webBaseUrl: 'https://github.com', etagCache: false });

  it('refuses a hand-built ref with a dot owner or repo, and a dot branch component, before any request', async () => {
    const p = provider();
    for (const call of [
      () => p.resolveBranchPullRequest('tok', { owner: '..', repo: 'r', branch: 'feat' }),
      () => p.fetchPullRequestStatus('tok', { owner: 'o', repo: '.', number: 1 }),
      () => p.fetchPullRequestDiff('tok', { owner: '..', repo: '..', number: 1 }),
    ]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(hasErrorCode(err, 'INVALID_ORIGIN')).toBe(true);
    }
    gh.route('/api/v3/repos/o/r', { json: { default_branch: 'main' } });
    const branch = await p.fetchBranchDiff('tok', { owner: 'o', repo: 'r', branch: '../../../users/x' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(hasErrorCode(branch, 'INVALID_ORIGIN')).toBe(true);
    expect(gh.requests.map((r) => r.path)).toEqual(['/api/v3/repos/o/r']);
  });

  it('PUBLIC_ACCESS: the refresher calls without an Authorization header', async () => {
    gh.route('/api/v3/repos/o/r/pulls', { json: [pullJson({ html_url: 'https://github.com/o/r/pull/1' })] });
    gh.route('/api/v3/repos/o/r/pulls/1', { json: pullJson() });
    gh.route('/api/v3/repos/o/r/pulls/1/reviews', { json: [] });
    const clock = createMockClock();
    const refresher = createRefresher({ providers: createProviderResolver([provider()]), tokens: () => PUBLIC_ACCESS, clock });
    const [result] = await refresher.refresh([{ row: makeRow({ git_remote_origin: 'https://github.com/o/r.git', git_branch: 'feat' }), ownerId: OWNER_1 }]);
    expect(result?.error).toBeUndefined();
    expect(result?.params?.pr_number).toBe(1);
    expect(gh.requests).toHaveLength(3);
    expect(gh.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });
});

describe('createOwnerScopedTokenResolver', () => {
  const providers = createProviderResolver([createGitHubProvider({ clock: createMockClock() })]);
  const resolver = (owners: string[]) => createOwnerScopedTokenResolver({ tokens: () => 'deploy-token', owners, providers });

  it('without a list, every origin is public access', async () => {
    expect(await resolver([])(OWNER_1, 'https://github.com/corp/secret.git')).toBe(PUBLIC_ACCESS);
  });

  it('uses the token only for listed owners, case-insensitively', async () => {
    const r = resolver(parseOwnerList(' Corp , ,other'));
    expect(await r(OWNER_1, 'https://github.com/CORP/secret.git')).toBe('deploy-token');
    expect(await r(OWNER_1, 'git@github.com:other/x.git')).toBe('deploy-token');
    expect(await r(OWNER_1, 'https://github.com/stranger/secret.git')).toBe(PUBLIC_ACCESS);
    expect(await r(OWNER_1, 'https://github.com/corpx/secret.git')).toBe(PUBLIC_ACCESS);
    expect(await r(OWNER_1, 'https://unknown.example/corp/secret.git')).toBe(PUBLIC_ACCESS);
  });

  it('a GitLab subgroup counts as its listed parent group', async () => {
    const gl = createOwnerScopedTokenResolver({ tokens: () => 't', owners: ['group'], providers: (o) => ({ parseRepositoryOrigin: (x: string) => createGitLabUrls().parseRepositoryOrigin(x) }) as never });
    expect(await gl(OWNER_1, 'https://gitlab.com/group/sub/r.git')).toBe('t');
    expect(await gl(OWNER_1, 'https://gitlab.com/groupie/sub/r.git')).toBe(PUBLIC_ACCESS);
  });
});
