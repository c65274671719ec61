#!/usr/bin/env node
// Benchmark of the multi-replica relay (@chatd/enterprise, built dist): replica B (worker) and replica A
// (API only) run as separate processes on one PostgreSQL; clients on A receive B's live parts through A's
// relay. A bench model on B stamps each part with the wall time the worker emitted it, so a client computes
// worker-on-B -> client latency. Beside it, in the same run: raw ws loopback throughput (a bare ws server
// process sending one-event frames as fast as the socket takes them) and the same chats read on B directly.
//
//   node tools/bench/relay.bench.mjs [--write]
//
// Scenarios: unpaced single chat (max parts/s), one chat paced at 1,000 and 2,500 parts/s, 100 chats x 25 and
// x 100 parts/s (2.5k and 10k parts/s), and 20 clients of one chat through a shared relay (replica A) and through
// one relay each (replica A2). Every process's CPU is recorded (the clients are this process). Uses DATABASE_URL
// when set, otherwise an embedded PostgreSQL. --write records the figures in tools/bench/results/relay.md.
// RELAY_BENCH_ONLY=1|100|fanout runs only the paced scenarios with that many chats, or only the 20-client one; RELAY_BENCH_PROF=A|B writes a CPU profile of that replica to /tmp/relay-bench-prof;
// RELAY_BENCH_METRICS=1 prints both replicas' stream counters (frames vs events) after the unpaced run. Needs built dists:
//   npx nx run-many -t build --projects=@chatd/enterprise --outputStyle=static
// Bounded < 90 s (a watchdog exits with an error after 85 s).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const resultsFile = path.join(root, 'tools', 'bench', 'results', 'relay.md');
const DEADLINE_MS = 85_000;
const wall = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const role = process.argv[2] === '--child' ? process.argv[3] : 'main';
/** RELAY_BENCH_STAGGER=0 starts every chat in the same millisecond (lock-step bursts). */
const STAGGER = process.env.RELAY_BENCH_STAGGER !== '0';

for (const pkg of ['clock', 'pubsub', 'channels', 'gitsync', 'chatd-oss', 'chatd-enterprise', 'testkit']) {
  if (!fs.existsSync(path.join(root, 'packages', pkg, 'dist', 'index.js'))) {
    console.error(`bench: packages/${pkg}/dist is missing; build first: npx nx run-many -t build --projects=@chatd/enterprise --outputStyle=static`);
    process.exit(2);
  }
}

// ------------------------------------------------------------------------------------------------ children

// Gates the bench model waits on: the main process opens one (IPC `{ go }`) once every client is subscribed.
const gates = new Map();
const gate = (id) => {
  if (!gates.has(id)) {
    let open;
    const p = new Promise((r) => (open = r));
    gates.set(id, { p, open });
  }
  return gates.get(id);
};
process.on('message', (m) => gate(m.go).open());

/** The bench model: the prompt is JSON {rate, count, gate}; each part's text is its emit wall time. */
function createBenchModel(benchLanguageModel) {
  return benchLanguageModel('bench', async function* ({ prompt, signal }) {
    const spec = JSON.parse(prompt);
    const { rate, count } = spec;
    await gate(spec.gate).p;
    // Chats start spread over one part interval (spec.offsetMs), as independent replies would, rather than
    // all emitting in the same millisecond.
    if (spec.offsetMs > 0) await sleep(spec.offsetMs);
    const t0 = wall();
    let emitted = 0;
    while (emitted < count) {
      if (signal.aborted) throw new Error('cancelled');
      // Paced: emit what is due by now. Unpaced: bursts of 200.
      const due = rate > 0 ? Math.min(count, Math.floor(((wall() - t0) * rate) / 1000) + 1) : Math.min(count, emitted + 200);
      while (emitted < due) {
        emitted++;
        yield `${wall().toFixed(3)} `;
      }
      // Paced: sleep until the next part is due (at least 1 ms), as a model streaming tokens at that rate would.
      if (emitted < count) await (rate > 0 ? sleep(Math.max(1, t0 + (emitted * 1000) / rate - wall())) : new Promise((r) => setImmediate(r)));
    }
  });
}

