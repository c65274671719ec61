// The GitLab provider (contract.md#gitlab): finds the open merge request of a branch and reads its state, diff
// counts and approvals over REST v4 (four calls), and fetches diffs. GitLab has no "changes requested", so that
// flag is always false; additions/deletions are counted from the first page (100 files) of diffs, as upstream.
import type { Clock } from '@chatd/clock';
import type { z } from 'zod';
import { MAX_DIFF_SIZE_BYTES } from './constants.js';
import type { EtagCache } from './etag-cache.js';
import { GitSyncError } from './gitsync-error.js';
import { createGitLabUrls, GITLAB_BASE_URL } from './gitlab-urls.js';
import {
  gitLabApprovalsSchema,
  gitLabCommitListSchema,
  gitLabCompareSchema,
  gitLabDiffListSchema,
  gitLabMergeRequestListSchema,
  gitLabMergeRequestSchema,
  gitLabProjectSchema,
} from './gitlab-schemas.js';
import type { Provider, ProviderCallOptions, PullRequestStatus } from './provider.js';
import { createProviderHttp } from './provider-http.js';
import { GITLAB_RESET_HEADER } from './rate-limit.js';
import type { PullRequestState } from './store.js';

/** Items per page for the commits and diffs reads (one page only). */
export const GITLAB_PER_PAGE = 100;
/** User-Agent of GitLab calls. */
export const GITLAB_USER_AGENT = 'chatd-chat-diff-status';
// The compare JSON carries the diff plus per-file metadata: allow 10% and 4 KiB on top of the diff cap.
const COMPARE_JSON_MAX_BYTES = MAX_DIFF_SIZE_BYTES + Math.floor(MAX_DIFF_SIZE_BYTES / 10) + 4096;

/** Options for `createGitLabProvider`. */
export type GitLabProviderOptions = {
  clock: Clock;
  /** Web base of the installation (a trailing `/api/v4` is dropped). @default GITLAB_BASE_URL */
  baseUrl?: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Conditional-request cache; off unless given (upstream does not revalidate GitLab reads). */
  etagCache?: EtagCache | false;
};

/** GitLab MR state to the common state: opened -> open, merged -> merged, anything else -> closed. */
export function mapGitLabState(state: string): PullRequestState {
  const s = state.trim().toLowerCase();
  if (s === 'opened') return 'open';
  if (s === 'merged') return 'merged';
  return 'closed';
}

/** Added and removed lines of a unified diff, not counting the `+++`/`---` file headers. */
export function countDiffLines(diff: string): { additions: number; deletions: number } {
  let additions = 0;
  let deletions = 0;
  for (const line of diff.split('\n')) {
    if (line.startsWith('+') && !line.startsWith('+++')) additions++;
    else if (line.startsWith('-') && !line.startsWith('---')) deletions++;
  }
  return { additions, deletions };
}

