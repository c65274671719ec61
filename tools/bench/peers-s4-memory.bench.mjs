#!/usr/bin/env node
// S4, idle memory and a slow consumer, chatd beside raw ws and socket.io (+ postgres-adapter) in one run.
// (a) N idle stream clients connected to the edge process: its memory per client (RSS and JS heap after a GC).
// (b) One stream at 1,000 parts/s with 20 normal clients and one client throttled to 10 KB/s (a TCP proxy
//     that forwards 1 KB every 100 ms): what happens to the slow one, the edge's memory, the others' p99.
//
//   node tools/bench/peers-s4-memory.bench.mjs [--write] [--idle 10000] [--only chatd,raw,sio]
//
// chatd: idle clients subscribe to idle chats on replica B (10 chats, no run); the slow-consumer stream is a chat
// generated on A and watched on B. raw ws: idle connections to a bare ws server; the stream is one per
// connection, written without any backpressure handling (ws.send on every part). socket.io: clients joined to
// a room on B, A broadcasts. Bounded < 4 minutes; every process it starts is stopped.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { arg, fmt, load, machineLine, percentile, progress, sleep, stopChildren, wall, watchdog, writeResult } from './lib/common.mjs';
import { chatd, rawWs, socketIo, Tally } from './lib/contenders.mjs';
import { startPostgres } from './lib/services.mjs';
import { writeChart } from './lib/svg.mjs';

const started = performance.now();
const WRITE = process.argv.includes('--write');
const ONLY = arg('only', '').split(',').filter(Boolean);
const IDLE = Number(arg('idle', 10_000));
const IDLE_BUDGET_MS = 40_000; // per contender: stop opening idle clients after this
const RATE = 1_000;
const COUNT = 6_000; // 6 s
const NORMAL = 20;
const SLOW_BPS = 10_000;
let pg;
watchdog(235_000, async () => {
  await stopChildren(2_000);
  await pg?.stop();
});

const mem = async (proc) => (await (await fetch(`${proc.extra}/mem`)).json());

/** A TCP proxy to `target` that forwards the server's bytes to the client at `bps` (1/10 of it every 100 ms). */
function throttleProxy(targetPort, bps) {
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const queue = [];
    let queued = 0;
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      queue.push(d);
      queued += d.length;
      if (queued > 16_384) upstream.pause();
    });
    const tick = setInterval(() => {
      let budget = bps / 10;
      while (budget > 0 && queue.length) {
        const head = queue[0];
        const n = Math.min(budget, head.length);
        client.write(head.subarray(0, n));
        if (n === head.length) queue.shift();
        else queue[0] = head.subarray(n);
        queued -= n;
        budget -= n;
      }
      if (queued <= 16_384) upstream.resume();
    }, 100);
    const close = () => {
      clearInterval(tick);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port })));
}

