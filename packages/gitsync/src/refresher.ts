// The Refresher (seed 003, contract.md#gitsync-refresher): stateless logic that turns stale chat_diff_statuses rows into
// upsert params by asking git providers. Rows are grouped by (owner, origin) so provider and token are
// resolved once per group; provider calls run concurrently under one shared bound; a rate limit in a group
// skips that group's remaining rows. It never touches the Store and never throws for a row's failure.
import type { Clock } from '@chatd/clock';
import { DEFAULT_CONCURRENCY, DIFF_STATUS_TTL_MS } from './constants.js';
import { ErrNoTokenAvailable, ErrRateLimitSkipped, GitSyncError, findRateLimitError, wrapError } from './gitsync-error.js';
import { silentLogger, type GitSyncLogger } from './logger.js';
import type { Provider, PullRequestRef, ProviderResolver } from './provider.js';
import { createSemaphore, type Semaphore } from './semaphore.js';
import type { ChatDiffStatusRow, UpsertChatDiffStatusParams } from './store.js';
import { PUBLIC_ACCESS, type TokenResolver, type TokenResult } from './token-resolver.js';

/** A stale row and the owner whose token pays for the API calls (seed: `RefreshRequest`). */
export type RefreshRequest = { row: ChatDiffStatusRow; ownerId: string };

/**
 * The outcome for one request (seed: `RefreshResult`):
 * `params` set, no `error`: success, upsert it; neither: no pull request yet, skip; `error` set: row-level failure.
 */
export type RefreshResult = {
  request: RefreshRequest;
  params?: UpsertChatDiffStatusParams;
  error?: Error;
};

/** Options of one `refresh` call. */
export type RefreshOptions = {
  /** Aborts waiting for a slot and the provider calls; affected rows get the abort reason as their error. */
  signal?: AbortSignal;
};

/** Fetches fresh pull request data for stale rows. */
export interface Refresher {
  /** One result per request, in input order. Rejects only on a catastrophic failure (currently never). */
  refresh(requests: readonly RefreshRequest[], options?: RefreshOptions): Promise<RefreshResult[]>;
}

/** Options for `createRefresher`. */
export type RefresherOptions = {
  /** Maps an origin to its provider. */
  providers: ProviderResolver;
  /** Obtains the owner's token for an origin. */
  tokens: TokenResolver;
  /** Source of `refreshed_at` and `stale_at`. */
  clock: Clock;
  logger?: GitSyncLogger;
  /** Maximum provider calls in flight per batch, shared by all groups; ignored unless > 0. @default DEFAULT_CONCURRENCY */
  concurrency?: number;
};

type Group = { ownerId: string; origin: string; indices: number[] };

const emptyToNull = (s: string): string | null => (s === '' ? null : s);

function asError(err: unknown, fallback: GitSyncError['code']): Error {
  if (err instanceof Error) return err;
  return new GitSyncError(fallback, String(err), { cause: err });
}

