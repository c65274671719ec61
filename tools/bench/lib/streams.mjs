// Runs one load shape against one contender: `chats` streams of `count` parts at `rate` parts/s, one
// subscriber each on the edge process, all starting at the same wall time; returns delivery figures.
import fs from 'node:fs';
import path from 'node:path';
import { percentile, sleep, wall } from './common.mjs';
import { Tally } from './contenders.mjs';

/** CPU time (user + system) of a child process in microseconds, from /proc (Linux; NaN elsewhere). */
function childCpuUs(pid) {
  try {
    // Fields 14 and 15 (utime, stime) in clock ticks; the command name (field 2) may hold spaces, so split after ')'.
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return NaN;
  }
}
/** CPU of each of the contender's processes and of this (client) process, in microseconds. */
function cpuSnapshot(contender) {
  const out = {};
  for (const [k, p] of Object.entries(contender.procs ?? {})) out[k] = childCpuUs(p.child.pid);
  const own = process.cpuUsage();
  out.client = own.user + own.system;
  return out;
}

/** Snapshots of the query counters of every process of `contender` (tools/bench/lib/count-queries.mjs, SIGUSR2). */
async function queryCounts(contender) {
  const out = {};
  for (const [k, p] of Object.entries(contender.procs ?? {})) {
    const file = path.join(process.env.BENCH_QUERY_COUNT_DIR, `queries-${p.child.pid}.json`);
    const prev = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).seq : 0;
    p.child.kill('SIGUSR2');
    for (let i = 0; i < 200 && !out[k]; i++) {
      if (fs.existsSync(file)) {
        const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
        if (snap.seq > prev) out[k] = snap;
      }
      if (!out[k]) await sleep(25);
    }
  }
  return out;
}

