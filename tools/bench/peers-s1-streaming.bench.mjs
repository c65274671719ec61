#!/usr/bin/env node
// S1, cross-replica token streaming, chatd beside the peers a Node team would pick, in one run: one chat
// unpaced and at 100 / 1,000 / 2,500 parts/s, then 100 concurrent chats at 50 parts/s (111-byte parts).
// (1,000 concurrent chats are peers-s1b-1000-chats.bench.mjs, to stay within the time bound per file.)
// Every contender has a producer process "A" (generation) and an edge process "B" (subscribers), except raw
// ws, the physical limit: one process that generates and writes straight to its sockets. Every contender
// produces the same parts (index + emit wall time) with the same paced generator (lib/common.mjs); the
// client (this process) computes producer -> client latency and checks every part arrived exactly once.
//
//   node tools/bench/peers-s1-streaming.bench.mjs [--write] [--only chatd,raw,sio,rs] [--scenarios max,r100,...]
//     [--max-count 20000] (parts of the unpaced scenario: more for a longer profile window)
//
// Contenders: chatd (worker on replica A, subscribers on replica B through the multi-replica relay), raw ws,
// socket.io 4.8 + @socket.io/postgres-adapter 0.5 (A broadcasts to a room, B's clients joined it; every
// broadcast is one NOTIFY), resumable-stream 2.2 on Redis (A creates the stream, B resumes it for its client
// over chunked HTTP; every chunk is one PUBLISH). Embedded PostgreSQL (or DATABASE_URL) and Debian's
// redis-server (installed when missing) on loopback. Bounded to < 4 minutes; every process it starts is
// stopped at the end. --write records results/peers-s1-streaming.md and charts/peers-s1-streaming-*.svg.
import { arg } from './lib/common.mjs';
import { runS1 } from './lib/s1.mjs';

await runS1({
  name: 'peers-s1-streaming',
  title: 'S1: cross-replica token streaming, chatd beside its peers',
  scenarios: [
    // Unpaced runs stop 5 s after the first part is due (throughput = what arrived in the window).
    { key: 'max', label: '1 chat, unpaced (max)', chats: 1, rate: 0, count: Number(arg('max-count', '20000')), graceMs: 5_000 },
    { key: 'r100', label: '1 chat x 100/s', chats: 1, rate: 100, count: 200, graceMs: 4_000 },
    { key: 'r1000', label: '1 chat x 1,000/s', chats: 1, rate: 1_000, count: 2_000, graceMs: 4_000 },
    { key: 'r2500', label: '1 chat x 2,500/s', chats: 1, rate: 2_500, count: 5_000, graceMs: 4_000 },
    { key: 'c100', label: '100 chats x 50/s', chats: 100, rate: 50, count: 150, graceMs: 4_000, openConcurrency: 20 },
  ],
  scaleNote: 'Sizes: paced single-chat streams last 2 s, 100 chats x 50 parts/s last 3 s (5,000 parts/s in total). 1,000 concurrent chats are in the next section (their own file, for the time bound).',
});
process.exit(0);
