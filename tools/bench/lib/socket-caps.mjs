// The socket caps every chatd benchmark sets (issue 21 item 5). Benchmarks open thousands of streams under one
// user (idle-memory and peers-s4: 10,000 clients; relay and peers-s1: hundreds of chats of one user), far past
// the per-user defaults (64 stream and 64 watch sockets) and at the global default (10,000), so they lift every
// cap explicitly to one value above their largest scenario. BENCHMARKS.md states these values.

/** One value for every cap: above the largest scenario (10,000 idle clients plus their chats' subscribers). */
export const BENCH_SOCKET_CAP = 50_000;

/** The caps as `startChatdServer` config (in-process replicas). */
export const BENCH_SOCKET_CAPS = {
  maxStreamSocketsPerUser: BENCH_SOCKET_CAP,
  maxWatchSocketsPerUser: BENCH_SOCKET_CAP,
  maxConnections: BENCH_SOCKET_CAP,
  maxRelayLegsPerPeer: BENCH_SOCKET_CAP,
};

/** The caps as environment variables (spawned `chatd` / `chatd-enterprise serve` replicas). */
export const BENCH_SOCKET_CAPS_ENV = {
  CHATD_MAX_STREAM_SOCKETS_PER_USER: String(BENCH_SOCKET_CAP),
  CHATD_MAX_WATCH_SOCKETS_PER_USER: String(BENCH_SOCKET_CAP),
  CHATD_MAX_CONNECTIONS: String(BENCH_SOCKET_CAP),
  CHATD_MAX_RELAY_LEGS_PER_PEER: String(BENCH_SOCKET_CAP),
};
