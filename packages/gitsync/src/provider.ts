// The git provider contract (contract.md#git-providers): what the refresher needs from GitHub, GitLab or a fake.
// Providers parse and build web URLs locally and make HTTP calls only in the async methods; a rate
// limit surfaces as a GitSyncError with code RATE_LIMITED and a `retryAfter`. No provider state lives here.
import type { PullRequestState } from './store.js';

/** A pull request (GitHub) or merge request (GitLab, `number` is the IID). */
export type PullRequestRef = { owner: string; repo: string; number: number };

/** A branch of a repository. */
export type BranchRef = { owner: string; repo: string; branch: string };

/** A repository origin this provider understands. */
export type ParsedOrigin = { owner: string; repo: string; /** `<web base>/<owner>/<repo>` */ normalizedUrl: string };

/** Diff size counters. */
export type DiffStats = { additions: number; deletions: number; changedFiles: number };

/** Everything the refresher stores about a pull request. */
export type PullRequestStatus = {
  title: string;
  /** '' when the provider reports no state. */
  state: PullRequestState | '';
  draft: boolean;
  headSha: string;
  headBranch: string;
  baseBranch: string;
  diffStats: DiffStats;
  /** At least one reviewer's latest decisive review requests changes. */
  changesRequested: boolean;
  /** At least one approval and no outstanding change request. */
  approved: boolean;
  /** Distinct reviewers with a decisive review (approved, changes requested or dismissed). */
  reviewerCount: number;
  authorLogin: string;
  authorAvatarUrl: string;
  prNumber: number;
  commits: number;
  fetchedAt: Date;
};

/** Per-call options. */
export type ProviderCallOptions = {
  /** Aborts the HTTP call. */
  signal?: AbortSignal;
};

/**
 * A git hosting provider. `token` '' calls without credentials (public data only). Methods reject with
 * `GitSyncError` (codes RATE_LIMITED, HTTP_ERROR, INVALID_RESPONSE, TRANSPORT_ERROR, DIFF_TOO_LARGE,
 * and INVALID_ORIGIN for an owner, repo or branch with a `.`/`..` component).
 */
export interface Provider {
  /** Provider kind, e.g. 'github'. */
  readonly name: string;
  /** Full status of a pull request in as few calls as possible. */
  fetchPullRequestStatus(token: string, ref: PullRequestRef, options?: ProviderCallOptions): Promise<PullRequestStatus>;
  /** The open pull request for a branch, or null when there is none (or any part of `ref` is empty, with no call). */
  resolveBranchPullRequest(token: string, ref: BranchRef, options?: ProviderCallOptions): Promise<PullRequestRef | null>;
  /** Raw unified diff of a pull request; `DIFF_TOO_LARGE` above `MAX_DIFF_SIZE_BYTES`. */
  fetchPullRequestDiff(token: string, ref: PullRequestRef, options?: ProviderCallOptions): Promise<string>;
  /** Diff of a branch against the default branch; '' with no call when any part is empty. */
  fetchBranchDiff(token: string, ref: BranchRef, options?: ProviderCallOptions): Promise<string>;
  /** Owner, repo and normalised URL of a remote origin of this provider's host, or null. */
  parseRepositoryOrigin(raw: string): ParsedOrigin | null;
  /** The pull request a web URL points at, or null. */
  parsePullRequestUrl(raw: string): PullRequestRef | null;
  /** Canonical web URL of a pull request URL, or ''. */
  normalizePullRequestUrl(raw: string): string;
  /** Web URL of a branch, or '' when any part is empty. */
  buildBranchUrl(owner: string, repo: string, branch: string): string;
  /** Web URL of a repository, or '' when any part is empty. */
  buildRepositoryUrl(owner: string, repo: string): string;
  /** Web URL of a pull request, or '' when owner or repo is empty or the number is not positive. */
  buildPullRequestUrl(ref: PullRequestRef): string;
}

/** Maps a remote origin to the provider that handles it; null when none does (seed: `ProviderResolver`). */
export type ProviderResolver = (origin: string) => Provider | null;

