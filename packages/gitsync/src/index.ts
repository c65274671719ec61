export { NO_TOKEN_BACKOFF_MS, NO_PR_BACKOFF_MS, NO_PR_RETRY_WINDOW_MS, DIFF_STATUS_TTL_MS } from './constants.js';
export { GitSyncError, ErrNoTokenAvailable, ErrRateLimitSkipped } from './gitsync-error.js';
export type { GitSyncErrorCode } from './gitsync-error.js';
