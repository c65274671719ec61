#!/usr/bin/env node
// S1 (continued), 1,000 concurrent chats, cross-replica, chatd beside its peers in one run; the set-up and
// the measurement are those of peers-s1-streaming.bench.mjs (lib/s1.mjs). Scaled down to 5 parts/s per chat
// (5,000 parts/s in total): 1,000 x 50-100 parts/s is 50,000-100,000 parts/s, more than any contender (raw ws
// included) delivers on the 2-core host, and this file must finish in under 4 minutes.
//
//   node tools/bench/peers-s1b-1000-chats.bench.mjs [--write] [--only chatd,raw,sio,rs]
//
// BENCH_OPEN_PHASES=1 prints where the opens' time went (lib/streams.mjs): chatd's POST and upgrade phases, each
// process's CPU and PostgreSQL's backends by wait event during the opens; add BENCH_QUERY_COUNT_DIR=<dir> and
// BENCH_NODE_ARGS="--import <abs path>/tools/bench/lib/count-queries.mjs" for the statements each process sent.
import { runS1 } from './lib/s1.mjs';

await runS1({
  name: 'peers-s1b-1000-chats',
  title: 'S1 (continued): 1,000 concurrent chats, chatd beside its peers',
  scenarios: [{ key: 'c1000', label: '1,000 chats x 5/s', chats: 1_000, rate: 5, count: 20, graceMs: 5_000, openConcurrency: 20 }],
  scaleNote: 'Scaled down: 1,000 chats at 5 parts/s (4 s, 5,000 parts/s in total) instead of 50-100 parts/s (50,000-100,000 parts/s, beyond what any contender, raw ws included, delivers on this 2-core host). Subscribing includes creating the chats (chatd: a REST call each on B), which is not timed in the figures.',
});
process.exit(0);