async function runReplica(worker) {
  const databaseUrl = process.argv[4];
  const { startChatdServer } = await import('@chatd/oss');
  const { benchLanguageModel } = await import('./lib/bench-model.mjs');
  const { createMultiReplicaSubscribeFn, createReplicaCredentialVerifier, createReplicaRegistry } = await import('@chatd/enterprise');
  const { BENCH_SOCKET_CAPS } = await import('./lib/socket-caps.mjs');
  const { BENCH_USER_LIMITS } = await import('./lib/user-limits.mjs');
  const benchModel = createBenchModel(benchLanguageModel);
  let registry;
  const running = await startChatdServer({
    port: 0,
    config: { databaseUrl, worker, acquireIntervalMs: 20, maxChatsPerAcquire: 100, logLevel: 'warn', ...BENCH_SOCKET_CAPS, ...BENCH_USER_LIMITS },
    migrate: false,
    models: { resolve: () => benchModel },
    subscribeFn: (chatd) => {
      registry = createReplicaRegistry({ db: chatd.pool, clock: chatd.clock, logger: chatd.logger });
      // RELAY_BENCH_SHARE=0 (replica A2): one relay per subscriber, as the original does.
      const shareRelays = process.env.RELAY_BENCH_SHARE !== '0';
      return createMultiReplicaSubscribeFn({
        resolveReplicaAddress: (s, id) => registry.resolveReplicaAddress(s, id),
        replicaId: () => chatd.replicaId,
        replicaCredential: () => registry.credential(),
        clock: chatd.clock,
        shareRelays,
        // CHATD_RELAY_MODE (link | per-subscriber) as `chatd-enterprise serve` reads it; unset: the product default.
        ...(process.env.CHATD_RELAY_MODE ? { relayMode: process.env.CHATD_RELAY_MODE } : {}),
      });
    },
    // As `chatd-enterprise serve`: legs that present the replica credential count as relay legs of their peer.
    verifyReplicaCredential: (chatd) => createReplicaCredentialVerifier({ credentialHash: (id) => registry.credentialHash(id), clock: chatd.clock }),
  });
  await registry.register({ id: running.replicaId, relayAddress: running.url, worker });
  process.stdout.write(`ready ${running.url} ${running.replicaId}\n`);
  process.on('SIGTERM', async () => {
    await registry.deregister();
    await running.close();
    process.exit(0);
  });
}

async function runRawServer() {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws, req) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n'));
    let i = 0;
    // One message_part per frame, shaped like chatd's, as fast as the socket drains.
    const pump = () => {
      while (i < n && ws.bufferedAmount < 1 << 20) {
        i++;
        ws.send(JSON.stringify([{ type: 'message_part', chat_id: '00000000-0000-0000-0000-000000000000', message_part: { role: 'assistant', part: { type: 'text', text: `${wall().toFixed(3)} ` }, seq: i, run_id: '00000000-0000-0000-0000-000000000001' } }]));
      }
      if (i < n) setImmediate(pump);
    };
    pump();
  });
  process.stdout.write(`ready ws://127.0.0.1:${wss.address().port}\n`);
}

if (role === 'A' || role === 'A2' || role === 'B') {
  await runReplica(role === 'B');
} else if (role === 'raw') {
  await runRawServer();
} else {
  await main();
}

// ------------------------------------------------------------------------------------------------ main

