import { describe, expect, it } from 'vitest';
import { createGitHubUrls, escapePathPreserveSlashes, gitHubWebBaseUrl } from '../src/index.js';

const github = createGitHubUrls();
const ghe = createGitHubUrls('https://ghes.corp.com/api/v3/');

describe('GitHub base URLs', () => {
  it.each([
    ['https://api.github.com', 'https://github.com'],
    ['https://API.GitHub.com/', 'https://github.com'],
    ['https://ghes.corp.com/api/v3', 'https://ghes.corp.com'],
    ['https://ghes.corp.com/api/v3/', 'https://ghes.corp.com'],
    ['https://ghes.corp.com:8443/api/v3', 'https://ghes.corp.com:8443'],
  ])('derives the web base of %s', (api, web) => {
    expect(gitHubWebBaseUrl(api)).toBe(web);
  });

  it('trims the trailing slash of the API base', () => {
    expect(ghe.apiBaseUrl).toBe('https://ghes.corp.com/api/v3');
    expect(ghe.webBaseUrl).toBe('https://ghes.corp.com');
    expect(createGitHubUrls('').apiBaseUrl).toBe('https://api.github.com');
  });
});

describe('parseRepositoryOrigin (TestGitHubParseRepositoryOrigin)', () => {
  it.each([
    ['https://github.com/coder/coder', 'coder', 'coder'],
    ['https://github.com/coder/coder.git', 'coder', 'coder'],
    ['https://github.com/coder/coder/', 'coder', 'coder'],
    ['https://github.com/coder/coder.git/', 'coder', 'coder'],
    ['git@github.com:coder/coder.git', 'coder', 'coder'],
    ['git@github.com:coder/coder', 'coder', 'coder'],
    ['ssh://git@github.com/coder/coder.git', 'coder', 'coder'],
    ['  https://github.com/my-org/my-repo.git  ', 'my-org', 'my-repo'],
    ['https://GitHub.com/my_org/my.repo', 'my_org', 'my.repo'],
  ])('accepts %s', (input, owner, repo) => {
    expect(github.parseRepositoryOrigin(input)).toEqual({ owner, repo, normalizedUrl: `https://github.com/${owner}/${repo}` });
  });

  it.each([
    'https://gitlab.com/coder/coder',
    '',
    'not-a-url',
    'http://github.com/coder/coder',
    'https://token@github.com/coder/coder',
    'https://github.com/coder',
    'https://github.com/coder/coder/tree/main',
    'git@github.com:coder',
    'bob@github.com:coder/coder.git',
    'ssh://git@github.com:22/coder/coder.git',
  ])('rejects %j', (input) => {
    expect(github.parseRepositoryOrigin(input)).toBeNull();
  });
});

describe('pull request URLs', () => {
  it.each([
    ['https://github.com/coder/coder/pull/123', 123],
    ['https://github.com/coder/coder/pull/456?diff=split', 456],
    ['https://github.com/coder/coder/pull/789#discussion', 789],
    ['https://github.com/coder/coder/pull/5/files', 5],
  ])('parses %s (TestGitHubParsePullRequestURL)', (input, number) => {
    expect(github.parsePullRequestUrl(input)).toEqual({ owner: 'coder', repo: 'coder', number });
  });

  it.each(['https://github.com/coder/coder/issues/123', 'https://github.com/coder/coder', 'https://gitlab.com/coder/coder/-/merge_requests/1', '', 'https://github.com/coder/coder/pull/0'])(
    'rejects %j',
    (input) => {
      expect(github.parsePullRequestUrl(input)).toBeNull();
    },
  );

  it.each([
    ['https://github.com/coder/coder/pull/123).', 'https://github.com/coder/coder/pull/123'],
    ['  https://github.com/coder/coder/pull/123?x=1#y  ', 'https://github.com/coder/coder/pull/123'],
    ['https://github.com/coder/coder/pull/9;', 'https://github.com/coder/coder/pull/9'],
    ['https://example.com', ''],
  ])('normalises %j (TestGitHubNormalizePullRequestURL)', (input, out) => {
    expect(github.normalizePullRequestUrl(input)).toBe(out);
  });

  it('builds pull request URLs and refuses incomplete refs (TestGitHubBuildPullRequestURL)', () => {
    expect(github.buildPullRequestUrl({ owner: 'o', repo: 'r', number: 7 })).toBe('https://github.com/o/r/pull/7');
    expect(github.buildPullRequestUrl({ owner: '', repo: 'r', number: 7 })).toBe('');
    expect(github.buildPullRequestUrl({ owner: 'o', repo: '', number: 7 })).toBe('');
    expect(github.buildPullRequestUrl({ owner: 'o', repo: 'r', number: 0 })).toBe('');
    expect(github.buildPullRequestUrl({ owner: 'o', repo: 'r', number: -1 })).toBe('');
  });
});

