// The GitHub provider (contract.md#github): finds the open PR of a branch, reads its state, diff counts and
// review outcome over the REST API, and fetches diffs. Works against github.com and GitHub Enterprise
// (`https://host/api/v3`). JSON reads use conditional requests with an ETag cache, so unchanged data costs no
// rate limit; every body is validated with zod. It keeps no other state and never retries on its own.
import type { Clock } from '@chatd/clock';
import type { z } from 'zod';
import { MAX_DIFF_SIZE_BYTES } from './constants.js';
import { createEtagCache, type EtagCache } from './etag-cache.js';
import { GitSyncError } from './gitsync-error.js';
import { createGitHubUrls, escapePathPreserveSlashes, escapePathSegment, GITHUB_API_BASE_URL, isDotSegment } from './github-urls.js';
import { gitHubPullListSchema, gitHubPullSchema, gitHubRepositorySchema, gitHubReviewListSchema, type GitHubReviewList } from './github-schemas.js';
import type { PullRequestStatus, Provider, ProviderCallOptions } from './provider.js';
import { createProviderHttp } from './provider-http.js';
import { GITHUB_RESET_HEADER } from './rate-limit.js';
import type { PullRequestState } from './store.js';

/** GitHub REST API version sent with every request. */
export const GITHUB_API_VERSION = '2022-11-28';
/** User-Agent of JSON calls. */
export const GITHUB_USER_AGENT = 'chatd-chat-diff-status';
/** User-Agent of diff calls. */
export const GITHUB_DIFF_USER_AGENT = 'chatd-chat-diff';
/** Reviews read per pull request: one page only, on purpose. */
export const GITHUB_REVIEWS_PER_PAGE = 100;

/** Options for `createGitHubProvider`. */
export type GitHubProviderOptions = {
  /** Source of `fetchedAt` and of rate-limit arithmetic. */
  clock: Clock;
  /** API base; GitHub Enterprise uses `https://host/api/v3`. @default GITHUB_API_BASE_URL */
  apiBaseUrl?: string;
  /** Web base that URLs must be on. @default derived from `apiBaseUrl` */
  webBaseUrl?: string;
  /** The fetch to call. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Conditional-request cache; `false` disables it. @default a new createEtagCache() */
  etagCache?: EtagCache | false;
};

const DECISIVE_REVIEW_STATES = new Set(['CHANGES_REQUESTED', 'APPROVED', 'DISMISSED']);

/** Review outcome: each reviewer's decisive review with the highest id counts. */
export function summarizeReviews(reviews: GitHubReviewList): { changesRequested: boolean; approved: boolean; reviewerCount: number } {
  const latest = new Map<string, { id: number; state: string }>();
  for (const review of reviews) {
    const login = review.user?.login.trim().toLowerCase() ?? '';
    const state = review.state.toUpperCase();
    if (login === '' || !DECISIVE_REVIEW_STATES.has(state)) continue;
    const seen = latest.get(login);
    if (!seen || review.id > seen.id) latest.set(login, { id: review.id, state });
  }
  const states = [...latest.values()].map((r) => r.state);
  const changesRequested = states.includes('CHANGES_REQUESTED');
  return { changesRequested, approved: !changesRequested && states.includes('APPROVED'), reviewerCount: latest.size };
}

function mapState(state: string, merged: boolean): PullRequestState | '' {
  if (merged) return 'merged';
  const s = state.trim().toLowerCase();
  return s === 'open' || s === 'closed' ? s : '';
}

