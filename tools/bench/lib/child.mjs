// The processes of the peers-*.bench.mjs scenarios, one role per process (`node child.mjs <role> ...`).
// Each prints `ready <url> [extra]` once it serves. Producers ("A") generate parts with the shared paced
// generator (common.mjs); edges ("B") are where subscribers connect.
//
//   chatd-A <db>     chatd replica with the worker and a bench model (the chat's message is the load spec)
//   chatd-B <db>     chatd replica without worker (subscribers connect here; parts arrive over the relay)
//   raw              bare ws server: each connection gets its own paced stream, one 111-byte part per frame
//   sio-A <db>       socket.io server with @socket.io/postgres-adapter; POST /start broadcasts to a room
//   sio-B <db>       socket.io server with @socket.io/postgres-adapter; clients `join` a room here
//   rs-A <redis>     resumable-stream producer: POST /start creates the stream and drains it locally
//   rs-B <redis>     resumable-stream edge: GET /stream/<id>?skip=<chars> resumes it over HTTP (chunked)
import http from 'node:http';
import { openGate, pacedParts, sleep, wall } from './common.mjs';
import { SOCKET_IO_ATTACHMENTS_DDL } from './services.mjs';

const [role, ...args] = process.argv.slice(2);

/** Reads a JSON request body. */
function body(req) {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (s += d));
    req.on('end', () => {
      try {
        resolve(s ? JSON.parse(s) : {});
      } catch (err) {
        reject(err);
      }
    });
  });
}
function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}
process.on('SIGTERM', () => process.exit(0));

/** The control port of every role: POST /go {batch, startAt} opens a start gate. */
async function control() {
  const server = http.createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/go') {
      const { batch, startAt } = await body(req);
      openGate(batch, startAt);
      res.end('ok');
      return;
    }
    if (req.url === '/mem') {
      global.gc?.();
      res.end(JSON.stringify(process.memoryUsage()));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  return listen(server);
}
const ready = async (url) => process.stdout.write(`ready ${url} ${await control()}\n`);

// ------------------------------------------------------------------------------------------------ chatd

async function chatdReplica(worker, databaseUrl) {
  // BENCH_CHATD_OSS / BENCH_CHATD_ENTERPRISE: another build's entry files (tracing-overhead.bench.mjs compares
  // against HEAD without OpenTelemetry); OTEL_EXPORTER_OTLP_ENDPOINT starts the SDK as the bins do.
  const oss = await import(process.env.BENCH_CHATD_OSS ?? '@chatd/oss');
  const { startChatdServer } = oss;
  const { createMultiReplicaSubscribeFn, createReplicaCredentialVerifier, createReplicaRegistry } = await import(process.env.BENCH_CHATD_ENTERPRISE ?? '@chatd/enterprise');
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
    if (!(await oss.startTracingFromEnv(process.env, { serviceName: `chatd-${worker ? 'A' : 'B'}`, warn: (l) => console.error(l) }))) throw new Error('tracing did not start');
  }
  const { BENCH_SOCKET_CAPS } = await import('./socket-caps.mjs');
  const { BENCH_USER_LIMITS } = await import('./user-limits.mjs');
  const { benchLanguageModel } = await import('./bench-model.mjs');
  // The bench model: the user's message is JSON {rate, count, startAt}; parts come from pacedParts.
  const model = benchLanguageModel('bench', async function* ({ prompt, signal }) {
    const spec = JSON.parse(prompt);
    yield* pacedParts({ ...spec, signal });
    if (signal.aborted) throw new Error('cancelled');
  });
  let registry;
  const running = await startChatdServer({
    port: 0,
    config: { databaseUrl, worker, acquireIntervalMs: 20, maxChatsPerAcquire: 200, logLevel: 'warn', staleAfterMs: 600_000, ...BENCH_SOCKET_CAPS, ...BENCH_USER_LIMITS },
    migrate: false,
    models: { resolve: () => model },
    gitsync: false,
    console: false,
    subscribeFn: (chatd) => {
      registry = createReplicaRegistry({ db: chatd.pool, clock: chatd.clock, logger: chatd.logger });
      return createMultiReplicaSubscribeFn({
        resolveReplicaAddress: (s, id) => registry.resolveReplicaAddress(s, id),
        replicaId: () => chatd.replicaId,
        replicaCredential: () => registry.credential(),
        clock: chatd.clock,
        // CHATD_RELAY_MODE (link | per-subscriber) as `chatd-enterprise serve` reads it; unset: the product default.
        ...(process.env.CHATD_RELAY_MODE ? { relayMode: process.env.CHATD_RELAY_MODE } : {}),
      });
    },
    // As `chatd-enterprise serve`: legs that present the replica credential count as relay legs of their peer.
    verifyReplicaCredential: (chatd) => createReplicaCredentialVerifier({ credentialHash: (id) => registry.credentialHash(id), clock: chatd.clock }),
  });
  await registry.register({ id: running.replicaId, relayAddress: running.url, worker });
  process.removeAllListeners('SIGTERM');
  process.on('SIGTERM', async () => {
    const t = setTimeout(() => process.exit(0), 3_000);
    await registry.deregister().catch(() => undefined);
    await running.close().catch(() => undefined);
    clearTimeout(t);
    process.exit(0);
  });
  await ready(running.url);
}