const results = {};
let contenders = [];
const idleSockets = [];
try {
  pg = await startPostgres('peers_s4');
  const all = [chatd({ dbUrl: pg.url }), rawWs(), socketIo({ dbUrl: await pg.database('sio') })];
  contenders = all.filter((c) => !ONLY.length || ONLY.includes(c.key));
  await Promise.all(contenders.map((c) => c.start()));
  const { default: WebSocket } = await import('ws');
  const { io } = await import('socket.io-client');
  progress(started, 'contenders ready');

  for (const c of contenders) {
    const res = (results[c.key] = {});
    const edge = c.key === 'raw' ? c.procs.raw : c.procs.B;
    try {
      // ---------------------------------------------------------------- (a) idle clients
      let idleChats = [];
      if (c.key === 'chatd') {
        // Idle chats: created with a zero-length reply, so nothing is generating when the clients connect.
        const batch = `idle${process.pid}`;
        idleChats = await Promise.all(Array.from({ length: 10 }, () => c.createChat({ rate: 0, count: 0, batch })));
        await c.go(batch, wall());
        await sleep(1_000);
      }
      const before = await mem(edge);
      const t0 = performance.now();
      let opened = 0;
      let failed = 0;
      const openOne = async (i) => {
        if (c.key === 'chatd') {
          const ws = new WebSocket(`${c.procs.B.url.replace(/^http/, 'ws')}/api/experimental/chats/${idleChats[i % idleChats.length]}/stream`, { headers: { 'coder-session-token': c.token() }, perMessageDeflate: false });
          ws.on('error', () => undefined);
          await new Promise((resolve, reject) => {
            ws.once('message', resolve); // the snapshot: subscribed
            ws.once('error', reject);
            ws.once('close', reject);
          });
          idleSockets.push(ws);
        } else if (c.key === 'raw') {
          const ws = new WebSocket(`${c.procs.raw.url}/?count=0`, { perMessageDeflate: false });
          ws.on('error', () => undefined);
          await new Promise((resolve, reject) => {
            ws.once('open', resolve);
            ws.once('error', reject);
          });
          idleSockets.push(ws);
        } else {
          const s = io(c.procs.B.url, { transports: ['websocket'], reconnection: false, forceNew: true });
          await new Promise((resolve, reject) => {
            s.once('connect', resolve);
            s.once('connect_error', reject);
          });
          await s.timeout(10_000).emitWithAck('join', `idle${i % 10}`);
          idleSockets.push(s);
        }
      };
      let next = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < IDLE && performance.now() - t0 < IDLE_BUDGET_MS) {
            const i = next++;
            try {
              await openOne(i);
              opened++;
            } catch {
              failed++;
            }
          }
        }),
      );
      await sleep(1_000);
      const after = await mem(edge);
      res.idle = { opened, failed, seconds: (performance.now() - t0) / 1000, rssPer: (after.rss - before.rss) / opened, heapPer: (after.heapUsed - before.heapUsed) / opened };
      if (c.key === 'chatd') {
        const a = await mem(c.procs.A);
        res.idle.note = `A's RSS ${fmt(a.rss / 2 ** 20)} MiB`;
      }
      progress(started, `${c.key}: ${opened} idle clients (${failed} failed) in ${res.idle.seconds.toFixed(1)} s: ${fmt(res.idle.rssPer)} B RSS, ${fmt(res.idle.heapPer)} B heap each`);
      for (const s of idleSockets.splice(0)) (s.terminate ?? s.disconnect).call(s);
      await sleep(1_000);

      // ---------------------------------------------------------------- (b) slow consumer
      for (const withSlow of [false, true]) {
      const batch = `slow${process.pid}${c.key}${withSlow}`;
      const latencies = [];
      const normals = [];
      let slow;
      let proxy;
      let chatId;
      let room;
      if (c.key === 'chatd') chatId = await c.createChat({ rate: RATE, count: COUNT, batch });
      if (c.key === 'sio') room = `slow${process.pid}${withSlow}`;
      const edgePort = Number(new URL(edge.url.replace(/^ws/, 'http')).port);
      proxy = await throttleProxy(edgePort, SLOW_BPS);
      const openClient = async (throttled) => {
        const tally = new Tally(COUNT, throttled ? undefined : latencies);
        const port = throttled ? proxy.port : edgePort;
        const st = { tally, bytes: 0, closed: null, discontinuity: null };
        if (c.key === 'sio') {
          const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false, forceNew: true });
          s.on('p', (text) => {
            st.bytes += text.length;
            tally.addText(text);
          });
          s.on('disconnect', (why) => (st.closed = why));
          await new Promise((resolve, reject) => {
            s.once('connect', resolve);
            s.once('connect_error', reject);
          });
          await s.timeout(10_000).emitWithAck('join', room);
          st.close = () => s.disconnect();
        } else {
          const url = c.key === 'chatd' ? `ws://127.0.0.1:${port}/api/experimental/chats/${chatId}/stream` : `ws://127.0.0.1:${port}/?rate=${RATE}&count=${COUNT}&batch=${batch}`;
          const ws = new WebSocket(url, { headers: c.key === 'chatd' ? { 'coder-session-token': c.token() } : {}, perMessageDeflate: false });
          ws.on('message', (data) => {
            const s = String(data);
            st.bytes += s.length;
            if (c.key === 'raw') return tally.addText(s);
            for (const e of JSON.parse(s)) {
              if (e.type === 'message_part' && e.message_part.part?.type === 'text') tally.addText(e.message_part.part.text);
              if (e.type === 'discontinuity') st.discontinuity = e.discontinuity.reason;
            }
          });
          ws.on('close', (code) => (st.closed = code));
          ws.on('error', () => undefined);
          await new Promise((resolve, reject) => {
            ws.once('open', resolve);
            ws.once('error', reject);
          });
          st.close = () => ws.terminate();
        }
        return st;
      };
      for (let i = 0; i < NORMAL; i++) normals.push(await openClient(false));
      slow = withSlow ? await openClient(true) : null;
      const memBefore = await mem(edge);
      let peakRss = memBefore.rss;
      const startAt = wall() + 500;
      if (c.key === 'sio') await fetch(`${c.procs.A.url}/start`, { method: 'POST', body: JSON.stringify({ rate: RATE, count: COUNT, batch, room }) });
      await c.go(batch, startAt);
      const endAt = startAt + (COUNT / RATE) * 1000 + 4_000;
      while (wall() < endAt && !normals.every((n) => n.tally.unique === COUNT)) {
        await sleep(250);
        peakRss = Math.max(peakRss, (await mem(edge)).rss);
      }
      await sleep(500);
      peakRss = Math.max(peakRss, (await mem(edge)).rss);
      latencies.sort((a, b) => a - b);
      const fig = {
        othersP50: percentile(latencies, 50),
        othersP99: percentile(latencies, 99),
        othersMissing: normals.reduce((s, n) => s + n.tally.missing, 0),
        slowParts: slow?.tally.unique,
        slowBytes: slow?.bytes,
        slowClosed: slow?.closed,
        slowDiscontinuity: slow?.discontinuity,
        edgeRssGrowth: peakRss - memBefore.rss,
      };
      if (withSlow) res.slow = fig;
      else res.noSlow = fig;
      progress(started, `${c.key}${withSlow ? `: slow consumer got ${slow.tally.unique} parts (${fmt(slow.bytes)} B), closed ${slow.closed ?? 'no'}${slow.discontinuity ? ` (${slow.discontinuity})` : ''}` : ' without a slow client'}; others p99 ${fmt(fig.othersP99, 1)} ms missing ${fig.othersMissing}; edge RSS +${fmt(fig.edgeRssGrowth / 2 ** 20, 1)} MiB`);
      for (const n of [...normals, ...(slow ? [slow] : [])]) n.close();
      proxy.server.close();
      await sleep(1_000);
      }
    } catch (err) {
      res.error = String(err.message ?? err).slice(0, 160);
      progress(started, `${c.key}: error ${err.message}`);
    }
  }
} finally {
  for (const s of idleSockets.splice(0)) (s.terminate ?? s.disconnect).call(s);
  await stopChildren();
  await pg?.stop();
}

