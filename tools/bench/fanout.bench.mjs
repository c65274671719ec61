#!/usr/bin/env node
// Benchmark: one chat streaming to 1, 100 and 1000 WebSocket clients on one chatd replica, beside a
// bare `ws` server broadcasting the same frames at the same pace in the same run. A stamping model
// writes the wall-clock time into each delta, so the clients (in a child process, so their CPU is not
// the server's) measure worker-to-client latency; deliveries/s = parts x clients / (first emit to last receipt).
//
//   node tools/bench/fanout.bench.mjs [--parts-per-turn 20] [--deliveries 12000] [--clients-list 1,100,1000] [--rate 200] [--write]
//
// Unpaced (the default) both producers go as fast as they can: the figure is the fan-out ceiling, and latency is
// mostly queueing behind it (chatd's producer runs ahead of its sockets; the bare server's producer is held back by
// its own synchronous sends, so the two latencies measure different things). `--rate N` paces both producers at
// the same offered N parts/s (an open loop: each part is stamped with the time it was due, not when it went out,
// so a producer that falls behind shows its backlog in the latency instead of hiding it).
//
// Needs the workspace built (`npx nx run-many -t build`) for @chatd/testkit; chatd itself is loaded from
// `@chatd/oss` when it exports startChatdServer, else from its sources through tsx. Uses DATABASE_URL when
// set, otherwise an embedded PostgreSQL. --write records the figures in tools/bench/results/chatd-oss.md.
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { benchLanguageModel } from './lib/bench-model.mjs';
import { loadChatd, writeSection } from './lib/chatd-oss-results.mjs';
import { BENCH_SOCKET_CAPS } from './lib/socket-caps.mjs';
import { BENCH_USER_LIMITS } from './lib/user-limits.mjs';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..', '..');
const wallMs = () => performance.timeOrigin + performance.now();

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : fallback;
}

/**
 * The due times (wall ms) of `parts` parts offered at `rate` parts/s from now: each tick yields every part whose
 * time has come, then sleeps ~1 ms. Consumers stamp a part with its due time (open loop).
 */
async function* pacedSchedule(parts, rate) {
  const t0 = wallMs();
  const step = 1000 / rate;
  let i = 0;
  while (i < parts) {
    const now = wallMs();
    while (i < parts && t0 + i * step <= now) yield t0 + i++ * step;
    if (i < parts) await new Promise((r) => setTimeout(r, Math.max(1, Math.min(5, t0 + i * step - wallMs()))));
  }
}

// ------------------------------------------------------------------------------------------ clients
// The child process: opens N sockets, counts stamped deltas, and reports latency percentiles.
if (process.argv.includes('--clients')) {
  const { default: WebSocket } = await import('ws');
  let sockets = [];
  let expectParts = 0;
  let received = 0;
  let complete = 0;
  let lat = new Float64Array(0);
  let firstAt = 0;
  let lastAt = 0;
  const onFrame = (state, data) => {
    const now = wallMs();
    const events = JSON.parse(data);
    if (!state.snapshot) {
      state.snapshot = true;
      process.send({ kind: 'snapshot' });
    }
    for (const e of events) {
      if (e.type !== 'message_part') continue;
      // A coalesced part carries several stamps: each is one delivery.
      for (const stamp of e.message_part.part.text.split('|')) {
        if (stamp === '') continue;
        if (received < lat.length) lat[received] = now - Number(stamp);
        received++;
      }
      if (firstAt === 0) firstAt = now;
      lastAt = now;
      if (e.message_part.seq >= expectParts && !state.done) {
        state.done = true;
        if (++complete === sockets.length) report();
      }
    }
  };
  const report = () => {
    const n = Math.min(received, lat.length);
    const sorted = lat.subarray(0, n).sort();
    const q = (p) => sorted[Math.min(n - 1, Math.floor(p * n))];
    process.send({ kind: 'done', received, firstAt, lastAt, p50: q(0.5), p99: q(0.99), max: sorted[n - 1] });
  };
  process.on('message', async (m) => {
    if (m.cmd === 'connect') {
      expectParts = m.parts;
      received = 0;
      complete = 0;
      firstAt = 0;
      lastAt = 0;
      lat = new Float64Array(m.parts * m.n);
      sockets = [];
      let opened = 0;
      const headers = m.token ? { 'coder-session-token': m.token } : {};
      const batch = 100;
      for (let i = 0; i < m.n; i += batch) {
        await Promise.all(
          Array.from({ length: Math.min(batch, m.n - i) }, () => {
            const state = { snapshot: false, done: false };
            const ws = new WebSocket(m.url, { headers, perMessageDeflate: false });
            sockets.push(ws);
            ws.on('message', (d) => onFrame(state, d));
            ws.on('error', (err) => process.send({ kind: 'error', message: String(err) }));
            return new Promise((resolve) => ws.once('open', resolve)).then(() => opened++);
          }),
        );
      }
      process.send({ kind: 'connected', opened });
    } else if (m.cmd === 'close') {
      for (const ws of sockets) ws.terminate();
      sockets = [];
      process.send({ kind: 'closed' });
    } else if (m.cmd === 'exit') {
      process.exit(0);
    }
  });
  process.send({ kind: 'ready' });
} else {
  await main();
}

