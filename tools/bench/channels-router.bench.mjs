#!/usr/bin/env node
// Benchmark of @chatd/channels (built dist): appends/s with 0, 10 and 1000 subscribers, and heap
// bytes per 1M entries, each printed beside a naive baseline measured in the same run. The baseline
// is the straightforward design: one log array plus one queue array per subscriber (every append
// pushes into every queue, the subscriber list is copied on change, consumers drain with splice).
// Run: (cd packages/channels && npx tsup) && node tools/bench/channels-router.bench.mjs   (bounded < 60 s)
import v8 from 'node:v8';
import vm from 'node:vm';
import os from 'node:os';
import { createRouterWithoutRateLimit } from '@chatd/channels';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const BATCH = 5_000; // appends per tick before yielding to consumers (below the subscriber buffer)
const BUFFER = 10_000; // subscriber buffer (the router default), same for the baseline
const REPS = 3;

// ---------------------------------------------------------------- naive baseline
function createNaiveRouter() {
  const channels = new Map();
  return {
    create(id, submitterId, executorId) {
      channels.set(id, { id, submitterId, executorId, log: [], subs: [] });
    },
    append(id, senderId, sequence, inReplyTo, payload) {
      const ch = channels.get(id);
      if (ch === undefined) throw new Error('channel not found');
      if (senderId !== ch.submitterId && senderId !== ch.executorId) throw new Error('unauthorized access to channel');
      const entry = { sequence, inReplyTo, timestampMs: Date.now(), senderId, payload, type: 'data', error: '' };
      ch.log.push(entry);
      for (const s of ch.subs) {
        if (s.closed) continue;
        if (s.queue.length >= s.bufferSize) {
          s.queue.shift();
          s.queue.push({ error: 'subscriber disconnected: buffer full' });
          s.closed = true;
        } else s.queue.push(entry);
        if (!s.scheduled && s.onEntries) {
          s.scheduled = true;
          queueMicrotask(() => {
            s.scheduled = false;
            s.onEntries(s.queue.splice(0));
          });
        }
      }
    },
    subscribe(id, onEntries) {
      const ch = channels.get(id);
      const s = { queue: [], bufferSize: BUFFER, closed: false, scheduled: false, onEntries };
      ch.subs = [...ch.subs, s]; // copy on write
      return s;
    },
  };
}

// ---------------------------------------------------------------- ours
function setupOurs(subs, n) {
  const r = createRouterWithoutRateLimit({ maxLogEntries: n + 1 });
  r.create({ id: 'ch', processId: 'p', name: 'chat', submitterId: 'u', executorId: 'e' });
  const counts = new Array(subs).fill(0);
  for (let i = 0; i < subs; i++) r.subscribe('ch', 'u', { onEntries: (b) => (counts[i] += b.length) });
  return { append: (seq, payload) => r.append('ch', 'e', seq, 1, payload), counts, router: r };
}

function setupNaive(subs) {
  const r = createNaiveRouter();
  r.create('ch', 'u', 'e');
  const counts = new Array(subs).fill(0);
  for (let i = 0; i < subs; i++) r.subscribe('ch', (b) => (counts[i] += b.length));
  return { append: (seq, payload) => r.append('ch', 'e', seq, 1, payload), counts, router: r };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

// Returns [appends per wall-clock second, process CPU nanoseconds per append (all threads, GC included)].
async function run(setup, n) {
  const payload = new Uint8Array(32);
  const { append, counts } = setup;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 1; i <= n; ) {
    const end = Math.min(n, i + BATCH - 1);
    for (; i <= end; i++) append(i, payload);
    await tick();
  }
  await tick();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  for (const c of counts) if (c !== n) throw new Error(`a subscriber got ${c} of ${n} entries`);
  return [n / secs, ((cpu.user + cpu.system) * 1000) / n];
}

// Ours and the baseline alternate rep by rep, so heap state and machine load hit both alike.
async function measurePair(subs, nOurs, nNaive) {
  const ours = [];
  const naive = [];
  for (let rep = 0; rep < REPS; rep++) {
    gc();
    ours.push(await run(setupOurs(subs, nOurs), nOurs));
    gc();
    naive.push(await run(setupNaive(subs), nNaive));
  }
  const median = (xs, k) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { ours: median(ours, 0), naive: median(naive, 0), oursCpu: median(ours, 1), naiveCpu: median(naive, 1) };
}

