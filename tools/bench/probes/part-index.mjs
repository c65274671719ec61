#!/usr/bin/env node
// Probe (issue 36): which parts, by their index in their stream, are the slowest 1 % of a chatd S1 scenario? Runs the
// S1 chatd pair (lib/contenders.mjs) alone and prints, per round, p50/p99, where the slowest 1 % fall (part 1, 2-3,
// 4-10, later) and the first parts' latency. A tail made of first parts is a start-up cost, not a streaming one.
//
//   node tools/bench/probes/part-index.mjs <rate> <parts> <rounds> <chats>     e.g. 50 150 3 100
import { startPostgres } from '../lib/services.mjs';
import { chatd, Tally } from '../lib/contenders.mjs';
import { stopChildren, wall } from '../lib/common.mjs';
import { runStreams } from '../lib/streams.mjs';
const [rate, count, rounds, chats] = process.argv.slice(2).map(Number);
const pg = await startPostgres('probe');
const c = chatd({ dbUrl: pg.url });
await c.start();
const orig = Tally.prototype.add;
let rec = [];
Tally.prototype.add = function (index, at, now = wall()) { rec.push([index, now - at]); return orig.call(this, index, at, now); };
for (let r = 0; r < rounds; r++) {
  rec = [];
  const res = await runStreams(c, { chats, rate, count, graceMs: 4000, openConcurrency: 20 });
  const sorted = [...rec].sort((a, b) => b[1] - a[1]);
  const top = sorted.slice(0, Math.ceil(rec.length / 100));
  const h = { 'idx1': 0, 'idx2-3': 0, 'idx4-10': 0, 'rest': 0 };
  for (const [i] of top) h[i === 1 ? 'idx1' : i <= 3 ? 'idx2-3' : i <= 10 ? 'idx4-10' : 'rest']++;
  const first = rec.filter(([i]) => i === 1).map(([, l]) => l).sort((a, b) => a - b);
  console.log(`round ${r}: p50 ${res.p50.toFixed(1)} p99 ${res.p99.toFixed(1)} top1% by index ${JSON.stringify(h)}; first parts p50 ${first[first.length >> 1]?.toFixed(1)} max ${first.at(-1)?.toFixed(1)}; p99 without idx1 ${(() => { const o = rec.filter(([i]) => i !== 1).map(([, l]) => l).sort((a, b) => a - b); return o[Math.floor(o.length * 0.99)]?.toFixed(1); })()}`);
}
await stopChildren(2000); await pg.stop(); process.exit(0);
