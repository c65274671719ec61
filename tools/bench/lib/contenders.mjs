// The contenders of the peers benchmarks, each with the same shape: `start()` starts its processes (producer
// "A", edge "B"), `open(spec, tally, opts)` starts one stream of `spec.count` parts at `spec.rate` parts/s
// (first part at `spec.startAt`) and subscribes one client to it on B; the client feeds every part it gets to
// `tally`. `resume(handle)` (S2) drops the client's connection and reconnects it to the other process with
// the contender's own resume mechanism, if it has one.
import http from 'node:http';
import { decodeParts, PART_BYTES, sleep, wall } from './common.mjs';
import { createSocketIoTable, prepareChatd, startPair } from './services.mjs';
import { spawnRole } from './common.mjs';

/** Per-stream bookkeeping: unique parts, duplicates, first/last arrival; latencies go to a shared array. */
export class Tally {
  constructor(count, latencies) {
    this.count = count;
    this.latencies = latencies;
    this.seen = new Uint8Array(count + 1);
    this.unique = 0;
    this.dups = 0;
    this.first = 0;
    this.last = 0;
    this.maxIndex = 0;
    this.done = new Promise((r) => (this.resolve = r));
  }
  /** A part `index` stamped `at` by its producer arrived now. */
  add(index, at, now = wall()) {
    if (index < 1 || index > this.count) return;
    if (this.seen[index]) {
      this.dups++;
      return;
    }
    this.seen[index] = 1;
    this.unique++;
    if (index > this.maxIndex) this.maxIndex = index;
    if (!this.first) this.first = now;
    this.last = now;
    this.latencies?.push(now - at);
    if (this.unique === this.count) this.resolve();
  }
  addText(text, now = wall()) {
    for (const p of decodeParts(text)) this.add(p.index, p.at, now);
  }
  get missing() {
    return this.count - this.unique;
  }
  /** Parts missing below the highest index received: skipped, not merely late. */
  get gaps() {
    let n = 0;
    for (let i = 1; i < this.maxIndex; i++) if (!this.seen[i]) n++;
    return n;
  }
}

/** Resolves when `ws` opens; rejects on error. */
function opened(ws) {
  return new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
}

/**
 * What a real client does when its stream ends before the last part without being asked to: reconnect with
 * the contender's resume mechanism (to the other process), retrying every 200 ms. Counted as `unplanned`.
 */
export function autoResume(c, h) {
  if (h.closed || h.resuming || h.tally.unique === h.tally.count || !c.resume) return;
  h.unplanned = (h.unplanned ?? 0) + 1;
  h.resuming = true;
  (async () => {
    for (let i = 0; i < 50 && !h.closed && h.tally.unique < h.tally.count; i++) {
      await sleep(200);
      try {
        await c.resume(h);
        break;
      } catch {
        // try again
      }
    }
    h.resuming = false;
  })();
}

/** Stops a contender's processes and starts them again (after a run that left a backlog behind). */
export async function restart(c) {
  const procs = Object.values(c.procs ?? {});
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => (p.child.exitCode === null && p.child.signalCode === null ? new Promise((r) => p.child.once('exit', r)) : undefined)));
  await c.start({ again: true });
}

/** Opens start gate `batch` at `startAt` on a producer process (its control port). */
export async function go(proc, batch, startAt) {
  const res = await fetch(`${proc.extra}/go`, { method: 'POST', body: JSON.stringify({ batch, startAt }) });
  if (!res.ok) throw new Error(`go: ${res.status}`);
}

// ------------------------------------------------------------------------------------------------ chatd

