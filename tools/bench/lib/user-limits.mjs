// The per-user limits every chatd benchmark sets (issue 33). Benchmarks run hundreds of chats and thousands of writes
// under one user, far past the defaults (5 chats generating at once per user; 60 writes a minute with a burst of 20),
// so they lift them explicitly to one value above their largest scenario. BENCHMARKS.md states these values.

/** One value for the running cap, the write rate per minute and the write burst. */
export const BENCH_USER_LIMIT = 1_000_000;

/** The limits as `startChatdServer` config (in-process replicas). */
export const BENCH_USER_LIMITS = {
  maxRunningPerUser: BENCH_USER_LIMIT,
  writeRatePerMinute: BENCH_USER_LIMIT,
  writeBurst: BENCH_USER_LIMIT,
};

/** The limits as environment variables (spawned `chatd` / `chatd-enterprise serve` replicas). */
export const BENCH_USER_LIMITS_ENV = {
  CHATD_MAX_RUNNING_PER_USER: String(BENCH_USER_LIMIT),
  CHATD_WRITE_RATE_PER_MINUTE: String(BENCH_USER_LIMIT),
  CHATD_WRITE_BURST: String(BENCH_USER_LIMIT),
};
