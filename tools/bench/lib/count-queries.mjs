// A preload for bench children (`BENCH_NODE_ARGS="--import ./tools/bench/lib/count-queries.mjs"`): counts every
// PostgreSQL query the process sends through `pg`, by statement (its first 80 characters, whitespace collapsed).
// On SIGUSR2 it writes the counts so far to `$BENCH_QUERY_COUNT_DIR/queries-<pid>.json` ({seq, total, byStatement}),
// so a bench can diff two snapshots around a phase (reconnect-storm.bench.mjs). Changes nothing else.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const counts = new Map();
let total = 0;
let seq = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 80);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    total++;
  }
  return query.call(this, config, ...rest);
};

const dir = process.env.BENCH_QUERY_COUNT_DIR;
if (dir) {
  process.on('SIGUSR2', () => {
    seq++;
    const file = path.join(dir, `queries-${process.pid}.json`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ seq, total, byStatement: Object.fromEntries(counts) }));
    fs.renameSync(`${file}.tmp`, file);
  });
}
