import { describe, expect, it } from 'vitest';
import { createGitLabUrls } from '../src/index.js';

const gitlab = createGitLabUrls();

describe('GitLab origins', () => {
  it.each([
    ['https://gitlab.com/group/repo', 'group', 'repo'],
    ['https://gitlab.com/group/repo.git', 'group', 'repo'],
    ['http://GitLab.com/group/repo/', 'group', 'repo'],
    ['https://gitlab.com/group/sub/repo.git', 'group/sub', 'repo'],
    ['git@gitlab.com:group/sub/repo.git', 'group/sub', 'repo'],
    ['git@gitlab.com:group/repo', 'group', 'repo'],
    ['ssh://git@gitlab.com:2222/group/repo.git', 'group', 'repo'],
    ['ssh://git@gitlab.com/group/repo', 'group', 'repo'],
  ])('accepts %s', (input, owner, repo) => {
    expect(gitlab.parseRepositoryOrigin(input)).toEqual({ owner, repo, normalizedUrl: `https://gitlab.com/${owner}/${repo}` });
  });

  it.each(['', 'not-a-url', 'https://github.com/o/r', 'https://gitlab.com/single', 'git@github.com:o/r.git', 'https://gitlab.com/a//b', 'ftp://gitlab.com/a/b'])('rejects %j', (input) => {
    expect(gitlab.parseRepositoryOrigin(input)).toBeNull();
  });

  it('drops /api/v4 and trailing slashes from the base', () => {
    const self = createGitLabUrls('https://git.corp.com/api/v4/');
    expect(self.webBaseUrl).toBe('https://git.corp.com');
    expect(self.apiBaseUrl).toBe('https://git.corp.com/api/v4');
    expect(self.parseRepositoryOrigin('git@git.corp.com:a/b.git')?.normalizedUrl).toBe('https://git.corp.com/a/b');
  });
});

describe('GitLab merge request URLs', () => {
  it('parses, normalises and builds', () => {
    expect(gitlab.parsePullRequestUrl('https://gitlab.com/group/sub/repo/-/merge_requests/12/diffs')).toEqual({ owner: 'group/sub', repo: 'repo', number: 12 });
    expect(gitlab.parsePullRequestUrl('https://gitlab.com/group/repo/-/merge_requests/0')).toBeNull();
    expect(gitlab.parsePullRequestUrl('https://gitlab.com/group/repo/pull/3')).toBeNull();
    expect(gitlab.parsePullRequestUrl('https://github.com/group/repo/-/merge_requests/3')).toBeNull();
    expect(gitlab.normalizePullRequestUrl('https://gitlab.com/g/r/-/merge_requests/5?tab=diffs).')).toBe('https://gitlab.com/g/r/-/merge_requests/5');
    expect(gitlab.buildPullRequestUrl({ owner: 'g/s', repo: 'r', number: 5 })).toBe('https://gitlab.com/g/s/r/-/merge_requests/5');
    expect(gitlab.buildPullRequestUrl({ owner: 'g', repo: 'r', number: 0 })).toBe('');
    expect(gitlab.buildBranchUrl('g/s', 'r', 'feat/my thing')).toBe('https://gitlab.com/g/s/r/-/tree/feat/my%20thing');
    expect(gitlab.buildBranchUrl('g', '', 'b')).toBe('');
  });
});