// ------------------------------------------------------------------------------------------------ raw ws

async function rawWs() {
  const { WebSocketServer } = await import('ws');
  const server = http.createServer((req, res) => {
    if (req.url === '/mem') {
      global.gc?.();
      res.end(JSON.stringify(process.memoryUsage()));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', async (ws, req) => {
    const q = new URL(req.url, 'http://x').searchParams;
    const count = Number(q.get('count') ?? 0);
    if (!count) return; // idle client (S4)
    const ac = new AbortController();
    ws.on('close', () => ac.abort());
    ws.on('error', () => ac.abort());
    for await (const part of pacedParts({ rate: Number(q.get('rate')), count, batch: q.get('batch') ?? undefined, from: Number(q.get('from') ?? 1), signal: ac.signal })) {
      if (ws.readyState !== ws.OPEN) break;
      ws.send(part);
      // Unpaced: stop at 1 MiB buffered so a socket is never flooded; paced streams just send.
      while (Number(q.get('rate')) === 0 && ws.bufferedAmount > 1 << 20 && ws.readyState === ws.OPEN) await new Promise((r) => setImmediate(r));
    }
    if (ws.readyState === ws.OPEN) ws.close(1000);
  });
  await ready((await listen(server)).replace('http', 'ws'));
}

// ------------------------------------------------------------------------------------------------ socket.io

async function socketIo(producer, databaseUrl) {
  const { Server } = await import('socket.io');
  const { createAdapter } = await import('@socket.io/postgres-adapter');
  const pg = (await import('pg')).default;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  pool.on('error', () => undefined);
  // The bench creates the table before A and B start (services.mjs createSocketIoTable); this is a no-op then, and
  // still tolerates a concurrent creation (the race on the table's type) when a child runs on its own.
  await pool.query(SOCKET_IO_ATTACHMENTS_DDL).catch((err) => {
    if (err.code !== '23505' && err.code !== '42P07') throw err;
  });
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.adapter(createAdapter(pool));
  io.on('connection', (socket) => {
    socket.on('join', (room, ack) => {
      socket.join(room);
      ack?.('ok');
    });
  });
  server.on('request', async (req, res) => {
    if (req.url.startsWith('/socket.io')) return;
    if (req.url === '/mem') {
      global.gc?.();
      res.end(JSON.stringify(process.memoryUsage()));
      return;
    }
    if (producer && req.method === 'POST' && req.url === '/start') {
      const spec = await body(req);
      res.end('ok');
      // Every part is one broadcast to the room: the adapter sends it to the other servers (one NOTIFY each).
      for await (const part of pacedParts(spec)) io.to(spec.room).emit('p', part);
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await ready(await listen(server));
}

// ------------------------------------------------------------------------------------------------ resumable-stream

async function resumable(producer, redisUrl) {
  const { createClient } = await import('redis');
  const { createResumableStreamContext } = await import('resumable-stream');
  const publisher = createClient({ url: redisUrl });
  const subscriber = createClient({ url: redisUrl });
  publisher.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const ctx = createResumableStreamContext({ waitUntil: (p) => p.catch(() => undefined), publisher, subscriber, keyPrefix: 'bench' });
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/mem') {
        global.gc?.();
        res.end(JSON.stringify(process.memoryUsage()));
        return;
      }
      if (producer && req.method === 'POST' && url.pathname === '/start') {
        const spec = await body(req);
        // The producer's own reader (in an app: the HTTP response of the request that started generation).
        const stream = await ctx.createNewResumableStream(spec.id, () => ReadableStream.from(pacedParts(spec)));
        res.end('ok');
        const reader = stream.getReader();
        while (!(await reader.read()).done);
        return;
      }
      if (url.pathname.startsWith('/stream/')) {
        const id = url.pathname.slice('/stream/'.length);
        const stream = await ctx.resumeExistingStream(id, Number(url.searchParams.get('skip') ?? 0) || undefined);
        if (!stream) {
          res.statusCode = stream === null ? 422 : 404;
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.flushHeaders();
        const reader = stream.getReader();
        res.on('close', () => reader.cancel().catch(() => undefined));
        for (;;) {
          const { done, value } = await reader.read();
          if (done || res.destroyed) break;
          res.write(value);
        }
        res.end();
        return;
      }
      res.statusCode = 404;
      res.end();
    } catch (err) {
      if (!res.headersSent) res.statusCode = 500;
      res.end(String(err));
    }
  });
  await ready(await listen(server));
}

// ------------------------------------------------------------------------------------------------ world-postgres

/** Vercel Workflow's PostgreSQL world, its streamer only: A writes each part with writeToStream, readers read. */
async function worldPostgres(producer, databaseUrl) {
  const { createWorld } = await import('@workflow/world-postgres');
  const world = createWorld({ connectionString: databaseUrl });
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      if (producer && req.method === 'POST' && url.pathname === '/start') {
        const spec = await body(req);
        res.end('ok');
        // As a workflow step's writable does: one awaited write per chunk (an INSERT, then a pg_notify).
        for await (const part of pacedParts(spec)) await world.writeToStream(spec.id, 'wrun_bench', part);
        await world.closeStream(spec.id, 'wrun_bench');
        return;
      }
      if (url.pathname.startsWith('/stream/')) {
        const id = url.pathname.slice('/stream/'.length);
        // The reader's own resume: a start index (in chunks).
        const stream = await world.readFromStream(id, Number(url.searchParams.get('skip') ?? 0) || undefined);
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.flushHeaders();
        const reader = stream.getReader();
        res.on('close', () => reader.cancel().catch(() => undefined));
        for (;;) {
          const { done, value } = await reader.read();
          if (done || res.destroyed) break;
          res.write(value);
        }
        res.end();
        return;
      }
      res.statusCode = 404;
      res.end();
    } catch (err) {
      if (!res.headersSent) res.statusCode = 500;
      res.end(String(err));
    }
  });
  await ready(await listen(server));
}

