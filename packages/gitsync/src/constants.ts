// Timing constants and limits of the diff-status worker and its providers, with the values of the
// original (seed 003, contract.md#gitsync-timings). Options fall back to these when unset or not positive.

/** Backoff for rows whose owner has no linked token: the user must act before a retry helps. */
export const NO_TOKEN_BACKOFF_MS = 10 * 60_000;
/** Backoff when a branch has no pull request yet, so a PR opened right after a push is found quickly. */
export const NO_PR_BACKOFF_MS = 15_000;
/** How long after `markStale` the short `NO_PR_BACKOFF_MS` applies; bounds API calls to about 8 per push. */
export const NO_PR_RETRY_WINDOW_MS = 2 * 60_000;
/** How long a successfully refreshed diff status stays fresh; also the backoff after any other row error. */
export const DIFF_STATUS_TTL_MS = 120_000;

/** Maximum provider calls in flight per `refresh` batch, shared by all groups. */
export const DEFAULT_CONCURRENCY = 10;
/** Rows acquired per worker tick. */
export const DEFAULT_BATCH_SIZE = 50;
/** Period of the worker's tick. */
export const DEFAULT_INTERVAL_MS = 10_000;
/** Deadline for one whole tick: acquire, provider calls and writes. */
export const DEFAULT_TICK_TIMEOUT_MS = 30_000;
/** Acquisition claim: an acquired row is not acquired again for this long (the retry interval after a crash). */
export const ACQUISITION_LOCK_MS = 5 * 60_000;
/** `markStale` sets `stale_at` this far in the past so the next tick picks the row up. */
export const MARK_STALE_OFFSET_MS = 1_000;

/** Added to every computed rate-limit wait. */
export const RATE_LIMIT_PADDING_MS = 5 * 60_000;
/** Largest diff a provider returns; larger ones fail with `DIFF_TOO_LARGE`. */
export const MAX_DIFF_SIZE_BYTES = 4 << 20;
/** How much of a failed response's body goes into the error message. */
export const ERROR_BODY_LIMIT_BYTES = 8192;
/** Entries kept by the ETag cache (least recently used evicted). */
export const ETAG_CACHE_MAX_ENTRIES = 2048;
/** Bodies larger than this are not kept by the ETag cache. */
export const ETAG_CACHE_MAX_BODY_BYTES = 1 << 20;
