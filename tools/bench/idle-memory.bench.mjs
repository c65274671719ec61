#!/usr/bin/env node
// Benchmark: server memory of 10k idle chat stream clients on one chatd replica (100 chats, 100 clients
// each, resumed with nothing missed), beside 10k idle connections to a bare `ws` server in the same run.
// The clients live in a child process, so only the server's memory is counted: heap (used + external)
// after a full GC, and RSS, before and after the clients connect; bytes per client = delta / clients.
//
//   node tools/bench/idle-memory.bench.mjs [--clients 10000] [--chats 100] [--connect-budget-ms 12000] [--write]
//
// Needs the workspace built (`npx nx run-many -t build`) for @chatd/testkit; chatd itself is loaded from
// `@chatd/oss` when it exports startChatdServer, else from its sources through tsx. Uses DATABASE_URL when
// set, otherwise an embedded PostgreSQL. --write records the figures in tools/bench/results/chatd-oss.md.
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { loadChatd, writeSection } from './lib/chatd-oss-results.mjs';
import { BENCH_SOCKET_CAPS } from './lib/socket-caps.mjs';
import { BENCH_USER_LIMITS } from './lib/user-limits.mjs';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..', '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : fallback;
}

if (process.argv.includes('--clients-process')) {
  // The child: opens the sockets it is told to, a few hundred at a time, and keeps them idle.
  const { default: WebSocket } = await import('ws');
  let sockets = [];
  process.on('message', async (m) => {
    if (m.cmd === 'connect') {
      const CONCURRENCY = 250;
      let failed = 0;
      const t0 = performance.now();
      for (let i = 0; i < m.urls.length && performance.now() - t0 < m.budgetMs; i += CONCURRENCY) {
        await Promise.all(
          m.urls.slice(i, i + CONCURRENCY).map(
            (url) =>
              new Promise((resolve) => {
                const ws = new WebSocket(url, { headers: m.headers, perMessageDeflate: false });
                sockets.push(ws);
                // Connected once the first frame (the snapshot, or the baseline's hello) has arrived.
                ws.once('message', resolve);
                ws.once('error', () => {
                  failed++;
                  resolve();
                });
              }),
          ),
        );
      }
      process.send({ kind: 'connected', open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, failed });
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

async function main() {
  const CLIENTS = arg('clients', 10_000);
  const CHATS = arg('chats', 100);
  const CONNECT_BUDGET_MS = arg('connect-budget-ms', 12_000);
  const WRITE = process.argv.includes('--write');
  const started = performance.now();
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');

  const { startChatdServer } = await loadChatd();
  const { WebSocketServer } = await import('ws');
  const { pino } = await import('pino');
  let pg;
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const { startEmbeddedPostgres } = await import('@chatd/testkit/postgres');
    pg = await startEmbeddedPostgres();
    databaseUrl = pg.url;
  }

  const replica = await startChatdServer({ config: { databaseUrl, worker: false, ...BENCH_SOCKET_CAPS, ...BENCH_USER_LIMITS }, logger: pino({ level: 'silent' }), env: {} });
  const { user } = await replica.chatd.identity.ensureUser({ username: 'bench', admin: false });
  const { token } = await replica.chatd.identity.createToken(user.id, 'bench');
  const createChat = async (i) => {
    const res = await fetch(`${replica.url}/api/experimental/chats`, {
      method: 'POST',
      headers: { 'coder-session-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ content: [{ type: 'text', text: `idle chat ${i}` }] }),
    });
    const chat = await res.json();
    const { rows } = await replica.chatd.pool.query('SELECT max(id)::text AS id FROM chat_messages WHERE chat_id = $1', [chat.id]);
    return { id: chat.id, lastId: rows[0].id };
  };
  const chats = [];
  for (let i = 0; i < CHATS; i += 10) chats.push(...(await Promise.all(Array.from({ length: Math.min(10, CHATS - i) }, (_, k) => createChat(i + k)))));

  const child = fork(self, ['--clients-process'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox = [];
  let waiter;
  child.on('message', (m) => {
    inbox.push(m);
    waiter?.();
  });
  const next = async (kind) => {
    for (;;) {
      const i = inbox.findIndex((m) => m.kind === kind);
      if (i >= 0) return inbox.splice(i, 1)[0];
      await new Promise((r) => (waiter = r));
    }
  };
  await next('ready');

  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    const m = process.memoryUsage();
    return { heap: m.heapUsed + m.external, rss: m.rss };
  };
  /**
   * Connects up to `count` sockets to `urls` (round robin; the child stops adding after CONNECT_BUDGET_MS so the
   * bench stays bounded on a busy machine) and returns the server-side memory delta per open socket.
   */
  const measure = async (urls, headers, count) => {
    const before = await settle();
    const t0 = performance.now();
    child.send({ cmd: 'connect', urls: Array.from({ length: count }, (_, i) => urls[i % urls.length]), headers, budgetMs: CONNECT_BUDGET_MS });
    const r = await next('connected');
    const connectMs = performance.now() - t0;
    if (r.failed > 0 || r.open === 0) throw new Error(`${r.open} sockets open, ${r.failed} failed`);
    const after = await settle();
    child.send({ cmd: 'close' });
    await next('closed');
    return { clients: r.open, heap: (after.heap - before.heap) / r.open, rss: (after.rss - before.rss) / r.open, connectMs };
  };

  const wsBase = replica.url.replace('http', 'ws');
  const chatd = await measure(
    chats.map((c) => `${wsBase}/api/experimental/chats/${c.id}/stream?after_id=${c.lastId}`),
    { 'coder-session-token': token },
    CLIENTS,
  );
  const subscriptionsLeft = async () => {
    for (let i = 0; i < 200 && replica.subscriber.metrics().active > 0; i++) await new Promise((r) => setTimeout(r, 50));
    return replica.subscriber.metrics().active;
  };
  const leftOver = await subscriptionsLeft();
  console.error(`idle-memory: chatd measured (${leftOver} subscriptions left after close)`);

  const wss = new WebSocketServer({ port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => ws.send('[]'));
  const bare = await measure([`ws://127.0.0.1:${wss.address().port}/`], {}, chatd.clients);
  await new Promise((r) => wss.close(r));
  console.error('idle-memory: baseline measured');

  child.send({ cmd: 'exit' });
  await replica.close();
  await pg?.stop();

  const kb = (b) => (b / 1024).toFixed(1);
  const lines = [
    `### Idle stream clients: server memory per client (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version})`,
    '',
    `${chatd.clients.toLocaleString('en-US')} clients (of ${CLIENTS.toLocaleString('en-US')} asked; connecting stops after ${CONNECT_BUDGET_MS / 1000} s) on ${CHATS} chats, resumed with nothing missed, then idle; the same number of bare connections; clients in a child process. Heap = heapUsed + external after a full GC.`,
    `Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.`,
    '',
    '| server | heap KB / client | RSS KB / client | time to connect all |',
    '|---|---:|---:|---:|',
    `| chatd stream clients | ${kb(chatd.heap)} | ${kb(chatd.rss)} | ${(chatd.connectMs / 1000).toFixed(1)} s |`,
    `| bare ws connections | ${kb(bare.heap)} | ${kb(bare.rss)} | ${(bare.connectMs / 1000).toFixed(1)} s |`,
    `| chatd over bare | ${kb(chatd.heap - bare.heap)} | ${kb(chatd.rss - bare.rss)} | |`,
    '',
    `Goal: < 40 KB per idle client over the bare baseline. RSS rarely shrinks after the first measurement, so the baseline's RSS (measured second) is an underestimate; heap is the better figure. Total bench time ${((performance.now() - started) / 1000).toFixed(1)} s.`,
  ];
  console.log(lines.join('\n'));
  if (WRITE) writeSection('idle-memory', lines.join('\n'));
}
