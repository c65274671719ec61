// The gitsync package's one error class, the seed's sentinel errors as exported instances, and helpers
// that look through `cause` chains the way Go's errors.Is / errors.As do. Callers branch on codes,
// never on messages.

/** Error codes raised by `@chatd/gitsync`. */
export type GitSyncErrorCode =
  | 'NO_TOKEN_AVAILABLE'
  | 'RATE_LIMIT_SKIPPED'
  | 'RATE_LIMITED'
  | 'PROVIDER_ERROR'
  | 'INVALID_ORIGIN'
  | 'INVALID_PR_URL'
  | 'NO_PROVIDER'
  | 'TOKEN_RESOLUTION_FAILED'
  | 'HTTP_ERROR'
  | 'INVALID_RESPONSE'
  | 'TRANSPORT_ERROR'
  | 'DIFF_TOO_LARGE'
  | 'STORE_ERROR'
  | 'TIMEOUT'
  | 'ABORTED';

/** Extra fields a `GitSyncError` may carry. */
export type GitSyncErrorOptions = {
  cause?: unknown;
  /** For `RATE_LIMITED` (and errors wrapping one): the padded time before which the provider must not be called again. */
  retryAfter?: Date;
  /** For `HTTP_ERROR`: the HTTP status code of the failed response. */
  status?: number;
};

/** Error raised by `@chatd/gitsync`. */
export class GitSyncError extends Error {
  readonly code: GitSyncErrorCode;
  readonly retryAfter: Date | undefined;
  readonly status: number | undefined;
  constructor(code: GitSyncErrorCode, message: string, options: GitSyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GitSyncError';
    this.code = code;
    this.retryAfter = options.retryAfter;
    this.status = options.status;
  }
}

/** The owner has no token for the origin (seed: `ErrNoTokenAvailable`). */
export const ErrNoTokenAvailable = new GitSyncError('NO_TOKEN_AVAILABLE', 'no token available');
/** Skipped because an earlier request of the same group hit a rate limit (seed: `ErrRateLimitSkipped`). */
export const ErrRateLimitSkipped = new GitSyncError('RATE_LIMIT_SKIPPED', 'skipped due to rate limit');
/** A provider response body exceeded `MAX_DIFF_SIZE_BYTES` (upstream: `ErrDiffTooLarge`). */
export const ErrDiffTooLarge = new GitSyncError('DIFF_TOO_LARGE', 'diff exceeds maximum size of 4194304 bytes');

// Bounded so that a cyclic cause chain cannot loop forever.
const MAX_CAUSE_DEPTH = 32;

/** Walks `err` and its `cause` chain, outermost first. */
function* causeChain(err: unknown): Generator<unknown> {
  let current = err;
  for (let i = 0; i < MAX_CAUSE_DEPTH && current !== undefined && current !== null; i++) {
    yield current;
    current = current instanceof Error ? current.cause : undefined;
  }
}

/** True when `err` or any error in its `cause` chain is a `GitSyncError` with `code` (like Go's `errors.Is`). */
export function hasErrorCode(err: unknown, code: GitSyncErrorCode): boolean {
  for (const e of causeChain(err)) if (e instanceof GitSyncError && e.code === code) return true;
  return false;
}

/**
 * The innermost `RATE_LIMITED` error in `err`'s chain, if any (like Go's `errors.As(err, *RateLimitError)`): the one the
 * provider raised, with the plain `rate limited until <time>` message, rather than a wrapper that copied its code.
 */
export function findRateLimitError(err: unknown): GitSyncError | undefined {
  let found: GitSyncError | undefined;
  for (const e of causeChain(err)) if (e instanceof GitSyncError && e.code === 'RATE_LIMITED') found = e;
  return found;
}

/** Message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Wraps `err` as `<prefix>: <message>`, keeping it as `cause`. The wrapper takes over a `GitSyncError`'s code and
 * `retryAfter`, so a caller sees a rate limit at the top as well as through the chain; anything else gets `fallback`.
 */
export function wrapError(prefix: string, err: unknown, fallback: GitSyncErrorCode = 'PROVIDER_ERROR'): GitSyncError {
  const inner = err instanceof GitSyncError ? err : undefined;
  return new GitSyncError(inner?.code ?? fallback, `${prefix}: ${errorMessage(err)}`, {
    cause: err,
    retryAfter: inner?.retryAfter,
    status: inner?.status,
  });
}
