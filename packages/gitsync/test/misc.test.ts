import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import {
  createEnvTokenResolver,
  createProvider,
  createProviderResolver,
  ErrNoTokenAvailable,
  findRateLimitError,
  GitSyncError,
  hasErrorCode,
  isDiffStatusStale,
  stripOriginCredentials,
  toChatDiffStatus,
  wrapError,
} from '../src/index.js';
import { createFakeProvider, makeRow } from './helpers.js';

describe('createEnvTokenResolver', () => {
  it('reads GITHUB_TOKEN from the injected env, trimmed, and gives null when unset or blank', async () => {
    expect(await createEnvTokenResolver({ env: { GITHUB_TOKEN: ' ghp_x \n' } })('owner', 'https://github.com/o/r')).toBe('ghp_x');
    expect(await createEnvTokenResolver({ env: {} })('owner', 'https://github.com/o/r')).toBeNull();
    expect(await createEnvTokenResolver({ env: { GITHUB_TOKEN: '  ' } })('owner', 'https://github.com/o/r')).toBeNull();
  });

  it('can pick the variable per origin', async () => {
    const tokens = createEnvTokenResolver({ env: { GITHUB_TOKEN: 'gh', GHE_TOKEN: 'ghe' }, variableFor: (origin) => (origin.includes('ghes') ? 'GHE_TOKEN' : 'GITHUB_TOKEN') });
    expect(await tokens('o', 'https://ghes.corp.com/a/b')).toBe('ghe');
    expect(await tokens('o', 'https://github.com/a/b')).toBe('gh');
  });
});

describe('providers', () => {
  it('resolves an origin to the first provider whose host parses it', () => {
    const pub = createFakeProvider();
    const ghe = createFakeProvider({ webBaseUrl: 'https://ghes.corp.com' });
    const resolve = createProviderResolver([pub, ghe]);
    expect(resolve('git@github.com:o/r.git')).toBe(pub);
    expect(resolve('https://ghes.corp.com/o/r')).toBe(ghe);
    expect(resolve('https://gitlab.com/o/r')).toBeNull();
  });

  it('creates a GitHub provider by type and null for an unknown type (TestNewUnsupportedProvider)', () => {
    const clock = createMockClock();
    expect(createProvider('github', { clock })?.name).toBe('github');
    expect(createProvider('GitHub', { clock, apiBaseUrl: 'https://ghes.corp.com/api/v3' })?.parseRepositoryOrigin('https://ghes.corp.com/a/b')?.owner).toBe('a');
    expect(createProvider('bitbucket', { clock })).toBeNull();
  });
});

describe('errors', () => {
  it('finds codes and the innermost rate limit through cause chains', () => {
    const rl = new GitSyncError('RATE_LIMITED', 'rate limited until x', { retryAfter: new Date(5) });
    const wrapped = wrapError('fetch pull request status', rl);
    expect(wrapped.code).toBe('RATE_LIMITED');
    expect(wrapped.retryAfter?.getTime()).toBe(5);
    expect(findRateLimitError(wrapError('outer', wrapped))).toBe(rl);
    expect(hasErrorCode(new Error('plain', { cause: ErrNoTokenAvailable }), 'NO_TOKEN_AVAILABLE')).toBe(true);
    expect(hasErrorCode(new Error('plain'), 'NO_TOKEN_AVAILABLE')).toBe(false);
    expect(hasErrorCode(undefined, 'NO_TOKEN_AVAILABLE')).toBe(false);
    expect(wrapError('p', new Error('x'), 'STORE_ERROR').code).toBe('STORE_ERROR');
  });

  it('stops on a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(hasErrorCode(a, 'TIMEOUT')).toBe(false);
  });
});

describe('toChatDiffStatus', () => {
  it('omits unknown fields and formats timestamps', () => {
    const row = makeRow({ stale_at: new Date(Date.UTC(2026, 0, 1, 0, 2)) });
    expect(toChatDiffStatus(row)).toEqual({ chat_id: row.chat_id, changes_requested: false, additions: 0, deletions: 0, changed_files: 0, stale_at: '2026-01-01T00:02:00.000Z' });
    const refreshed = makeRow({ url: 'https://github.com/o/r/pull/1', pull_request_state: 'merged', refreshed_at: new Date(Date.UTC(2026, 0, 1)), additions: 1 });
    expect(toChatDiffStatus(refreshed)).toMatchObject({ url: 'https://github.com/o/r/pull/1', pull_request_state: 'merged', refreshed_at: '2026-01-01T00:00:00.000Z', additions: 1 });
  });
});

describe('origin helpers', () => {
  it('strips credentials from http(s) origins only', () => {
    expect(stripOriginCredentials('https://x-access-token:ghp_abc@github.com/o/r.git')).toBe('https://github.com/o/r.git');
    expect(stripOriginCredentials('http://token@gitlab.example/g/r')).toBe('http://gitlab.example/g/r');
    expect(stripOriginCredentials('git@github.com:o/r.git')).toBe('git@github.com:o/r.git');
    expect(stripOriginCredentials('https://github.com/o/r')).toBe('https://github.com/o/r');
  });

  it('calls a row stale when never refreshed or when stale_at is at or before now', () => {
    const staleAt = new Date(1000);
    expect(isDiffStatusStale({ refreshed_at: null, stale_at: new Date(5000) }, 0)).toBe(true);
    expect(isDiffStatusStale({ refreshed_at: new Date(0), stale_at: staleAt }, 999)).toBe(false);
    expect(isDiffStatusStale({ refreshed_at: new Date(0), stale_at: staleAt }, 1000)).toBe(true);
  });
});
