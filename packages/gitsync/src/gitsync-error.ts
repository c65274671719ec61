// The gitsync package's one error class, and the seed's sentinel errors as exported instances.

/** Error codes raised by `@chatd/gitsync`. */
export type GitSyncErrorCode = 'NO_TOKEN_AVAILABLE' | 'RATE_LIMIT_SKIPPED' | 'RATE_LIMITED' | 'PROVIDER_ERROR' | 'INVALID_ORIGIN' | 'TIMEOUT';

/** Error raised by `@chatd/gitsync`. */
export class GitSyncError extends Error {
  readonly code: GitSyncErrorCode;
  constructor(code: GitSyncErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GitSyncError';
    this.code = code;
  }
}

/** The owner has no token for the origin (seed: `ErrNoTokenAvailable`). */
export const ErrNoTokenAvailable = new GitSyncError('NO_TOKEN_AVAILABLE', 'no token available');
/** Skipped because an earlier request of the same group hit a rate limit (seed: `ErrRateLimitSkipped`). */
export const ErrRateLimitSkipped = new GitSyncError('RATE_LIMIT_SKIPPED', 'skipped due to rate limit');
