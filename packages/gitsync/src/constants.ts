// Timing constants of the diff-status worker, with the values of the original (seed 003).

/** Backoff for rows whose owner has no linked token: the user must act before a retry helps. */
export const NO_TOKEN_BACKOFF_MS = 10 * 60_000;
/** Backoff when a branch has no pull request yet, so a PR opened right after a push is found quickly. */
export const NO_PR_BACKOFF_MS = 15_000;
/** How long after `markStale` the short `NO_PR_BACKOFF_MS` applies; bounds API calls to about 8 per push. */
export const NO_PR_RETRY_WINDOW_MS = 2 * 60_000;
/** How long a successfully refreshed diff status stays fresh. */
export const DIFF_STATUS_TTL_MS = 120_000;