// ------------------------------------------------------------------------------------------ driver
async function main() {
  const PARTS_PER_TURN = arg('parts-per-turn', 20);
  const WRITE = process.argv.includes('--write');
  const CLIENT_COUNTS = process.argv.includes('--clients-list') ? process.argv[process.argv.indexOf('--clients-list') + 1].split(',').map(Number) : [1, 100, 1000];
  /** Parts per run: about DELIVERIES deliveries per size, so that the whole bench stays under a minute. */
  const DELIVERIES = arg('deliveries', 12_000);
  /** Offered parts/s of both producers (0: unpaced). */
  const RATE = arg('rate', 0);
  const partsFor = (n) => Math.max(50, Math.min(10_000, Math.round(DELIVERIES / n)));
  const started = performance.now();

  const { startChatdServer } = await loadChatd();
  const { default: WebSocket, WebSocketServer } = await import('ws');
  const { pino } = await import('pino');

  let pg;
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const { startEmbeddedPostgres } = await import('@chatd/testkit/postgres');
    pg = await startEmbeddedPostgres();
    databaseUrl = pg.url;
  }

  // The stamping model: `fanout <parts>` streams that many deltas, each `|<wall ms>`, PARTS_PER_TURN per turn of
  // the event loop, once the driver opens the gate (every client connected).
  let openGate;
  let gate = new Promise((r) => (openGate = r));
  let emitStartedAt = 0;
  const model = benchLanguageModel('stamp', async function* ({ prompt }) {
    const parts = Number(prompt.split(' ')[1] ?? 0);
    await gate;
    emitStartedAt = wallMs();
    if (RATE > 0) {
      for await (const due of pacedSchedule(parts, RATE)) yield `|${due.toFixed(3)}`;
      return;
    }
    for (let i = 0; i < parts; i++) {
      yield `|${wallMs().toFixed(3)}`;
      if (i % PARTS_PER_TURN === PARTS_PER_TURN - 1) await new Promise((r) => setImmediate(r));
    }
  });

  const replica = await startChatdServer({
    config: { databaseUrl, acquireIntervalMs: 20, ...BENCH_SOCKET_CAPS, ...BENCH_USER_LIMITS },
    logger: pino({ level: 'silent' }),
    models: { resolve: () => model },
    env: {},
  });
  const { user } = await replica.chatd.identity.ensureUser({ username: 'bench', admin: false });
  const { token } = await replica.chatd.identity.createToken(user.id, 'bench');

  const child = fork(self, ['--clients'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox = [];
  let waiter;
  child.on('message', (m) => {
    if (m.kind === 'error') return;
    inbox.push(m);
    waiter?.();
  });
  const next = async (kind, count = 1) => {
    const got = [];
    while (got.length < count) {
      const i = inbox.findIndex((m) => m.kind === kind);
      if (i >= 0) got.push(...inbox.splice(i, 1));
      else await new Promise((r) => (waiter = r));
    }
    return got[got.length - 1];
  };
  await next('ready');

  const rows = [];
  for (const n of CLIENT_COUNTS) {
    const parts = partsFor(n);
    // chatd: create the chat (its run waits at the gate), connect the clients, open the gate.
    gate = new Promise((r) => (openGate = r));
    const res = await fetch(`${replica.url}/api/experimental/chats`, {
      method: 'POST',
      headers: { 'coder-session-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ content: [{ type: 'text', text: `fanout ${parts}` }] }),
    });
    const chat = await res.json();
    child.send({ cmd: 'connect', n, parts, token, url: `${replica.url.replace('http', 'ws')}/api/experimental/chats/${chat.id}/stream?after_id=9223372036854775807` });
    await next('connected');
    await next('snapshot', n);
    // CPU of this process (chatd's server and worker; the clients are in the child) over the delivery: a figure
    // that load on the host barely moves, unlike latency, so A/B comparisons (compare.mjs) can read it.
    const cpuBefore = process.cpuUsage();
    openGate();
    const chatd = await next('done');
    const cpu = process.cpuUsage(cpuBefore);
    const chatdMs = chatd.lastAt - emitStartedAt;
    child.send({ cmd: 'close' });
    await next('closed');

    // Baseline: a bare ws server sending the same frames (one per part, built once) at the same pace.
    const wss = new WebSocketServer({ port: 0, perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    const conns = new Set();
    wss.on('connection', (ws) => {
      conns.add(ws);
      ws.send('[]');
    });
    child.send({ cmd: 'connect', n, parts, url: `ws://127.0.0.1:${wss.address().port}` });
    await next('connected');
    await next('snapshot', n);
    const chatId = chat.id;
    const runId = '00000000-0000-4000-8000-000000000000';
    const baseStart = wallMs();
    const frameOf = (i, stamp) => `[${JSON.stringify({ type: 'message_part', chat_id: chatId, message_part: { role: 'assistant', part: { type: 'text', text: `|${stamp.toFixed(3)}` }, seq: i, run_id: runId } })}]`;
    if (RATE > 0) {
      let i = 0;
      for await (const due of pacedSchedule(parts, RATE)) {
        const frame = frameOf(++i, due);
        for (const ws of conns) ws.send(frame);
      }
    } else {
      for (let i = 1; i <= parts; i++) {
        const frame = frameOf(i, wallMs());
        for (const ws of conns) ws.send(frame);
        if (i % PARTS_PER_TURN === 0) await new Promise((r) => setImmediate(r));
      }
    }
    const base = await next('done');
    const baseMs = base.lastAt - baseStart;
    child.send({ cmd: 'close' });
    await next('closed');
    await new Promise((r) => wss.close(r));

    rows.push({
      n,
      parts,
      chatd: { perSec: chatd.received / (chatdMs / 1000), p50: chatd.p50, p99: chatd.p99, received: chatd.received, cpuUs: (cpu.user + cpu.system) / chatd.received },
      base: { perSec: base.received / (baseMs / 1000), p50: base.p50, p99: base.p99, received: base.received },
      coalesced: replica.server.metrics.get('chatd_stream_parts_coalesced_total'),
    });
    console.error(`fanout: ${n} clients done`);
  }
  child.send({ cmd: 'exit' });
  await replica.close();
  await pg?.stop();

  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  const ms = (x) => x.toFixed(1);
  const lines = [
    `### Fan-out: one chat to N stream clients (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version})`,
    '',
    RATE > 0
      ? `Both producers are paced at ${fmt(RATE)} parts/s offered (open loop: each part is stamped with the time it was due); clients run in a child process. Latency: due time to client receipt.`
      : `Parts are emitted ${PARTS_PER_TURN} per event-loop turn; clients run in a child process. Latency: model yield to client receipt.`,
    `Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (other work shared the machine; compare chatd with the same-run baseline).`,
    '',
    '| clients | parts | chatd deliveries/s | chatd p50 / p99 ms | chatd CPU us/delivery | bare ws deliveries/s | bare ws p50 / p99 ms |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.n} | ${fmt(r.parts)} | ${fmt(r.chatd.perSec)} | ${ms(r.chatd.p50)} / ${ms(r.chatd.p99)} | ${r.chatd.cpuUs.toFixed(2)} | ${fmt(r.base.perSec)} | ${ms(r.base.p50)} / ${ms(r.base.p99)} |`),
    '',
    `Goal: >= 200,000 deliveries/s. Parts coalesced during the run (counter): ${rows.at(-1)?.coalesced ?? 0}. Total bench time ${((performance.now() - started) / 1000).toFixed(1)} s.`,
  ];
  console.log(lines.join('\n'));
  if (WRITE) writeSection('fanout', lines.join('\n'));
}
