#!/usr/bin/env node
// Benchmark: resuming the stream of a chat with 10k messages on one chatd replica: time from dialing the
// socket to the first event and to the last event of the snapshot, for the whole history (after_id=0),
// a resume near the end (the last 10 messages) and a resume with nothing missed. Beside it, in the same
// run, a bare baseline: a `ws` server that runs the same SELECT with `pg` and sends frames of 256 events.
//
//   node tools/bench/resume.bench.mjs [--messages 10000] [--reps 7] [--history-reps 3] [--write]
//
// Needs the workspace built (`npx nx run-many -t build`) for @chatd/testkit; chatd itself is loaded from
// `@chatd/oss` when it exports startChatdServer, else from its sources through tsx. Uses DATABASE_URL when
// set, otherwise an embedded PostgreSQL. --write records the figures in tools/bench/results/chatd-oss.md.
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadChatd, writeSection } from './lib/chatd-oss-results.mjs';
import { BENCH_SOCKET_CAPS } from './lib/socket-caps.mjs';
import { BENCH_USER_LIMITS } from './lib/user-limits.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : fallback;
}
const MESSAGES = arg('messages', 10_000);
const REPS = arg('reps', 7);
/** The whole-history dials are the slow ones: fewer of them keep the bench under a minute. */
const HISTORY_REPS = arg('history-reps', 3);
const WRITE = process.argv.includes('--write');
const FRAME_EVENTS = 256;

const started = performance.now();
const { startChatdServer } = await loadChatd();
const { default: WebSocket, WebSocketServer } = await import('ws');
const { pino } = await import('pino');
const pg = (await import('pg')).default;

let server;
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  const { startEmbeddedPostgres } = await import('@chatd/testkit/postgres');
  server = await startEmbeddedPostgres();
  databaseUrl = server.url;
}

// An API-only replica: nothing generates, the chat just has a long history.
const replica = await startChatdServer({ config: { databaseUrl, worker: false, ...BENCH_SOCKET_CAPS, ...BENCH_USER_LIMITS }, logger: pino({ level: 'silent' }), env: {} });
const { user } = await replica.chatd.identity.ensureUser({ username: 'bench', admin: false });
const { token } = await replica.chatd.identity.createToken(user.id, 'bench');
const res = await fetch(`${replica.url}/api/experimental/chats`, {
  method: 'POST',
  headers: { 'coder-session-token': token, 'content-type': 'application/json' },
  body: JSON.stringify({ content: [{ type: 'text', text: 'a chat with a long history' }] }),
});
const chat = await res.json();
const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
await pool.query(
  `INSERT INTO chat_messages (chat_id, role, content, created_at)
   SELECT $1, CASE WHEN g % 2 = 0 THEN 'user' ELSE 'assistant' END,
          jsonb_build_array(jsonb_build_object('type', 'text', 'text', 'message ' || g || ': an ordinary line of chat text, about as long as a short reply.')),
          now()
     FROM generate_series(1, $2::int - 1) g`,
  [chat.id, MESSAGES],
);
await pool.query(`UPDATE chats SET status = 'waiting' WHERE id = $1`, [chat.id]);
const { rows: idRows } = await pool.query(`SELECT id FROM chat_messages WHERE chat_id = $1 AND visibility IN ('user', 'both') ORDER BY id`, [chat.id]);
const ids = idRows.map((r) => r.id);
if (ids.length !== MESSAGES) throw new Error(`expected ${MESSAGES} visible messages, found ${ids.length}`);

