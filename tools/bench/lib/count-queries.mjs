// A preload for bench children (`BENCH_NODE_ARGS="--import ./tools/bench/lib/count-queries.mjs"`): counts every
// PostgreSQL query the process sends through `pg`, by statement (its first 80 characters, whitespace collapsed).
// It also sums the milliseconds queries spend from `pool.query` to their answer (`poolMs`: waiting for a pooled
// connection included), and (`execMs`) of the queries sent on a checked-out client that return a promise (a
// transaction's; the pool's own calls pass a callback and are not timed there).
// On SIGUSR2 it writes the counts so far to `$BENCH_QUERY_COUNT_DIR/queries-<pid>.json` ({seq, total, byStatement,
// poolMs, poolQueries, execMs, loopDelay: the event loop's delay percentiles since the previous snapshot}),
// so a bench can diff two snapshots around a phase (reconnect-storm.bench.mjs). Changes nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pg from 'pg';

const counts = new Map();
let total = 0;
let seq = 0;
let poolMs = 0;
let poolQueries = 0;
let execMs = 0;
const timed = (result, add) => {
  if (!result || typeof result.then !== 'function') return result;
  const t0 = performance.now();
  result.then(
    () => add(performance.now() - t0),
    () => add(performance.now() - t0),
  );
  return result;
};
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 80);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    total++;
  }
  return timed(query.call(this, config, ...rest), (ms) => (execMs += ms));
};
const poolQuery = pg.Pool.prototype.query;
pg.Pool.prototype.query = function timedPoolQuery(...args) {
  poolQueries++;
  return timed(poolQuery.apply(this, args), (ms) => (poolMs += ms));
};

// The event loop's delay since the previous snapshot (a starved or blocked loop delays every socket and query).
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

const dir = process.env.BENCH_QUERY_COUNT_DIR;
if (dir) {
  process.on('SIGUSR2', () => {
    seq++;
    const loopDelay = { p50Ms: loop.percentile(50) / 1e6, p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 };
    loop.reset();
    const file = path.join(dir, `queries-${process.pid}.json`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ seq, total, byStatement: Object.fromEntries(counts), poolMs, poolQueries, execMs, loopDelay }));
    fs.renameSync(`${file}.tmp`, file);
  });
}
