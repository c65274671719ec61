#!/usr/bin/env node
// Benchmark: per-step overhead of the agent step loop (issue 26) on real PostgreSQL: the time from the end of one
// model step (its `finish` part handed to the worker) to the start of the next model call, which covers persisting
// the step's assistant message, running a server tool that does nothing, persisting the `tool` message and building
// the next call. Beside it, in the same run and on the same server, one plain INSERT transaction (BEGIN, INSERT,
// COMMIT on a pooled client), so the figure reads as "so many plain writes".
//
//   node tools/bench/step-overhead.bench.mjs [--chats 10] [--steps 30] [--write]
//
// Needs @chatd/oss built (`npx nx run-many -t build`). Uses DATABASE_URL when set, otherwise an embedded
// PostgreSQL. --write records the figures in tools/bench/results/chatd-oss.md (section `step-overhead`).
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadChatd, writeSection } from './lib/chatd-oss-results.mjs';
import { BENCH_USER_LIMITS } from './lib/user-limits.mjs';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : fallback;
}
const CHATS = arg('chats', 10);
const STEPS = arg('steps', 30);
const WRITE = process.argv.includes('--write');

const started = performance.now();
const { startChatdServer } = await loadChatd();
const { pino } = await import('pino');
const pg = (await import('pg')).default;

let server;
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  const { startEmbeddedPostgres } = await import('@chatd/testkit/postgres');
  server = await startEmbeddedPostgres();
  databaseUrl = server.url;
}

/** Intervals (ms) from a step's finish part to the next model call of the same chat. */
const overheads = [];
const lastFinish = new Map();

/** A model that calls `noop` until the turn has STEPS steps, then answers; it records the step boundaries. */
const model = {
  specificationVersion: 'v3',
  provider: 'bench',
  modelId: 'bench',
  supportedUrls: {},
  async doStream(call) {
    const chatKey = JSON.stringify(call.prompt.find((m) => m.role === 'user')?.content ?? '');
    const t0 = performance.now();
    const prev = lastFinish.get(chatKey);
    if (prev !== undefined) overheads.push(t0 - prev);
    const step = call.prompt.filter((m) => m.role === 'assistant').length + 1;
    const id = `call-${step}`;
    const parts =
      step < STEPS
        ? [
            { type: 'text-delta', id: 't', delta: `step ${step}` },
            { type: 'tool-call', toolCallId: id, toolName: 'noop', input: '{}' },
            { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: { inputTokens: { total: 1 }, outputTokens: { total: 1 } } },
          ]
        : [
            { type: 'text-delta', id: 't', delta: 'done' },
            { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: { inputTokens: { total: 1 }, outputTokens: { total: 1 } } },
          ];
    let i = 0;
    const stream = new ReadableStream(
      {
        pull(controller) {
          const p = parts[i++];
          if (!p) return controller.close();
          if (p.type === 'finish') lastFinish.set(chatKey, step < STEPS ? performance.now() : undefined);
          controller.enqueue(p);
        },
      },
      { highWaterMark: 0 },
    );
    return { stream };
  },
  async doGenerate() {
    throw new Error('unused');
  },
};

const replica = await startChatdServer({
  config: { databaseUrl, maxSteps: STEPS + 1, ...BENCH_USER_LIMITS },
  logger: pino({ level: 'silent' }),
  env: {},
  models: { resolve: () => model },
  tools: [{ name: 'noop', inputSchema: { type: 'object', properties: {} }, execute: () => 'ok' }],
});
const { user } = await replica.chatd.identity.ensureUser({ username: 'bench-steps', admin: false });
const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
await pool.query('CREATE TABLE IF NOT EXISTS bench_plain_insert (id bigserial PRIMARY KEY, chat_id uuid NOT NULL, content jsonb NOT NULL, created_at timestamptz NOT NULL)');

/** One plain INSERT transaction on a pooled client, as the store's writes are. */
async function plainInsert(chatId) {
  const t0 = performance.now();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO bench_plain_insert (chat_id, content, created_at) VALUES ($1, $2, $3)', [chatId, JSON.stringify([{ type: 'text', text: 'a step' }]), new Date()]);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  return performance.now() - t0;
}

const inserts = [];
for (let c = 0; c < CHATS + 1; c++) {
  const { chat } = await replica.chatd.chats.createChat({ ownerId: user.id, content: [{ type: 'text', text: `bench chat ${c}` }] });
  const ended = replica.worker.waitForRunEnd(chat.id);
  replica.worker.wake();
  const result = await ended;
  if (result.outcome !== 'finished' || result.messageIds.length !== 2 * STEPS - 1) throw new Error(`chat ${c}: ${result.outcome}, ${result.messageIds.length} messages`);
  // The first chat warms up (JIT, connections, plans) and is not counted; the baseline alternates with the turns.
  if (c === 0) overheads.length = 0;
  for (let i = 0; i < STEPS - 1; i++) {
    const ms = await plainInsert(chat.id);
    if (c > 0) inserts.push(ms);
  }
  console.error(`step-overhead: chat ${c} done`);
}

await pool.query('DROP TABLE bench_plain_insert');
await pool.end();
await replica.close();
await server?.stop();

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => x.toFixed(2);
const p50 = pct(overheads, 50);
const p99 = pct(overheads, 99);
const i50 = pct(inserts, 50);
const i99 = pct(inserts, 99);
const lines = [
  `### Agent steps: per-step overhead (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version})`,
  '',
  `${CHATS} turns of ${STEPS} steps each (after one warm-up turn), one replica, real PostgreSQL; ${overheads.length} step boundaries`,
  `and ${inserts.length} plain INSERT transactions, alternating turn by turn. A step boundary runs from the model's \`finish\` part to the`,
  'next model call: persist the assistant step (fenced, with `last_seq`), publish it, run a server tool that does nothing,',
  'persist and publish the `tool` message (two transactions with the chat row locked), build the next prompt.',
  `Load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}${Math.max(...os.loadavg().slice(0, 2)) > os.cpus().length ? ': measured on a machine shared with other work' : ''}.`,
  '',
  '| measure | p50 ms | p99 ms |',
  '|---|---:|---:|',
  `| step boundary (persist step + tool message, next model call) | ${ms(p50)} | ${ms(p99)} |`,
  `| one plain INSERT transaction (baseline) | ${ms(i50)} | ${ms(i99)} |`,
  '',
  `A step boundary costs about ${(p50 / i50).toFixed(1)} plain INSERT transactions at the median. It makes two fenced transactions of six`,
  'statements each (BEGIN, lock the chat row, insert the message, append it to the run, touch the chat, COMMIT) and awaits',
  "one NOTIFY after each, about 14 database round trips one after the other against the baseline's three, so the ratio",
  'follows the round-trip count; the tool itself, the live buffer and building the prompt add little beside them.',
  `Total bench time ${((performance.now() - started) / 1000).toFixed(1)} s.`,
];
console.log(lines.join('\n'));
if (WRITE) writeSection('step-overhead', lines.join('\n'));
