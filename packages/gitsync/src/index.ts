// Public entry of @chatd/gitsync: the Store port and memory store, the Refresher and Worker, the GitHub and
// GitLab providers with their URL, rate-limit and ETag helpers, and the one error class. Nothing else is public.
export {
  NO_TOKEN_BACKOFF_MS,
  NO_PR_BACKOFF_MS,
  NO_PR_RETRY_WINDOW_MS,
  DIFF_STATUS_TTL_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_BATCH_SIZE,
  DEFAULT_INTERVAL_MS,
  DEFAULT_TICK_TIMEOUT_MS,
  ACQUISITION_LOCK_MS,
  MARK_STALE_OFFSET_MS,
  RATE_LIMIT_PADDING_MS,
  MAX_DIFF_SIZE_BYTES,
  ERROR_BODY_LIMIT_BYTES,
  ETAG_CACHE_MAX_ENTRIES,
  ETAG_CACHE_MAX_BODY_BYTES,
} from './constants.js';
export {
  GitSyncError,
  ErrNoTokenAvailable,
  ErrRateLimitSkipped,
  ErrDiffTooLarge,
  hasErrorCode,
  findRateLimitError,
  errorMessage,
  wrapError,
} from './gitsync-error.js';
export type { GitSyncErrorCode, GitSyncErrorOptions } from './gitsync-error.js';
export type {
  Store,
  ChatDiffStatusRow,
  AcquiredChatDiffStatusRow,
  BackoffChatDiffStatusParams,
  UpsertChatDiffStatusParams,
  UpsertChatDiffStatusReferenceParams,
  GitSyncChat,
  PullRequestState,
} from './store.js';
export { createMemoryStore } from './memory-store.js';
export type { MemoryStore, MemoryStoreChat, MemoryStoreOptions } from './memory-store.js';
export type { GitSyncLogger } from './logger.js';
export { silentLogger } from './logger.js';
export type {
  Provider,
  ProviderResolver,
  ProviderCallOptions,
  PullRequestRef,
  BranchRef,
  ParsedOrigin,
  DiffStats,
  PullRequestStatus,
} from './provider.js';
export { createProviderResolver, createProvider } from './provider-resolver.js';
export type { CreateProviderOptions } from './provider-resolver.js';
export { createEnvTokenResolver, DEFAULT_TOKEN_VARIABLE, PUBLIC_ACCESS } from './token-resolver.js';
export type { TokenResolver, TokenResult, TokenResolverOptions, EnvTokenResolverOptions } from './token-resolver.js';
export { createOwnerScopedTokenResolver, parseOwnerList } from './owner-scoped-token-resolver.js';
export type { OwnerScopedTokenResolverOptions } from './owner-scoped-token-resolver.js';
export { createSemaphore } from './semaphore.js';
export type { Semaphore, Release } from './semaphore.js';
export { abortable } from './abortable.js';
export { createRefresher } from './refresher.js';
export type { Refresher, RefresherOptions, RefreshRequest, RefreshResult, RefreshOptions } from './refresher.js';
export { createWorker, WORKER_TICK_TAG, WORKER_TICK_TIMEOUT_TAG } from './worker.js';
export type { Worker, WorkerOptions, MarkStaleParams, PublishDiffStatusChange, RefreshChatOptions } from './worker.js';
export { toChatDiffStatus } from './chat-diff-status.js';
export { parseRetryAfterMs, detectRateLimit, GITHUB_RESET_HEADER, GITLAB_RESET_HEADER } from './rate-limit.js';
export { createEtagCache, etagCacheKey } from './etag-cache.js';
export type { EtagCache, EtagEntry, EtagCacheOptions } from './etag-cache.js';
export { readBodyCapped } from './read-body.js';
export type { CappedBody } from './read-body.js';
export {
  createGitHubUrls,
  gitHubWebBaseUrl,
  escapePathSegment,
  escapePathPreserveSlashes,
  isDotSegment,
  GITHUB_API_BASE_URL,
  GITHUB_WEB_BASE_URL,
} from './github-urls.js';
export type { GitHubUrls } from './github-urls.js';
export {
  createGitHubProvider,
  summarizeReviews,
  GITHUB_API_VERSION,
  GITHUB_USER_AGENT,
  GITHUB_DIFF_USER_AGENT,
  GITHUB_REVIEWS_PER_PAGE,
} from './github-provider.js';
export type { GitHubProviderOptions } from './github-provider.js';
export {
  gitHubPullListSchema,
  gitHubPullSchema,
  gitHubReviewListSchema,
  gitHubRepositorySchema,
} from './github-schemas.js';
export type { GitHubPull, GitHubReviewList } from './github-schemas.js';
export { createGitLabProvider, mapGitLabState, countDiffLines, GITLAB_PER_PAGE, GITLAB_USER_AGENT } from './gitlab-provider.js';
export type { GitLabProviderOptions } from './gitlab-provider.js';
export { createGitLabUrls, GITLAB_BASE_URL } from './gitlab-urls.js';
export type { GitLabUrls } from './gitlab-urls.js';
export {
  gitLabMergeRequestListSchema,
  gitLabMergeRequestSchema,
  gitLabApprovalsSchema,
  gitLabCommitListSchema,
  gitLabDiffListSchema,
  gitLabProjectSchema,
  gitLabCompareSchema,
} from './gitlab-schemas.js';
export { createProviderHttp, MAX_JSON_BYTES } from './provider-http.js';
export type { ProviderHttp, ProviderHttpOptions, JsonResponse } from './provider-http.js';
export { isDiffStatusStale, stripOriginCredentials, unsafeOriginSegment, unsafeBranchComponent } from './origin.js';