// ------------------------------------------------------------------------------------------------ writers (S3)

/**
 * Unrelated writers: POST /run {db, writers, startAt, durationMs} runs `writers` connections, each committing
 * one small INSERT transaction after another from startAt for durationMs; answers with their latencies' figures.
 */
async function writers() {
  const pg = (await import('pg')).default;
  const server = http.createServer(async (req, res) => {
    const spec = await body(req);
    const clients = await Promise.all(
      Array.from({ length: spec.writers }, async () => {
        const c = new pg.Client({ connectionString: spec.db });
        c.on('error', () => undefined);
        await c.connect();
        return c;
      }),
    );
    await clients[0].query('create table if not exists bench_writes (id bigserial primary key, chat int not null, body text not null, at timestamptz not null default now())');
    const wait = spec.startAt - wall();
    if (wait > 0) await sleep(wait);
    const end = spec.startAt + spec.durationMs;
    const lat = [];
    const body200 = 'w'.repeat(200);
    await Promise.all(
      clients.map(async (c, i) => {
        while (wall() < end) {
          const t0 = wall();
          await c.query('insert into bench_writes (chat, body) values ($1, $2)', [i, body200]);
          lat.push(wall() - t0);
        }
      }),
    );
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    lat.sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.max(0, Math.ceil((p / 100) * lat.length) - 1))];
    res.end(JSON.stringify({ count: lat.length, perSecond: lat.length / (spec.durationMs / 1000), p50: pct(50), p99: pct(99), max: lat.at(-1) }));
  });
  await ready(await listen(server));
}

// ------------------------------------------------------------------------------------------------ dispatch

if (role === 'chatd-A') await chatdReplica(true, args[0]);
else if (role === 'chatd-B') await chatdReplica(false, args[0]);
else if (role === 'raw') await rawWs();
else if (role === 'sio-A') await socketIo(true, args[0]);
else if (role === 'sio-B') await socketIo(false, args[0]);
else if (role === 'rs-A') await resumable(true, args[0]);
else if (role === 'rs-B') await resumable(false, args[0]);
else if (role === 'wp-A') await worldPostgres(true, args[0]);
else if (role === 'writers') await writers();
else if (role === 'wp-B') await worldPostgres(false, args[0]);
else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
void sleep;
void wall;