/** Creates a GitHub (or GitHub Enterprise) provider. */
export function createGitHubProvider(options: GitHubProviderOptions): Provider {
  const { clock } = options;
  const urls = createGitHubUrls(options.apiBaseUrl ?? GITHUB_API_BASE_URL, options.webBaseUrl);
  const doFetch = options.fetch ?? globalThis.fetch;
  const cache = options.etagCache === false ? undefined : (options.etagCache ?? createEtagCache());
  const api = urls.apiBaseUrl;

  const repoPath = (owner: string, repo: string) => {
    // Defence in depth: the URL parsers refuse these already, but a caller may build a ref by hand, and
    // `/repos/../x` would be resolved to another API path by fetch.
    if (isDotSegment(owner) || isDotSegment(repo)) throw new GitSyncError('INVALID_ORIGIN', `github owner and repo must not be "." or "..": ${owner}/${repo}`);
    return `${api}/repos/${escapePathSegment(owner)}/${escapePathSegment(repo)}`;
  };
  const http = createProviderHttp({ name: 'github', clock, fetch: doFetch, resetHeader: GITHUB_RESET_HEADER, etagCache: cache });
  const jsonHeaders = { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': GITHUB_API_VERSION, 'User-Agent': GITHUB_USER_AGENT };
  const diffHeaders = { Accept: 'application/vnd.github.diff', 'X-GitHub-Api-Version': GITHUB_API_VERSION, 'User-Agent': GITHUB_DIFF_USER_AGENT };

  const getJson = async <T>(url: string, token: string, schema: z.ZodType<T>, signal: AbortSignal | undefined): Promise<T> =>
    (await http.getJson(url, token, schema, jsonHeaders, signal)).data;
  const getDiff = (url: string, token: string, signal: AbortSignal | undefined): Promise<string> => http.getText(url, token, MAX_DIFF_SIZE_BYTES, diffHeaders, signal);

  return {
    name: 'github',
    async resolveBranchPullRequest(token, ref, callOptions: ProviderCallOptions = {}) {
      if (ref.owner === '' || ref.repo === '' || ref.branch === '') return null;
      // Keys in alphabetical order, as upstream encodes them.
      const query = new URLSearchParams([
        ['direction', 'desc'],
        ['head', `${ref.owner}:${ref.branch}`],
        ['per_page', '1'],
        ['sort', 'updated'],
        ['state', 'open'],
      ]);
      const pulls = await getJson(`${repoPath(ref.owner, ref.repo)}/pulls?${query.toString()}`, token, gitHubPullListSchema, callOptions.signal);
      const first = pulls[0];
      return first ? urls.parsePullRequestUrl(first.html_url) : null;
    },

    async fetchPullRequestStatus(token, ref, callOptions: ProviderCallOptions = {}): Promise<PullRequestStatus> {
      const base = `${repoPath(ref.owner, ref.repo)}/pulls/${ref.number}`;
      const pull = await getJson(base, token, gitHubPullSchema, callOptions.signal);
      const reviews = await getJson(`${base}/reviews?per_page=${GITHUB_REVIEWS_PER_PAGE}`, token, gitHubReviewListSchema, callOptions.signal);
      const outcome = summarizeReviews(reviews);
      return {
        title: pull.title,
        state: mapState(pull.state, pull.merged === true),
        draft: pull.draft === true,
        headSha: pull.head.sha,
        headBranch: pull.head.ref,
        baseBranch: pull.base?.ref ?? '',
        diffStats: { additions: pull.additions, deletions: pull.deletions, changedFiles: pull.changed_files },
        changesRequested: outcome.changesRequested,
        approved: outcome.approved,
        reviewerCount: outcome.reviewerCount,
        authorLogin: pull.user?.login ?? '',
        authorAvatarUrl: pull.user?.avatar_url ?? '',
        prNumber: pull.number,
        commits: pull.commits ?? 0,
        fetchedAt: clock.now(),
      };
    },

    async fetchPullRequestDiff(token, ref, callOptions: ProviderCallOptions = {}) {
      return getDiff(`${repoPath(ref.owner, ref.repo)}/pulls/${ref.number}`, token, callOptions.signal);
    },

    async fetchBranchDiff(token, ref, callOptions: ProviderCallOptions = {}) {
      if (ref.owner === '' || ref.repo === '' || ref.branch === '') return '';
      const repo = await getJson(repoPath(ref.owner, ref.repo), token, gitHubRepositorySchema, callOptions.signal);
      const defaultBranch = repo.default_branch?.trim() ?? '';
      if (defaultBranch === '') throw new GitSyncError('INVALID_RESPONSE', 'github repository default branch is empty');
      // Branch names keep their slashes in the compare path, so a dot component would climb out of it.
      if ([...defaultBranch.split('/'), ...ref.branch.split('/')].some(isDotSegment)) {
        throw new GitSyncError('INVALID_ORIGIN', `github branch names must not contain "." or ".." components: ${defaultBranch}...${ref.branch}`);
      }
      const range = `${escapePathPreserveSlashes(defaultBranch)}...${escapePathPreserveSlashes(ref.branch)}`;
      return getDiff(`${repoPath(ref.owner, ref.repo)}/compare/${range}`, token, callOptions.signal);
    },

    parseRepositoryOrigin: urls.parseRepositoryOrigin,
    parsePullRequestUrl: urls.parsePullRequestUrl,
    normalizePullRequestUrl: urls.normalizePullRequestUrl,
    buildBranchUrl: urls.buildBranchUrl,
    buildRepositoryUrl: urls.buildRepositoryUrl,
    buildPullRequestUrl: urls.buildPullRequestUrl,
  };
}