export function chatd({ dbUrl }) {
  let A;
  let B;
  let token;
  let WebSocket;
  const c = {
    key: 'chatd',
    name: 'chatd (relay A -> B)',
    dbUrl,
    async start({ again } = {}) {
      WebSocket = (await import('ws')).default;
      if (!again) token = await prepareChatd(dbUrl);
      [A, B] = await Promise.all([spawnRole('chatd-A', [dbUrl]), spawnRole('chatd-B', [dbUrl])]);
      c.procs = { A, B };
    },
    go: (batch, startAt) => go(A, batch, startAt),
    token: () => token,
    async createChat(spec) {
      const res = await fetch(`${B.url}/api/experimental/chats`, {
        method: 'POST',
        headers: { 'coder-session-token': token, 'content-type': 'application/json' },
        body: JSON.stringify({ content: [{ type: 'text', text: JSON.stringify(spec) }] }),
      });
      if (res.status !== 201) throw new Error(`create chat: ${res.status} ${await res.text()}`);
      return (await res.json()).id;
    },
    /** Subscribes to chat `id` on `base` with the cursor in `h`; feeds the tally. */
    async connect(h, base) {
      const q = new URLSearchParams();
      if (h.afterId) q.set('after_id', h.afterId);
      if (h.runId) {
        q.set('run_id', h.runId);
        q.set('after_seq', String(h.seq));
      }
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/experimental/chats/${h.id}/stream${q.size ? `?${q}` : ''}`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
      h.ws = ws;
      ws.on('message', (data) => {
        if (h.ws !== ws) return;
        const now = wall();
        const events = JSON.parse(String(data));
        h.frames = (h.frames ?? 0) + 1;
        // Optional observer of every frame (reconnect-storm.bench.mjs times the snapshot); unset in the other benches.
        h.onFrame?.(events, now);
        if (process.env.BENCH_DEBUG === '2') console.error(`frame ${h.id.slice(0, 8)} on ${h.on} ${((now - (h.t0 ?? now)) | 0)} ms: ${events.map((e) => `${e.type}${e.message_part ? `:${e.message_part.seq}` : ''}${e.message ? `:${e.message.role}#${e.message.id}` : ''}${e.status ? `:${e.status.status ?? JSON.stringify(e.status)}` : ''}${e.discontinuity ? `:${e.discontinuity.reason}` : ''}`).join(',')}`);
        for (const e of events) {
          if (h.onFirstFrame && (e.type === 'message_part' || (e.type === 'message' && e.message?.role === 'assistant'))) {
            h.onFirstFrame(now);
            h.onFirstFrame = undefined;
          }
          if (e.type === 'message_part') {
            const mp = e.message_part;
            // Parts of a run whose durable reply already arrived: the contract's client drops them (the reply
            // replaces its parts); the contract says the server sends none. Counted apart, not fed to the tally.
            if (h.finishedRun && mp.run_id === h.finishedRun) {
              h.afterDurable++;
              continue;
            }
            if (mp.run_id !== h.runId) h.runId = mp.run_id;
            h.seq = mp.seq;
            if (mp.part?.type === 'text') {
              if (process.env.BENCH_DEBUG) {
                for (const d of decodeParts(mp.part.text)) if (h.tally.seen[d.index]) console.error(`dup chat ${h.id} seq ${mp.seq} index ${d.index} parts-in-text ${mp.part.text.length / PART_BYTES} frame ${h.frames} events ${events.length} on ${h.on}`);
              }
              h.tally.addText(mp.part.text, now);
            }
          } else if (e.type === 'message' && e.message) {
            // Durable messages: the user's carries the after_id; a finished reply replaces its parts.
            if (e.message.role === 'assistant') {
              h.durable++;
              h.finishedRun = h.runId;
              for (const p of e.message.content ?? []) if (p.type === 'text') for (const d of decodeParts(p.text)) if (!h.tally.seen[d.index]) h.tally.add(d.index, d.at, now);
            }
            h.afterId = String(e.message.id);
          } else if (e.type === 'discontinuity') {
            h.discontinuities++;
          }
        }
      });
      ws.on('error', () => undefined);
      ws.on('close', () => (h.ws === ws ? autoResume(c, h) : undefined));
      await opened(ws);
    },
    async open(spec, tally) {
      const t0 = wall();
      const id = await c.createChat(spec);
      const tPost = wall();
      const h = { id, tally, durable: 0, discontinuities: 0, afterDurable: 0, on: 'B' };
      await c.connect(h, B.url);
      // Each open's phases (BENCH_OPEN_PHASES=1 prints them): POST /chats answered, then the upgrade answered.
      (c.openPhases ??= []).push({ postMs: tPost - t0, upgradeMs: wall() - tPost });
      h.close = () => {
        h.closed = true;
        h.ws?.terminate();
      };
      return h;
    },
    /** Drops the socket and reconnects to the other replica with the cursor; resolves at the first frame. */
    async resume(h) {
      const old = h.ws;
      h.ws = undefined;
      old.terminate();
      h.on = h.on === 'B' ? 'A' : 'B';
      const t0 = wall();
      h.t0 = t0;
      if (process.env.BENCH_DEBUG === '2') console.error(`resume ${h.id.slice(0, 8)} to ${h.on} after_id ${h.afterId} run ${h.runId?.slice(0, 8)} seq ${h.seq}`);
      const first = new Promise((r) => (h.onFirstFrame = r));
      await c.connect(h, h.on === 'B' ? B.url : A.url);
      return (await first) - t0;
    },
  };
  return c;
}