/** Creates a Refresher. */
export function createRefresher(options: RefresherOptions): Refresher {
  const { providers, tokens, clock } = options;
  const logger = options.logger ?? silentLogger;
  const concurrency = options.concurrency !== undefined && options.concurrency > 0 ? options.concurrency : DEFAULT_CONCURRENCY;

  async function refreshOne(provider: Provider, token: string, row: ChatDiffStatusRow, signal: AbortSignal | undefined): Promise<UpsertChatDiffStatusParams | null> {
    let ref: PullRequestRef;
    let prUrl: string;
    if (row.url) {
      // A known URL wins: branch resolution is skipped, and the URL is stored as it was.
      const parsed = provider.parsePullRequestUrl(row.url);
      if (!parsed) throw new GitSyncError('INVALID_PR_URL', `parse pull request URL "${row.url}"`);
      ref = parsed;
      prUrl = row.url;
    } else {
      const origin = provider.parseRepositoryOrigin(row.git_remote_origin);
      if (!origin) throw new GitSyncError('INVALID_ORIGIN', `parse repository origin "${row.git_remote_origin}"`);
      let resolved: PullRequestRef | null;
      try {
        resolved = await provider.resolveBranchPullRequest(token, { owner: origin.owner, repo: origin.repo, branch: row.git_branch }, { signal });
      } catch (err) {
        throw wrapError('resolve branch pull request', err);
      }
      if (!resolved) return null;
      ref = resolved;
      prUrl = provider.buildPullRequestUrl(ref);
    }

    let status;
    try {
      status = await provider.fetchPullRequestStatus(token, ref, { signal });
    } catch (err) {
      throw wrapError('fetch pull request status', err);
    }

    const now = clock.nowMs();
    return {
      chat_id: row.chat_id,
      url: emptyToNull(prUrl),
      pull_request_state: status.state === '' ? null : status.state,
      pull_request_title: status.title,
      pull_request_draft: status.draft,
      changes_requested: status.changesRequested,
      additions: status.diffStats.additions,
      deletions: status.diffStats.deletions,
      changed_files: status.diffStats.changedFiles,
      author_login: emptyToNull(status.authorLogin),
      author_avatar_url: emptyToNull(status.authorAvatarUrl),
      base_branch: emptyToNull(status.baseBranch),
      head_branch: emptyToNull(status.headBranch),
      pr_number: status.prNumber,
      commits: status.commits,
      approved: status.approved,
      reviewer_count: status.reviewerCount,
      refreshed_at: new Date(now),
      stale_at: new Date(now + DIFF_STATUS_TTL_MS),
    };
  }

  function skipped(rateLimit: GitSyncError): GitSyncError {
    return new GitSyncError('RATE_LIMIT_SKIPPED', `${ErrRateLimitSkipped.message}: ${rateLimit.message}`, {
      cause: rateLimit,
      retryAfter: rateLimit.retryAfter,
    });
  }

  function abortError(err: unknown): Error {
    return err instanceof GitSyncError ? err : new GitSyncError('ABORTED', 'refresh aborted', { cause: err });
  }

  async function runRow(
    result: RefreshResult,
    provider: Provider,
    token: string,
    group: { rateLimit: GitSyncError | undefined },
    semaphore: Semaphore,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    // Checked before and after waiting for a slot: a sibling may have been rate limited meanwhile.
    if (group.rateLimit) {
      result.error = skipped(group.rateLimit);
      return;
    }
    let release;
    try {
      release = await semaphore.acquire(signal);
    } catch (err) {
      result.error = abortError(err);
      return;
    }
    try {
      if (group.rateLimit) {
        result.error = skipped(group.rateLimit);
        return;
      }
      const params = await refreshOne(provider, token, result.request.row, signal);
      if (params) result.params = params;
    } catch (err) {
      const error = asError(err, 'PROVIDER_ERROR');
      result.error = error;
      const rateLimit = findRateLimitError(error);
      if (rateLimit && !group.rateLimit) group.rateLimit = rateLimit;
    } finally {
      release();
    }
  }

  return {
    async refresh(requests, refreshOptions = {}) {
      const { signal } = refreshOptions;
      const results: RefreshResult[] = requests.map((request) => ({ request }));
      const groups = new Map<string, Group>();
      requests.forEach((req, i) => {
        // The origin is used raw: one repository spelled two ways forms two groups, as upstream.
        const key = JSON.stringify([req.ownerId, req.row.git_remote_origin]);
        const group = groups.get(key) ?? { ownerId: req.ownerId, origin: req.row.git_remote_origin, indices: [] };
        group.indices.push(i);
        groups.set(key, group);
      });

      const resolved: Array<{ group: Group; provider: Provider; token: string }> = [];
      const failGroup = (group: Group, error: Error) => {
        for (const i of group.indices) results[i]!.error = error;
      };

      // Provider and token are resolved once per group, one group after another.
      for (const group of groups.values()) {
        if (signal?.aborted) {
          failGroup(group, abortError(signal.reason));
          continue;
        }
        let provider: Provider | null;
        try {
          provider = providers(group.origin);
        } catch (err) {
          logger.debug({ err, origin: group.origin }, 'gitsync: provider resolver threw');
          provider = null;
        }
        if (!provider) {
          failGroup(group, new GitSyncError('NO_PROVIDER', `no provider for origin "${group.origin}"`));
          continue;
        }
        let token: TokenResult;
        try {
          token = await tokens(group.ownerId, group.origin, { signal });
        } catch (err) {
          failGroup(group, wrapError('resolve token', err, 'TOKEN_RESOLUTION_FAILED'));
          continue;
        }
        if (token === PUBLIC_ACCESS) {
          // Providers send no Authorization header for the empty token.
          resolved.push({ group, provider, token: '' });
          continue;
        }
        if (!token) {
          failGroup(group, ErrNoTokenAvailable);
          continue;
        }
        resolved.push({ group, provider, token });
      }

      // HTTP phase: every row of every resolved group at once, bounded by the one semaphore.
      const semaphore = createSemaphore(concurrency);
      const tasks: Promise<void>[] = [];
      for (const { group, provider, token } of resolved) {
        const state = { rateLimit: undefined as GitSyncError | undefined };
        for (const i of group.indices) tasks.push(runRow(results[i]!, provider, token, state, semaphore, signal));
      }
      await Promise.all(tasks);
      return results;
    },
  };
}