describe('branch and repository URLs (TestGitHubBuildBranchURL)', () => {
  it('builds branch URLs, escaping each segment but keeping slashes', () => {
    expect(github.buildBranchUrl('o', 'r', 'main')).toBe('https://github.com/o/r/tree/main');
    expect(github.buildBranchUrl('o', 'r', 'feat/new-thing')).toBe('https://github.com/o/r/tree/feat/new-thing');
    expect(github.buildBranchUrl(' o ', ' r ', ' feat/my thing ')).toBe('https://github.com/o/r/tree/feat/my%20thing');
  });

  it('returns empty for an empty part', () => {
    expect(github.buildBranchUrl('', 'r', 'b')).toBe('');
    expect(github.buildBranchUrl('o', '', 'b')).toBe('');
    expect(github.buildBranchUrl('o', 'r', '  ')).toBe('');
    expect(github.buildRepositoryUrl('o', ' ')).toBe('');
    expect(github.buildRepositoryUrl('o', 'r')).toBe('https://github.com/o/r');
  });

  it('escapes paths segment by segment (TestEscapePathPreserveSlashes)', () => {
    expect(escapePathPreserveSlashes('feat/my thing')).toBe('feat/my%20thing');
    expect(escapePathPreserveSlashes('a#b/c?d')).toBe('a%23b/c%3Fd');
    expect(escapePathPreserveSlashes('user@x:y')).toBe('user@x:y');
  });
});

describe('GitHub Enterprise (TestGitHubEnterpriseURLs)', () => {
  it('parses and builds on its own host and rejects github.com', () => {
    expect(ghe.parseRepositoryOrigin('https://ghes.corp.com/org/repo.git')).toEqual({ owner: 'org', repo: 'repo', normalizedUrl: 'https://ghes.corp.com/org/repo' });
    expect(ghe.parseRepositoryOrigin('git@ghes.corp.com:org/repo.git')).toEqual({ owner: 'org', repo: 'repo', normalizedUrl: 'https://ghes.corp.com/org/repo' });
    expect(ghe.parseRepositoryOrigin('https://github.com/coder/coder')).toBeNull();
    expect(ghe.parsePullRequestUrl('https://ghes.corp.com/org/repo/pull/3')).toEqual({ owner: 'org', repo: 'repo', number: 3 });
    expect(ghe.parsePullRequestUrl('https://github.com/org/repo/pull/3')).toBeNull();
    expect(ghe.buildPullRequestUrl({ owner: 'org', repo: 'repo', number: 3 })).toBe('https://ghes.corp.com/org/repo/pull/3');
    expect(ghe.buildBranchUrl('org', 'repo', 'b')).toBe('https://ghes.corp.com/org/repo/tree/b');
    expect(github.parseRepositoryOrigin('https://ghes.corp.com/org/repo')).toBeNull();
  });

  it('includes the port in the host it matches', () => {
    const ported = createGitHubUrls('https://ghes.corp.com:8443/api/v3');
    expect(ported.parseRepositoryOrigin('https://ghes.corp.com:8443/org/repo')?.normalizedUrl).toBe('https://ghes.corp.com:8443/org/repo');
    expect(ported.parseRepositoryOrigin('https://ghes.corp.com/org/repo')).toBeNull();
    expect(ported.parseRepositoryOrigin('git@ghes.corp.com:org/repo.git')?.normalizedUrl).toBe('https://ghes.corp.com:8443/org/repo');
  });
});