// ------------------------------------------------------------------------------------------------ raw ws

export function rawWs() {
  let raw;
  let WebSocket;
  const c = {
    key: 'raw',
    name: 'raw ws (one process, no relay)',
    async start() {
      WebSocket = (await import('ws')).default;
      raw = await spawnRole('raw');
      c.procs = { raw };
    },
    go: (batch, startAt) => go(raw, batch, startAt),
    async open(spec, tally) {
      const ws = new WebSocket(`${raw.url}/?rate=${spec.rate}&count=${spec.count}&batch=${spec.batch}`, { perMessageDeflate: false });
      ws.on('message', (data) => tally.addText(String(data)));
      ws.on('error', () => undefined);
      await opened(ws);
      return { ws, tally, close: () => ws.terminate() };
    },
  };
  return c;
}

// ------------------------------------------------------------------------------------------------ socket.io

let roomSeq = 0;
export function socketIo({ dbUrl }) {
  let A;
  let B;
  let io;
  const c = {
    key: 'sio',
    name: 'socket.io + postgres-adapter',
    async start() {
      ({ io } = await import('socket.io-client'));
      // One creation of the adapter's table before A and B start (their concurrent creations could race).
      await createSocketIoTable(dbUrl);
      ({ A, B } = await startPair('sio', dbUrl));
      c.procs = { A, B };
    },
    go: (batch, startAt) => go(A, batch, startAt),
    async connect(h, base) {
      const socket = io(base, { transports: ['websocket'], reconnection: false, forceNew: true });
      h.socket = socket;
      socket.on('p', (text) => {
        if (h.socket !== socket) return;
        const now = wall();
        if (h.onFirstFrame) {
          h.onFirstFrame(now);
          h.onFirstFrame = undefined;
        }
        h.tally.addText(text, now);
      });
      await new Promise((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      socket.on('disconnect', () => (h.socket === socket ? autoResume(c, h) : undefined));
      await socket.timeout(10_000).emitWithAck('join', h.room);
    },
    async open(spec, tally) {
      const h = { room: `r${process.pid}_${++roomSeq}`, tally, on: 'B' };
      await c.connect(h, B.url);
      const res = await fetch(`${A.url}/start`, { method: 'POST', body: JSON.stringify({ ...spec, room: h.room }) });
      if (!res.ok) throw new Error(`sio start: ${res.status}`);
      h.close = () => {
        h.closed = true;
        h.socket?.disconnect();
      };
      return h;
    },
    /** socket.io's own reconnection (rejoin the room) on the other server: the postgres adapter keeps no session to restore. */
    async resume(h) {
      const old = h.socket;
      h.socket = undefined;
      old.disconnect();
      h.on = h.on === 'B' ? 'A' : 'B';
      const t0 = wall();
      const first = new Promise((r) => (h.onFirstFrame = r));
      await c.connect(h, h.on === 'B' ? B.url : A.url);
      return (await first) - t0;
    },
  };
  return c;
}

// ------------------------------------------------------------------------------------------------ resumable-stream

let streamSeq = 0;
export function resumableStream({ redisUrl }) {
  return httpResumable({ key: 'rs', name: 'resumable-stream + Redis', prefix: 'rs', arg: redisUrl, skipUnit: PART_BYTES });
}

/** Vercel Workflow's @workflow/world-postgres streamer (its schema is migrated by its own setup CLI first). */
export function worldPostgres({ dbUrl }) {
  const c = httpResumable({ key: 'wp', name: 'world-postgres streamer', prefix: 'wp', arg: dbUrl, skipUnit: 1 });
  const start = c.start;
  c.start = async (opts) => {
    if (!opts?.again) {
      const { spawnSync } = await import('node:child_process');
      const { fileURLToPath } = await import('node:url');
      const path = (await import('node:path')).default;
      const cli = path.join(path.dirname(fileURLToPath(import.meta.resolve('@workflow/world-postgres'))), 'cli.js');
      const r = spawnSync(process.execPath, [cli], { env: { ...process.env, WORKFLOW_POSTGRES_URL: dbUrl }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`world-postgres setup failed: ${r.stderr || r.stdout}`);
    }
    await start(opts);
  };
  return c;
}

/** A producer A that streams over HTTP from /start, and readers that resume from a skip offset (`skipUnit` per part). */
function httpResumable({ key, name, prefix, arg, skipUnit }) {
  let A;
  let B;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const c = {
    key,
    name,
    async start() {
      ({ A, B } = await startPair(prefix, arg));
      c.procs = { A, B };
    },
    go: (batch, startAt) => go(A, batch, startAt),
    connect(h, base) {
      return new Promise((resolve, reject) => {
        const skip = h.received * skipUnit;
        const req = http.get(`${base}/stream/${h.id}${skip ? `?skip=${skip}` : ''}`, { agent }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`${key} resume: ${res.statusCode}`));
            return;
          }
          let rest = '';
          res.setEncoding('latin1');
          res.on('data', (d) => {
            if (h.req !== req) return;
            const now = wall();
            if (h.onFirstFrame) {
              h.onFirstFrame(now);
              h.onFirstFrame = undefined;
            }
            rest += d;
            const whole = rest.length - (rest.length % PART_BYTES);
            if (whole) {
              h.tally.addText(rest.slice(0, whole), now);
              h.received += whole / PART_BYTES;
              rest = rest.slice(whole);
            }
          });
          res.on('error', () => undefined);
          res.on('close', () => (h.req === req ? autoResume(c, h) : undefined));
          resolve();
        });
        h.req = req;
        req.on('error', (err) => (h.req === req ? reject(err) : undefined));
      });
    },
    async open(spec, tally) {
      const h = { id: `s${process.pid}_${++streamSeq}`, tally, received: 0, on: 'B' };
      const res = await fetch(`${A.url}/start`, { method: 'POST', body: JSON.stringify({ ...spec, id: h.id }) });
      if (!res.ok) throw new Error(`${key} start: ${res.status} ${await res.text()}`);
      await c.connect(h, B.url);
      h.close = () => {
        h.closed = true;
        h.req?.destroy();
      };
      return h;
    },
    /** resumable-stream's own resume: resumeExistingStream(id, skipCharacters) on the other process. */
    async resume(h) {
      const old = h.req;
      h.req = undefined;
      old.destroy();
      h.on = h.on === 'B' ? 'A' : 'B';
      const t0 = wall();
      const first = new Promise((r) => (h.onFirstFrame = r));
      await c.connect(h, h.on === 'B' ? B.url : A.url);
      return (await first) - t0;
    },
  };
  return c;
}

export { sleep };