// Pull-form consumers of ours (read() after wait(), and a per-entry async iterator), for the README.
async function measurePull(subs, n, form) {
  const r = createRouterWithoutRateLimit({ maxLogEntries: n + 1 });
  r.create({ id: 'ch', processId: 'p', name: 'chat', submitterId: 'u', executorId: 'e' });
  const counts = new Array(subs).fill(0);
  const done = [];
  for (let i = 0; i < subs; i++) {
    const sub = r.subscribe('ch', 'u');
    done.push(
      form === 'read'
        ? (async () => { while (!sub.done) { counts[i] += sub.read().length; await sub.wait(); } })()
        : (async () => { for await (const _ of sub) counts[i]++; })(),
    );
  }
  const payload = new Uint8Array(32);
  const t0 = process.hrtime.bigint();
  for (let i = 1; i <= n; ) {
    const end = Math.min(n, i + BATCH - 1);
    for (; i <= end; i++) r.append('ch', 'e', i, 1, payload);
    await tick();
  }
  await tick();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  r.cleanupProcess('p');
  await Promise.all(done);
  for (const c of counts) if (c !== n) throw new Error(`a ${form} subscriber got ${c} of ${n}`);
  return n / secs;
}

async function memoryPer1M(kind) {
  const n = 1_000_000;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const setup = kind === 'ours' ? setupOurs(0, n) : setupNaive(0);
  for (let i = 1; i <= n; i++) setup.append(i, null);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (kind === 'ours' && setup.router.getLogSize('ch') !== n) throw new Error('lost entries');
  return after - before;
}

const fmt = (x) => (Number.isNaN(x) ? 'skipped (time budget)' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(0)} k/s`);
const started = Date.now();
const loadAtStart = os.loadavg()[0].toFixed(1);

// Warm up both implementations so the JIT has seen every path.
await measurePair(10, 100_000, 100_000);

const rows = [];
// The baseline with 1000 subscribers runs fewer appends (it is ~100x slower); rates stay comparable.
for (const [subs, nOurs, nNaive] of [[0, 1_000_000, 1_000_000], [10, 1_000_000, 1_000_000], [1000, 300_000, 5_000]]) {
  const { ours, naive, oursCpu, naiveCpu } = await measurePair(subs, nOurs, nNaive);
  const appends = nOurs === nNaive ? nOurs.toLocaleString('en') : `${nOurs.toLocaleString('en')} / ${nNaive.toLocaleString('en')}`;
  rows.push({ what: `appends/s, ${subs} subscribers (${appends} appends)`, ours: fmt(ours), naive: fmt(naive), ratio: `${(ours / naive).toFixed(2)}x` });
  rows.push({ what: `  CPU ns per append, ${subs} subscribers`, ours: `${oursCpu.toFixed(0)} ns`, naive: `${naiveCpu.toFixed(0)} ns`, ratio: `${(oursCpu / naiveCpu).toFixed(2)}x` });
}
const memOurs = await memoryPer1M('ours');
const memNaive = await memoryPer1M('naive');
rows.push({ what: 'heap per 1M entries (null payload)', ours: `${(memOurs / 2 ** 20).toFixed(1)} MiB`, naive: `${(memNaive / 2 ** 20).toFixed(1)} MiB`, ratio: `${(memOurs / memNaive).toFixed(2)}x` });

// Optional extras, skipped when a loaded machine has already used most of the 60 s budget.
const budgetLeft = () => Date.now() - started < 40_000;
const pullRead = budgetLeft() ? await measurePull(10, 200_000, 'read') : NaN;
const pullIter = budgetLeft() ? await measurePull(10, 50_000, 'iterator') : NaN;

console.log(`channels-router bench: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}, ${new Date().toISOString()}, 1-min load average ${loadAtStart} at start, ${os.loadavg()[0].toFixed(1)} at end`);
console.log(`batches of ${BATCH} appends per tick, subscriber buffer ${BUFFER}, 32-byte payload, median of ${REPS}`);
console.table(rows);
console.log(`ours, 10 subscribers, other consumer forms: read()+wait() ${fmt(pullRead)}, per-entry async iterator ${fmt(pullIter)}`);
console.log('\nMarkdown:\n| measure | ours | naive baseline | ours / naive |\n|---|---|---|---|');
for (const r of rows) console.log(`| ${r.what} | ${r.ours} | ${r.naive} | ${r.ratio} |`);
console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