/** Samples pg_stat_activity every 50 ms (its own connection) until `stop()`, which returns the tallies. */
async function sampleWaits(dbUrl) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  const tally = new Map();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query(`SELECT state, coalesce(wait_event_type || ':' || wait_event, 'cpu') AS w, count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle' GROUP BY 1, 2`);
      samples++;
      for (const r of rows) tally.set(`${r.state} / ${r.w}`, (tally.get(`${r.state} / ${r.w}`) ?? 0) + r.n);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
      return `${samples} samples; ${[...tally].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${(n / samples).toFixed(2)}`).join(', ')}`;
    },
  };
}

/** Prints where the opens' time went (BENCH_OPEN_PHASES=1): each phase's percentiles, and the queries per process. */
function reportOpenPhases(contender, totalMs, after, before) {
  const phases = contender.openPhases ?? [];
  const pct = (k) => {
    const v = phases.map((p) => p[k]).sort((a, b) => a - b);
    return `p50 ${percentile(v, 50).toFixed(1)} / p90 ${percentile(v, 90).toFixed(1)} / p99 ${percentile(v, 99).toFixed(1)} ms`;
  };
  const lines = [`open phases ${contender.key}: ${phases.length} opens in ${totalMs.toFixed(0)} ms`];
  if (phases.length && 'postMs' in phases[0]) lines.push(`  POST answered: ${pct('postMs')}`, `  upgrade answered: ${pct('upgradeMs')}`);
  for (const k of Object.keys(after ?? {})) {
    const a = after[k];
    const b = before[k] ?? { total: 0, byStatement: {}, poolMs: 0, poolQueries: 0, execMs: 0 };
    const n = a.poolQueries - b.poolQueries;
    const top = Object.entries(a.byStatement)
      .map(([s, v]) => [s, v - (b.byStatement[s] ?? 0)])
      .filter(([, v]) => v > 0)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 30);
    lines.push(`  ${k}: ${a.total - b.total} queries; pool.query ${n} calls, mean ${((a.poolMs - b.poolMs) / Math.max(1, n)).toFixed(1)} ms; loop delay p99 ${a.loopDelay.p99Ms.toFixed(1)} max ${a.loopDelay.maxMs.toFixed(1)} ms`);
    for (const [s, v] of top) lines.push(`    ${v} x ${s}`);
  }
  console.error(lines.join('\n'));
}

/**
 * @returns {{chats, delivered, expected, missing, dups, rate, p50, p99, max, lateStart: boolean, timedOut: boolean, handles, tallies}}
 */
let batchSeq = 0;
export async function runStreams(contender, { chats, rate, count, leadMs = 300, graceMs = 10_000, openConcurrency = 10, keepOpen = false, onOpened }) {
  const latencies = [];
  const tallies = [];
  const handles = [];
  const batch = `b${process.pid}_${++batchSeq}`;
  const openedAt = wall();
  let next = 0;
  const opener = async () => {
    while (next < chats) {
      next++;
      const tally = new Tally(count, latencies);
      tallies.push(tally);
      handles.push(await contender.open({ rate, count, batch }, tally));
    }
  };
  contender.openPhases = [];
  const queriesBefore = process.env.BENCH_QUERY_COUNT_DIR ? await queryCounts(contender) : undefined;
  const cpuOpenBefore = cpuSnapshot(contender);
  const waits = process.env.BENCH_OPEN_PHASES && contender.dbUrl ? await sampleWaits(contender.dbUrl) : undefined;
  await Promise.all(Array.from({ length: Math.min(openConcurrency, chats) }, opener));
  if (process.env.BENCH_OPEN_PHASES) {
    const cpuOpen = cpuSnapshot(contender);
    console.error(`open CPU ms ${contender.key}: ${Object.keys(cpuOpen).map((k) => `${k} ${((cpuOpen[k] - cpuOpenBefore[k]) / 1000).toFixed(0)}`).join(' ')}`);
    if (waits) console.error(`PostgreSQL backends during the opens (samples every 50 ms, state / wait event: count): ${await waits.stop()}`);
    reportOpenPhases(contender, wall() - openedAt, queriesBefore && (await queryCounts(contender)), queriesBefore);
  }
  // Every stream waits at its start gate until all subscribers are in; then they all start together.
  const openMs = wall() - openedAt;
  const startAt = wall() + leadMs;
  const cpuBefore = cpuSnapshot(contender);
  await contender.go(batch, startAt);
  const lateStart = wall() > startAt;
  onOpened?.(handles, startAt);
  const expectedEnd = startAt + (rate > 0 ? (count / rate) * 1000 : 0);
  const timeout = sleep(Math.max(0, expectedEnd - wall()) + graceMs).then(() => 'timeout');
  const outcome = await Promise.race([Promise.all(tallies.map((t) => t.done)), timeout]);
  const cpuAfter = cpuSnapshot(contender);
  if (!keepOpen) for (const h of handles) h.close();
  const delivered = tallies.reduce((s, t) => s + t.unique, 0);
  const dups = tallies.reduce((s, t) => s + t.dups, 0);
  const firsts = tallies.filter((t) => t.first).map((t) => t.first);
  const first = firsts.length ? Math.min(...firsts) : NaN;
  const last = Math.max(0, ...tallies.map((t) => t.last));
  latencies.sort((a, b) => a - b);
  // CPU per delivered part of every process (A, B, the client) over the streaming: the figure host load moves least.
  const cpuUsPerPart = Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, (cpuAfter[k] - cpuBefore[k]) / Math.max(1, delivered)]));
  return {
    cpuUsPerPart,
    chats,
    expected: chats * count,
    delivered,
    missing: chats * count - delivered,
    gaps: tallies.reduce((s, t) => s + t.gaps, 0),
    dups,
    // Parts per second at the clients, from the first arrival to the last (the first part of each stream opens the window).
    rate: (delivered - Math.min(chats, delivered)) / ((last - first) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1),
    lateStart,
    openMs,
    timedOut: outcome === 'timeout',
    handles,
    tallies,
  };
}