/** Parses GitLab's `changes_count` ("12", "1000+"); 0 when absent or unparsable. */
function parseChangesCount(value: string | null | undefined): number {
  const n = Number.parseInt((value ?? '').trim().replace(/\+$/, ''), 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** Creates a GitLab provider. */
export function createGitLabProvider(options: GitLabProviderOptions): Provider {
  const { clock } = options;
  const urls = createGitLabUrls(options.baseUrl ?? GITLAB_BASE_URL);
  const http = createProviderHttp({
    name: 'gitlab',
    clock,
    fetch: options.fetch ?? globalThis.fetch,
    resetHeader: GITLAB_RESET_HEADER,
    etagCache: options.etagCache || undefined,
  });
  const headers = { Accept: 'application/json', 'User-Agent': GITLAB_USER_AGENT };
  const project = (owner: string, repo: string) => `${urls.apiBaseUrl}/projects/${encodeURIComponent(`${owner}/${repo}`)}`;
  const getJson = <T>(url: string, token: string, schema: z.ZodType<T>, signal: AbortSignal | undefined, maxBytes?: number) =>
    http.getJson(url, token, schema, headers, signal, maxBytes);

  return {
    name: 'gitlab',
    async resolveBranchPullRequest(token, ref, callOptions: ProviderCallOptions = {}) {
      if (ref.owner === '' || ref.repo === '' || ref.branch === '') return null;
      const query = new URLSearchParams([
        ['order_by', 'updated_at'],
        ['per_page', '1'],
        ['sort', 'desc'],
        ['source_branch', ref.branch],
        ['state', 'opened'],
      ]);
      const { data } = await getJson(`${project(ref.owner, ref.repo)}/merge_requests?${query.toString()}`, token, gitLabMergeRequestListSchema, callOptions.signal);
      const first = data[0];
      if (!first) return null;
      return (first.web_url ? urls.parsePullRequestUrl(first.web_url) : null) ?? { owner: ref.owner, repo: ref.repo, number: first.iid };
    },

    async fetchPullRequestStatus(token, ref, callOptions: ProviderCallOptions = {}): Promise<PullRequestStatus> {
      const { signal } = callOptions;
      const base = `${project(ref.owner, ref.repo)}/merge_requests/${ref.number}`;
      const mr = (await getJson(base, token, gitLabMergeRequestSchema, signal)).data;
      const approvals = (await getJson(`${base}/approvals`, token, gitLabApprovalsSchema, signal)).data;
      const commits = await getJson(`${base}/commits?per_page=${GITLAB_PER_PAGE}`, token, gitLabCommitListSchema, signal);
      const diffs = (await getJson(`${base}/diffs?per_page=${GITLAB_PER_PAGE}`, token, gitLabDiffListSchema, signal)).data;
      const total = Number.parseInt(commits.headers.get('x-total') ?? '', 10);
      const lines = diffs.map((d) => countDiffLines(d.diff)).reduce((a, b) => ({ additions: a.additions + b.additions, deletions: a.deletions + b.deletions }), { additions: 0, deletions: 0 });
      return {
        title: mr.title,
        state: mapGitLabState(mr.state),
        draft: mr.draft === true,
        headSha: mr.diff_refs?.head_sha || mr.sha || '',
        headBranch: mr.source_branch,
        baseBranch: mr.target_branch,
        diffStats: { additions: lines.additions, deletions: lines.deletions, changedFiles: parseChangesCount(mr.changes_count) },
        changesRequested: false,
        approved: approvals.approved === true,
        reviewerCount: approvals.approved_by?.length ?? 0,
        authorLogin: mr.author?.username ?? '',
        authorAvatarUrl: mr.author?.avatar_url ?? '',
        prNumber: mr.iid,
        commits: total > 0 ? total : commits.data.length,
        fetchedAt: clock.now(),
      };
    },

    async fetchPullRequestDiff(token, ref, callOptions: ProviderCallOptions = {}) {
      return http.getText(`${project(ref.owner, ref.repo)}/merge_requests/${ref.number}/raw_diffs`, token, MAX_DIFF_SIZE_BYTES, { ...headers, Accept: 'text/plain' }, callOptions.signal);
    },

    async fetchBranchDiff(token, ref, callOptions: ProviderCallOptions = {}) {
      const { signal } = callOptions;
      if (ref.owner === '' || ref.repo === '' || ref.branch === '') return '';
      const repo = (await getJson(project(ref.owner, ref.repo), token, gitLabProjectSchema, signal)).data;
      const defaultBranch = repo.default_branch?.trim() ?? '';
      if (defaultBranch === '') throw new GitSyncError('INVALID_RESPONSE', 'gitlab project default branch is empty');
      const query = new URLSearchParams([
        ['from', defaultBranch],
        ['to', ref.branch],
        ['unidiff', 'true'],
      ]);
      const { data } = await getJson(`${project(ref.owner, ref.repo)}/repository/compare?${query.toString()}`, token, gitLabCompareSchema, signal, COMPARE_JSON_MAX_BYTES);
      if (data.compare_timeout) throw new GitSyncError('HTTP_ERROR', 'gitlab compare timed out');
      let out = '';
      for (const file of data.diffs) {
        // Collapsed and too-large entries carry no diff text; they are left out.
        if (file.collapsed || file.too_large) continue;
        const body = file.diff.endsWith('\n') || file.diff === '' ? file.diff : `${file.diff}\n`;
        out += `diff --git a/${file.old_path} b/${file.new_path}\n`;
        out += `--- ${file.new_file ? '/dev/null' : `a/${file.old_path}`}\n`;
        out += `+++ ${file.deleted_file ? '/dev/null' : `b/${file.new_path}`}\n`;
        out += body;
      }
      if (Buffer.byteLength(out) > MAX_DIFF_SIZE_BYTES) throw new GitSyncError('DIFF_TOO_LARGE', `diff exceeds maximum size of ${MAX_DIFF_SIZE_BYTES} bytes`);
      return out;
    },

    parseRepositoryOrigin: urls.parseRepositoryOrigin,
    parsePullRequestUrl: urls.parsePullRequestUrl,
    normalizePullRequestUrl: urls.normalizePullRequestUrl,
    buildBranchUrl: urls.buildBranchUrl,
    buildRepositoryUrl: urls.buildRepositoryUrl,
    buildPullRequestUrl: urls.buildPullRequestUrl,
  };
}