function spawnChild(args, env = {}) {
  // RELAY_BENCH_PROF=A (or B) writes a CPU profile of that replica to /tmp/relay-bench-prof.
  const prof = process.env.RELAY_BENCH_PROF === args[0] ? ['--cpu-prof', '--cpu-prof-dir=/tmp/relay-bench-prof'] : [];
  const child = spawn(process.execPath, [...prof, fileURLToPath(import.meta.url), '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, CHATD_LOG_LEVEL: 'warn', ...env } });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /^ready (\S+)(?: (\S+))?$/m.exec(buf);
      if (m) resolve({ child, url: m[1], id: m[2] });
    });
    child.once('exit', (code) => reject(new Error(`child ${args[0]} exited with ${code}`)));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Subscribes to a chat's stream on `baseUrl`; records latency per part and checks seqs arrive 1, 2, 3... */
async function openClient(WebSocket, baseUrl, chatId, token, expected, latencies) {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  // `viaMessage`: parts the reply message brought instead (contract.md: once a run's reply is sent, the server sends
  // none of its parts; when the reply's NOTIFY overtakes the relay's last parts, those come only in the message).
  const state = { parts: 0, viaMessage: 0, outOfOrder: 0, first: 0, last: 0, running: false, done: undefined, ws };
  state.done = new Promise((resolve) => {
    ws.on('message', (data) => {
      const now = wall();
      for (const e of JSON.parse(String(data))) {
        if (e.type === 'status' && e.status.status === 'running') state.running = true;
        if (e.type === 'message' && e.message?.role === 'assistant' && state.parts > 0 && state.parts < expected) {
          state.viaMessage = expected - state.parts;
          resolve();
        }
        if (e.type !== 'message_part') continue;
        if (e.message_part.seq !== state.parts + 1) state.outOfOrder++;
        state.parts++;
        if (state.parts === 1) state.first = now;
        state.last = now;
        latencies.push(now - Number.parseFloat(e.message_part.part.text));
        if (state.parts === expected) resolve();
      }
    });
    ws.on('close', () => resolve());
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return state;
}

async function main() {
  const children = [];
  const watchdog = setTimeout(() => {
    console.error(`bench: exceeded ${DEADLINE_MS} ms`);
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  }, DEADLINE_MS);
  watchdog.unref();
  const progress = (what) => console.error(`bench: ${((performance.now() - started) / 1000).toFixed(1)} s ${what}`);
  const started = performance.now();
  const write = process.argv.includes('--write');
  const { default: WebSocket } = await import('ws');
  // PostgreSQL (embedded unless DATABASE_URL is set), a database of this run, chatd's schema and a token.
  const { prepareChatd, startPostgres } = await import('./lib/services.mjs');
  const db = await startPostgres('relay_bench');
  const dbUrl = db.url;
  const token = await prepareChatd(dbUrl);

  const rows = [];
  try {
    const [B, A, A2, raw] = await Promise.all([spawnChild(['B', dbUrl]), spawnChild(['A', dbUrl]), spawnChild(['A2', dbUrl], { RELAY_BENCH_SHARE: '0' }), spawnChild(['raw'])]);
    children.push(B.child, A.child, A2.child, raw.child);
    const replicas = { A, A2, B };

    progress('replicas ready');
    const only = process.env.RELAY_BENCH_ONLY;
    // 1. Raw ws loopback: one-event frames, as fast as the socket drains.
    const RAW_N = 50_000;
    const rawRate = await new Promise((resolve, reject) => {
      const ws = new WebSocket(`${raw.url}/?n=${RAW_N}`, { perMessageDeflate: false });
      let n = 0;
      let first = 0;
      ws.on('message', (data) => {
        JSON.parse(String(data));
        if (++n === 1) first = wall();
        if (n === RAW_N) {
          resolve((RAW_N - 1) / ((wall() - first) / 1000));
          ws.close();
        }
      });
      ws.on('error', reject);
    });
    rows.push({ scenario: 'raw ws loopback (1 event/frame, separate process)', chats: 1, target: 'max', rate: rawRate });

    const createChat = async (spec) => {
      const res = await fetch(`${A.url}/api/experimental/chats`, {
        method: 'POST',
        headers: { 'coder-session-token': token, 'content-type': 'application/json' },
        body: JSON.stringify({ content: [{ type: 'text', text: JSON.stringify(spec) }] }),
      });
      if (res.status !== 201) throw new Error(`create chat: ${res.status} ${await res.text()}`);
      return (await res.json()).id;
    };

    /**
     * Runs `chats` chats of `count` parts at `rate` (0 = unpaced), each watched by `subscribers` clients on `on`
     * (A relayed with shared relays, A2 relayed with one relay per subscriber, B direct).
     */
    let gates = 0;
    const scenario = async ({ chats, rate, count, on, subscribers = 1 }) => {
      const gate = `g${++gates}`;
      progress(`${chats} x ${count} parts at ${rate || 'max'} parts/s, ${subscribers} client(s) each on ${on}`);
      const latencies = [];
      // Chats are created and subscribed 10 at a time; the model holds every reply until its gate opens.
      const clients = [];
      let next = 0;
      const opener = async () => {
        while (next < chats) {
          const index = next++;
          const offsetMs = rate > 0 && STAGGER ? Math.floor((index * 1000) / rate / chats) : 0;
          const id = await createChat({ rate, count, gate, offsetMs });
          for (let s = 0; s < subscribers; s++) clients.push(await openClient(WebSocket, replicas[on].url, id, token, count, latencies));
        }
      };
      await Promise.all(Array.from({ length: Math.min(10, chats) }, opener));
      // Every chat runs on B and every client has seen it: the relays on A are dialled (or dialling).
      for (let i = 0; clients.some((c) => !c.running); i++) {
        if (i > 1_000) throw new Error('chats did not start running');
        await sleep(20);
      }
      // Measure relaying, not dialling: wait until B serves its streams (one per chat from A's shared relays,
      // one per client from A2 or for direct clients), as B's /metrics counts them.
      const upstreams = on === 'A' ? chats : chats * subscribers;
      for (let i = 0; ; i++) {
        const text = await (await fetch(`${B.url}/metrics`)).text();
        const active = Number(/^chatd_subscriptions(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? NaN);
        if (active === upstreams) break;
        if (i > 1_000) throw new Error(`B serves ${active} streams, expected ${upstreams}`);
        await sleep(20);
      }
      await sleep(200);
      const relay = replicas[on === 'B' ? 'A' : on];
      const cpu0 = { A: cpuSeconds(relay.child.pid), B: cpuSeconds(B.child.pid), t: wall(), client: process.cpuUsage() };
      B.child.send({ go: gate });
      const timeout = sleep(Math.max(1_000, Math.min(30_000, DEADLINE_MS - 5_000 - (performance.now() - started)))).then(() => 'timeout');
      const outcome = await Promise.race([Promise.all(clients.map((c) => c.done)), timeout]);
      const cpuWallS = (wall() - cpu0.t) / 1000;
      const clientCpu = process.cpuUsage(cpu0.client);
      const cpu = { A: (cpuSeconds(relay.child.pid) - cpu0.A) / cpuWallS, B: (cpuSeconds(B.child.pid) - cpu0.B) / cpuWallS, client: (clientCpu.user + clientCpu.system) / 1e6 / cpuWallS };
      for (const c of clients) c.ws.close();
      const viaMessage = clients.reduce((s, c) => s + c.viaMessage, 0);
      const parts = clients.reduce((s, c) => s + c.parts, 0) + viaMessage;
      if (viaMessage > 0) progress(`  ${viaMessage} parts came in the reply message (its NOTIFY overtook the relay's last parts)`);
      const outOfOrder = clients.reduce((s, c) => s + c.outOfOrder, 0);
      if (outcome === 'timeout') progress(`  timeout: parts per client ${clients.map((c) => c.parts).join(',')}`);
      if (outcome === 'timeout' || parts !== chats * subscribers * count || outOfOrder > 0) {
        throw new Error(`scenario ${JSON.stringify({ chats, subscribers, rate, on })}: ${parts}/${chats * subscribers * count} parts, ${outOfOrder} out of order`);
      }
      const first = Math.min(...clients.map((c) => c.first));
      const last = Math.max(...clients.map((c) => c.last));
      latencies.sort((a, b) => a - b);
      progress(`  ${parts} parts in ${((last - first) / 1000).toFixed(2)} s, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, CPU ${on === 'B' ? 'A' : on} ${(cpu.A * 100).toFixed(0)}% B ${(cpu.B * 100).toFixed(0)}% clients ${(cpu.client * 100).toFixed(0)}%`);
      return {
        cpu, rate: (parts - chats * subscribers) / ((last - first) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99), parts };
    };

    // 2. Unpaced single chat: the most parts/s one relay carries (the model yields in bursts of 200).
    if (!only) {
    const maxA = await scenario({ chats: 1, rate: 0, count: 20_000, on: 'A' });
    const maxB = await scenario({ chats: 1, rate: 0, count: 20_000, on: 'B' });
    if (process.env.RELAY_BENCH_METRICS) {
      for (const [name, r] of [['A', A], ['B', B]]) {
        const text = await (await fetch(`${r.url}/metrics`)).text();
        progress(`${name} metrics: ${text.split('\n').filter((l) => /^chatd_stream|^chatd_discont/.test(l)).join('; ')}`);
      }
    }
    rows.push({ scenario: 'one chat, unpaced (20,000 parts)', chats: 1, target: 'max', ...maxA, direct: maxB });
    }

    // 3. One chat paced at 1,000 and 2,500 parts/s; 4. 100 chats x 100 parts/s.
    //    100 chats x 25 parts/s (2,500 parts/s over 100 relays) is the same shape below the machine's CPU limit.
    for (const { chats, rate, seconds } of [
      { chats: 1, rate: 1_000, seconds: 2 },
      { chats: 1, rate: 2_500, seconds: 2 },
      { chats: 100, rate: 25, seconds: 4 },
      { chats: 100, rate: 100, seconds: 4 },
    ]) {
      if (only && String(chats) !== only) continue;
      const count = rate * seconds;
      const relayed = await scenario({ chats, rate, count, on: 'A' });
      const direct = await scenario({ chats, rate, count, on: 'B' });
      rows.push({ scenario: `${chats === 1 ? 'one chat' : `${chats} chats`} at ${rate.toLocaleString('en-US')} parts/s`, chats, target: chats * rate, ...relayed, direct });
    }

    // 5. Many viewers of one remote chat: 20 clients on A watching one chat at 500 parts/s (10k deliveries/s),
    //    through one shared relay (A) and through one relay per client (A2, the original's way).
    if (!only || only === 'fanout') {
      const fan = { chats: 1, subscribers: 20, rate: 500, count: 1_000 };
      const shared = await scenario({ ...fan, on: 'A' });
      const perClient = await scenario({ ...fan, on: 'A2' });
      const direct = await scenario({ ...fan, on: 'B' });
      rows.push({ scenario: 'one chat at 500 parts/s, 20 clients, shared relay', target: 10_000, ...shared, direct });
      rows.push({ scenario: 'one chat at 500 parts/s, 20 clients, one relay each', target: 10_000, ...perClient, direct });
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await db.stop();
  }

  const f = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');
  const rawRate = rows[0].rate;
  const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '-');
  const lines = [
    `Raw ws loopback (one event per frame, server in its own process): **${f(rawRate)} parts/s**.`,
    '',
    '| scenario | target parts/s | relayed parts/s (client on A) | relayed / raw ws | relayed p50 / p99 (ms) | direct parts/s (client on B) | direct p50 / p99 (ms) | added p50 / p99 (ms) | CPU A / B / clients while relaying | CPU B / clients direct |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.slice(1).map(
      (r) =>
        `| ${r.scenario} | ${r.target === 'max' ? 'unpaced' : f(r.target)} | ${f(r.rate)} | ${r.target === 'max' ? f(r.rate / rawRate, 2) : '-'} | ${f(r.p50, 2)} / ${f(r.p99, 2)} | ${f(r.direct.rate)} | ${f(r.direct.p50, 2)} / ${f(r.direct.p99, 2)} | ${f(r.p50 - r.direct.p50, 2)} / ${f(r.p99 - r.direct.p99, 2)} | ${pct(r.cpu.A)} / ${pct(r.cpu.B)} / ${pct(r.cpu.client)} | ${pct(r.direct.cpu.B)} / ${pct(r.direct.cpu.client)} |`,
    ),
  ];
  const header = `node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ${new Date().toISOString()}, ${((performance.now() - started) / 1000).toFixed(1)} s`;
  const table = [header, '', ...lines].join('\n');
  console.log(table);
  if (write) {
    const doc = fs.readFileSync(resultsFile, 'utf8');
    const marker = '<!-- results -->';
    const at = doc.indexOf(marker);
    fs.writeFileSync(resultsFile, `${at >= 0 ? doc.slice(0, at + marker.length) : `${doc.trimEnd()}\n\n${marker}`}\n${table}\n`);
    console.log(`bench: wrote ${path.relative(root, resultsFile)}`);
  }
}
