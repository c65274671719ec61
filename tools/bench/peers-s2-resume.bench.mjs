#!/usr/bin/env node
// S2, resume: many random disconnects mid-stream, each client reconnecting to the OTHER process with the
// contender's own resume mechanism; counts missing and duplicated parts and the resume time (disconnect ->
// first part after reconnecting), chatd beside the peers in one run.
//
//   node tools/bench/peers-s2-resume.bench.mjs [--write] [--only chatd,sio,rs]
//
// chatd: the stream cursor (after_id + run_id + after_seq), alternating between replica B (relayed) and
// replica A (the worker's). socket.io + @socket.io/postgres-adapter: a new connection to the other server
// and re-joining the room (the postgres adapter has no connection-state recovery: it extends the cluster
// adapter, whose restoreSession returns nothing). resumable-stream: resumeExistingStream(id, skipCharacters)
// on the other process. Raw ws is not in this scenario: it has no resume mechanism (a reconnect is a new
// stream). Bounded < 4 minutes; every process it starts is stopped. --write records results/peers-s2-resume.md.
import { performance } from 'node:perf_hooks';
import { arg, fmt, load, machineLine, percentile, progress, sleep, stopChildren, wall, watchdog, writeResult } from './lib/common.mjs';
import { autoResume, chatd, resumableStream, socketIo, worldPostgres } from './lib/contenders.mjs';
import { startPostgres, startRedis } from './lib/services.mjs';
import { runStreams } from './lib/streams.mjs';
import { writeChart } from './lib/svg.mjs';

const started = performance.now();
const WRITE = process.argv.includes('--write');
const ONLY = arg('only', '').split(',').filter(Boolean);
const CHATS = Number(arg('chats', 50));
const RATE = Number(arg('rate', 50));
const COUNT = Number(arg('count', 1_000)); // 20 s per stream at 50 parts/s
const DISCONNECTS = Number(arg('disconnects', 1_000));
let pg;
watchdog(235_000, async () => {
  await stopChildren(2_000);
  await pg?.stop();
});

const results = {};
let contenders = [];
let redis;
try {
  pg = await startPostgres('peers_s2');
  const all = [chatd({ dbUrl: pg.url }), socketIo({ dbUrl: await pg.database('sio') }), worldPostgres({ dbUrl: await pg.database('wp') })];
  try {
    redis = await startRedis();
    all.push(resumableStream({ redisUrl: redis.url }));
  } catch (err) {
    console.error(`bench: resumable-stream skipped: ${err.message}`);
  }
  contenders = all.filter((c) => !ONLY.length || ONLY.includes(c.key));
  await Promise.all(contenders.map((c) => c.start()));
  progress(started, `contenders ready: ${contenders.map((c) => c.key).join(', ')}`);

  for (const c of contenders) {
    const resumeMs = [];
    let done = 0;
    let failed = 0;
    let loops;
    const perClient = Math.ceil(DISCONNECTS / CHATS);
    let deadline = wall() + 90_000;
    try {
      const r = await runStreams(c, {
        chats: CHATS,
        rate: RATE,
        count: COUNT,
        graceMs: 10_000,
        openConcurrency: 20,
        onOpened: (handles) => {
          // Each client drops its connection every 5-50 parts it receives (random), up to `perClient` times, while
          // parts remain: mid-stream by construction, whatever pace a contender keeps.
          loops = Promise.all(
            handles.map(async (h) => {
              for (let k = 0; k < perClient; k++) {
                const at = h.tally.unique + 5 + Math.floor(Math.random() * 46);
                while (h.tally.unique < at && h.tally.unique < h.tally.count && wall() < deadline) await sleep(10);
                if (h.tally.unique >= h.tally.count || wall() >= deadline || done >= DISCONNECTS) return;
                while (h.resuming) await sleep(10);
                done++;
                try {
                  resumeMs.push(await Promise.race([c.resume(h), sleep(10_000).then(() => Promise.reject(new Error('no part within 10 s')))]));
                } catch {
                  failed++;
                  autoResume(c, h);
                }
              }
            }),
          );
        },
      });
      deadline = 0; // the run is over: stop disconnecting
      await loops;
      resumeMs.sort((a, b) => a - b);
      const durable = r.handles.reduce((s, h) => s + (h.durable ?? 0), 0);
      const discontinuities = r.handles.reduce((s, h) => s + (h.discontinuities ?? 0), 0);
      const afterDurable = r.handles.reduce((s, h) => s + (h.afterDurable ?? 0), 0);
      const unplanned = r.handles.reduce((s, h) => s + (h.unplanned ?? 0), 0);
      if (r.timedOut) progress(started, `${c.key}: not complete after the grace period`);
      results[c.key] = { ...r, disconnects: done, failed, resumeP50: percentile(resumeMs, 50), resumeP99: percentile(resumeMs, 99), durable, discontinuities, afterDurable, unplanned };
      progress(started, `${c.key}: ${done} disconnects (${failed} failed, ${r.handles.reduce((s, h) => s + (h.unplanned ?? 0), 0)} unplanned), missing ${r.missing} (gaps ${r.gaps}), dups ${r.dups}, resume p50 ${fmt(percentile(resumeMs, 50), 1)} ms p99 ${fmt(percentile(resumeMs, 99), 1)} ms, part p99 ${fmt(r.p99, 1)} ms${r.timedOut ? ' (timed out)' : ''}`);
      for (const h of r.handles) h.close();
    } catch (err) {
      results[c.key] = { error: String(err.message ?? err).slice(0, 160) };
      progress(started, `${c.key}: error ${err.message}`);
    }
  }
} finally {
  await stopChildren();
  await pg?.stop();
}