const totalS = ((performance.now() - started) / 1000).toFixed(0);
const ok = (c) => results[c.key] && !results[c.key].error;
const idleTable = [
  '| contender | idle clients connected | RSS per client (bytes) | JS heap per client (bytes) | note |',
  '|---|---:|---:|---:|---|',
  ...contenders.map((c) => {
    const r = results[c.key];
    if (!r?.idle) return `| ${c.name} | ${r?.error ?? 'not run'} | | | |`;
    return `| ${c.name} | ${fmt(r.idle.opened)} of ${fmt(IDLE)}${r.idle.failed ? ` (${r.idle.failed} failed)` : ''} in ${r.idle.seconds.toFixed(0)} s | ${fmt(r.idle.rssPer)} | ${fmt(r.idle.heapPer)} | ${r.idle.note ?? ''} |`;
  }),
].join('\n');
const slowTable = [
  `| contender | slow client: parts received of ${fmt(COUNT)} | slow client: bytes | slow client: outcome | edge RSS growth (MiB) | other ${NORMAL} clients: p50 ms | p99 ms | missing | the same ${NORMAL} without the slow client: p50 / p99 ms |`,
  '|---|---:|---:|---|---:|---:|---:|---:|---:|',
  ...contenders.map((c) => {
    const r = results[c.key]?.slow;
    if (!r) return `| ${c.name} | ${results[c.key]?.error ?? 'not run'} | | | | | | | |`;
    const outcome = r.slowClosed !== null && r.slowClosed !== undefined ? `closed (${r.slowClosed})${r.slowDiscontinuity ? `, told \`${r.slowDiscontinuity}\`` : ''}` : r.slowDiscontinuity ? `told \`${r.slowDiscontinuity}\`` : 'still connected, behind';
    return `| ${c.name} | ${fmt(r.slowParts)} | ${fmt(r.slowBytes)} | ${outcome} | ${fmt(r.edgeRssGrowth / 2 ** 20, 1)} | ${fmt(r.othersP50, 1)} | ${fmt(r.othersP99, 1)} | ${fmt(r.othersMissing)} | ${results[c.key].noSlow ? `${fmt(results[c.key].noSlow.othersP50, 1)} / ${fmt(results[c.key].noSlow.othersP99, 1)}` : '-'} |`;
  }),
].join('\n');
let chart = '';
if (WRITE) {
  chart = writeChart('peers-s4-memory', {
    title: 'S4: memory per idle client and the slow consumer (lower is better)',
    unit: 'bytes per idle client (RSS, heap); edge RSS growth with a slow client (KiB); others p99 (ms)',
    groups: ['RSS B/idle client', 'heap B/idle client', 'edge RSS growth KiB', 'others p99 ms'],
    series: contenders.filter(ok).map((c) => ({ name: c.name, values: [results[c.key].idle?.rssPer, results[c.key].idle?.heapPer, results[c.key].slow ? results[c.key].slow.edgeRssGrowth / 1024 : null, results[c.key].slow?.othersP99] })),
    log: true,
    note: `${machineLine()}; load ${load()}`,
  });
}
const md = `# S4: idle memory and a slow consumer, chatd beside raw ws and socket.io

Produced by \`node tools/bench/peers-s4-memory.bench.mjs --write\` (part of \`npm run bench\`) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${totalS} s.
${machineLine()}; PostgreSQL ${pg?.version ?? '?'}. **Load average at the end: ${load()}** (shared host: expect noise).

## How it is measured

- Idle: up to ${fmt(IDLE)} stream clients (50 connecting at a time, at most ${IDLE_BUDGET_MS / 1000} s per contender) connect to the edge process
  and stay idle; memory per client is the edge's RSS and JS heap (after a forced GC) after minus before, divided by the
  clients connected. chatd: subscribers of 10 idle chats (no run) on replica B; raw ws: bare connections; socket.io:
  connections joined to one of 10 rooms on B. All clients live in the bench process.
- Slow consumer: one stream at ${fmt(RATE)} parts/s for ${COUNT / RATE} s (111-byte parts), ${NORMAL} normal clients and one client behind a TCP
  proxy that forwards the server's bytes at ${fmt(SLOW_BPS)} B/s (~90 parts/s of payload). chatd: one chat generated on A,
  all clients on B; raw ws: one stream per connection from a ws server that calls \`send\` for every part (no backpressure
  handling); socket.io: all clients in one room on B, A broadcasts (through the postgres adapter).
  Reported: what the slow client got and how it ended, the growth of the edge's RSS while it streamed, and the other
  clients' producer -> client latency, beside a run of the same stream without the slow client.
- At this size the slow client's whole backlog (${fmt(COUNT * 111)} bytes of payload) fits in the loopback sockets' kernel
  buffers (several MB), so a server barely has to hold it in its own memory: the test shows how the slow client ends
  and whether the others slow down, not a server's memory under a long-running backlog.

## Results

### Idle clients

${idleTable}

### One slow consumer on a ${fmt(RATE)} parts/s stream

${slowTable}

${chart ? `![${chart}](${chart})` : ''}

## Why it comes out this way, and what would move it

- Idle cost: raw ws is a socket and a small object; socket.io adds its engine.io session and room bookkeeping; chatd adds a
  subscription per client (its snapshot has been read; it keeps a PostgreSQL LISTEN registration per chat, shared by all
  subscribers of that chat, and the per-client sender state).
- A slow client: chatd's sender coalesces consecutive text deltas once the socket's buffer passes a threshold and cuts a
  client too slow even for that with \`too_slow\` (1008), so the replica's memory stays bounded and nobody else waits.
  A raw ws server that sends every part buffers everything the client has not read (RSS grows with the backlog until the
  stream ends). socket.io buffers per client in engine.io's write queue, the same way.
`;
console.log(`\n${idleTable}\n\n${slowTable}\n\nload ${load()}, ${totalS} s`);
if (WRITE) writeResult('peers-s4-memory', md);
process.exit(0);