// Baseline: the same read and framing without chatd (no auth, no subscription, no live state).
const wss = new WebSocketServer({ port: 0, perMessageDeflate: false });
await new Promise((r) => wss.once('listening', r));
wss.on('connection', async (ws, req) => {
  const after = new URL(req.url ?? '/', 'http://x').searchParams.get('after_id') ?? '0';
  const events = [{ type: 'status', chat_id: chat.id, status: { status: 'waiting' } }];
  const { rows } = await pool.query(
    `SELECT id, chat_id, role, content, created_at FROM chat_messages WHERE chat_id = $1 AND id > $2::bigint AND NOT deleted AND visibility IN ('user', 'both') ORDER BY id`,
    [chat.id, after],
  );
  for (const r of rows) events.push({ type: 'message', chat_id: r.chat_id, message: { id: Number(r.id), chat_id: r.chat_id, created_at: r.created_at.toISOString(), role: r.role, content: r.content } });
  for (let i = 0; i < events.length; i += FRAME_EVENTS) ws.send(JSON.stringify(events.slice(i, i + FRAME_EVENTS)));
});

/** Dials `url`, resolves with ms to the first event and to the `expected`-th message event. */
function measure(url, headers, expected) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    let messages = 0;
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    ws.on('message', (data) => {
      const now = performance.now();
      if (first === 0) first = now - t0;
      for (const e of JSON.parse(String(data))) if (e.type === 'message') messages++;
      if (messages >= expected) {
        ws.terminate();
        resolve({ firstMs: first, lastMs: now - t0, messages });
      }
    });
    ws.on('error', reject);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${url}: ${messages} of ${expected} messages after 10 s`));
    }, 10_000);
    ws.once('close', () => clearTimeout(timer));
    // Resumes with nothing missed end at the snapshot's first (only) frame.
    if (expected === 0) ws.once('message', () => resolve({ firstMs: first, lastMs: first, messages: 0 }));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const scenarios = [
  { name: `whole history (${MESSAGES.toLocaleString('en-US')} messages)`, afterId: '0', expected: MESSAGES, reps: HISTORY_REPS },
  { name: 'resume, last 10 messages missed', afterId: String(ids[ids.length - 11]), expected: 10 },
  { name: 'resume, nothing missed', afterId: String(ids[ids.length - 1]), expected: 0 },
];
const rows = [];
for (const s of scenarios) {
  const chatdUrl = `${replica.url.replace('http', 'ws')}/api/experimental/chats/${chat.id}/stream?after_id=${s.afterId}`;
  const baseUrl = `ws://127.0.0.1:${wss.address().port}/?after_id=${s.afterId}`;
  const c = [];
  const b = [];
  // Warm-up, then alternate chatd and the baseline.
  await measure(chatdUrl, { 'coder-session-token': token }, s.expected);
  await measure(baseUrl, {}, s.expected);
  for (let i = 0; i < (s.reps ?? REPS); i++) {
    c.push(await measure(chatdUrl, { 'coder-session-token': token }, s.expected));
    b.push(await measure(baseUrl, {}, s.expected));
  }
  if (c.some((r) => r.messages !== s.expected)) throw new Error(`${s.name}: chatd sent ${c.map((r) => r.messages)} messages, expected ${s.expected}`);
  console.error(`resume: ${s.name} done`);
  rows.push({ name: s.name, chatd: { first: median(c.map((r) => r.firstMs)), last: median(c.map((r) => r.lastMs)) }, base: { first: median(b.map((r) => r.firstMs)), last: median(b.map((r) => r.lastMs)) } });
}

await new Promise((r) => wss.close(r));
await pool.end();
await replica.close();
await server?.stop();

const ms = (x) => x.toFixed(1);
const lines = [
  `### Resume: stream snapshot of a chat with ${MESSAGES.toLocaleString('en-US')} messages (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version})`,
  '',
  `Median of ${REPS} dials each (${HISTORY_REPS} for the whole history), new socket per dial, from dialing to the first event and to the last message of the snapshot.`,
  `Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.`,
  '',
  '| scenario | chatd first / last event ms | bare pg + ws first / last ms |',
  '|---|---:|---:|',
  ...rows.map((r) => `| ${r.name} | ${ms(r.chatd.first)} / ${ms(r.chatd.last)} | ${ms(r.base.first)} / ${ms(r.base.last)} |`),
  '',
  `Goal: resume < 50 ms. Total bench time ${((performance.now() - started) / 1000).toFixed(1)} s.`,
];
console.log(lines.join('\n'));
if (WRITE) writeSection('resume', lines.join('\n'));