const totalS = ((performance.now() - started) / 1000).toFixed(0);
const ok = (r) => r && !r.error;
const ours = results.chatd;
const table = [
  '| contender | resume mechanism | disconnects | missing parts (of which skipped: gaps before a later part) | duplicated parts | resume p50 ms | resume p99 ms | part latency p99 ms | peer / chatd resume p99 |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ...contenders.map((c) => {
    const r = results[c.key];
    const how = { chatd: 'cursor (after_id, run_id, after_seq) on the other replica', sio: 'reconnect to the other server + re-join the room', rs: 'resumeExistingStream(id, skipCharacters) on the other process', wp: 'readFromStream(name, startIndex) on the other process' }[c.key];
    if (!ok(r)) return `| ${c.name} | ${how} | ${r?.error ?? 'not run'} | | | | | | |`;
    return `| ${c.name} | ${how} | ${r.disconnects}${r.failed ? ` (${r.failed} failed)` : ''}${r.unplanned ? ` + ${r.unplanned} unplanned` : ''} | ${fmt(r.missing)} of ${fmt(r.expected)} (${fmt(r.gaps)} skipped)${r.timedOut ? ', cut at the time limit' : ''} | ${fmt(r.dups)} | ${fmt(r.resumeP50, 1)} | ${fmt(r.resumeP99, 1)} | ${fmt(r.p99, 1)} | ${c.key !== 'chatd' && ok(ours) ? fmt(r.resumeP99 / ours.resumeP99, 2) : ''} |`;
  }),
].join('\n');
const zero = ok(ours) && ours.missing === 0 && ours.dups === 0;
let chart = '';
if (WRITE) {
  chart = writeChart('peers-s2-resume', {
    title: 'S2: resume after random disconnects (lower is better)',
    unit: 'missing + duplicated parts, and resume p50 / p99 in ms',
    groups: ['missing + dup parts', 'resume p50 ms', 'resume p99 ms'],
    series: contenders.filter((c) => ok(results[c.key])).map((c) => ({ name: c.name, values: [results[c.key].missing + results[c.key].dups, results[c.key].resumeP50, results[c.key].resumeP99] })),
    log: true,
    note: `${machineLine()}; load ${load()}; a missing bar is a zero`,
  });
}
const md = `# S2: resume after random disconnects, chatd beside its peers

Produced by \`node tools/bench/peers-s2-resume.bench.mjs --write\` (part of \`npm run bench\`) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${totalS} s.
${machineLine()}; PostgreSQL ${pg?.version ?? '?'}${redis ? `; Redis ${redis.version}` : ''}. **Load average at the end: ${load()}** (shared host: expect noise).

## How it is measured

- ${CHATS} streams of ${COUNT} parts (111 bytes) at ${RATE} parts/s each, one client per stream, set up as in S1 (producer A,
  edge B, clients first on B). Each client drops its connection after every 5-50 parts it receives (random), up to
  ${Math.ceil(DISCONNECTS / CHATS)} times while parts remain (${DISCONNECTS} disconnects in all at most), and reconnects at once to the other process
  (B -> A -> B ...) with the contender's own resume mechanism. A stream that ends or fails without being asked to is
  resumed the same way ("unplanned"), as a real client would. A resume that brings no part within 10 s counts as failed
  (and the client tries again). Every part is checked at the end: missing and duplicated, over all streams.
- Resume time: from dropping the connection to the first part received on the new one. Each contender's run is cut 10 s
  after its streams should have ended: "missing" then includes parts not delivered yet (a slow contender), while
  "skipped" counts only the parts missing before a later part that did arrive (lost, not late).
- The disconnect count differs per contender: a client disconnects after 5-50 parts on each connection, so a contender
  whose resume takes longer delivers a larger backlog per reconnect and completes its streams in fewer cycles.
- chatd: the client keeps the cursor of the contract (the last durable message id, the run id and the last seq) and
  reconnects with \`after_id\`, \`run_id\` and \`after_seq\`; on A it reads the worker's live buffer, on B through the relay.
  A reply that finished while disconnected arrives as its durable message, which replaces its parts (counted as received,
  never as duplicates), as the contract tells clients. Discontinuity events: ${ok(ours) ? ours.discontinuities : '-'}.
  Parts of a run that the server sent after that run's durable message (the contract says it sends none; a client that
  follows the contract drops them): ${ok(ours) ? fmt(ours.afterDurable) : '-'}, in ${ok(ours) ? ours.durable : '-'} snapshots that carried a durable reply.
- socket.io + @socket.io/postgres-adapter: socket.io's connection-state recovery needs an adapter that keeps sessions and
  packets; the postgres adapter does not (it extends the cluster adapter, whose \`restoreSession\` returns nothing), so its
  resume is a new connection to the other server that re-joins the room. Whatever was broadcast in between is lost.
- resumable-stream: \`resumeExistingStream(id, skipCharacters)\` on the other process, with skipCharacters = the bytes of the
  whole parts received; the producer replays its in-memory buffer from there over Redis, then live chunks.
- world-postgres streamer: \`readFromStream(name, startIndex)\` on the other process with startIndex = the parts received;
  the chunks are rows in PostgreSQL, so any process can serve the rest, from the table and then from notifications.
- Raw ws is not in this scenario: it has no resume mechanism (a reconnect is a new stream).

## Results

${table}

**chatd: ${ok(ours) ? `${fmt(ours.missing)} missing and ${fmt(ours.dups)} duplicated parts over ${ours.disconnects} disconnects` : 'not run'} (goal: zero loss${zero ? ', met' : ', NOT met'}).**

${chart ? `![${chart}](${chart})` : ''}

## Why it comes out this way, and what would move it

- chatd's cursor names a position in one run (\`run_id\` + \`seq\`), and every replica can serve it: the worker's replica from
  its live buffer, any other through a relay that forwards the same cursor. So a reconnect anywhere resumes exactly.
  Its resume time is a WebSocket handshake plus a snapshot query on PostgreSQL (and, on B, a relay dial to A), which is
  why it is slower than a Redis round trip; reusing the relay connection of the previous subscriber on the same replica
  would take the dial out.
- socket.io with this adapter has nothing to resume from: parts broadcast while the client was away are gone. Its resume
  time is only the time to the next live broadcast.
- world-postgres resumes exactly too (chunks are rows; a start index skips what the client has), but it cannot carry
  this load (one INSERT, one NOTIFY and one SELECT per chunk; see S1), so its streams were still behind when the run was
  cut: its "missing" parts are late, not lost (0 skipped).
- resumable-stream resumes exactly by character offset, as long as the producer process is alive (its buffer lives in the
  producer's memory, not in Redis) and the stream's key has not expired.
`;
console.log(`\n${table}\n\nload ${load()}, ${totalS} s`);
if (WRITE) writeResult('peers-s2-resume', md);
process.exit(0);
