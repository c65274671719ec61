// Shared helpers of the peers-*.bench.mjs scenarios: clocks, the 111-byte part format, a paced part
// generator every contender uses, statistics, child processes and the machine line.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const benchDir = path.join(root, 'tools', 'bench');
/** Wall-clock milliseconds with sub-ms precision, comparable across processes of this host. */
export const wall = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const PART_BYTES = 111;
/**
 * One part: exactly 111 ASCII bytes. "iiiiiii ttttttttttttt.ttt " then 'x' padding: its index in the
 * stream (7 digits, from 1) and the wall time the producer emitted it.
 */
export function encodePart(index, at = wall()) {
  const head = `${String(index).padStart(7, '0')} ${at.toFixed(3)} `;
  return head + 'x'.repeat(PART_BYTES - head.length);
}
/** Splits a text made of whole parts into [{index, at}]; tolerates coalesced parts (several in one text). */
export function decodeParts(text, out = []) {
  for (let o = 0; o + PART_BYTES <= text.length; o += PART_BYTES) {
    out.push({ index: Number(text.slice(o, o + 7)), at: Number.parseFloat(text.slice(o + 8, o + 30)) });
  }
  return out;
}

/**
 * Start gates: a stream whose spec names a `batch` waits until the bench opens that batch (POST /go on the
 * producer's control port), so every stream of a scenario starts at the same moment once all are subscribed.
 */
const gates = new Map();
function gateOf(batch) {
  let g = gates.get(batch);
  if (!g) {
    g = {};
    g.promise = new Promise((r) => (g.resolve = r));
    gates.set(batch, g);
    setTimeout(() => gates.delete(batch), 300_000).unref();
  }
  return g;
}
export function openGate(batch, startAt) {
  gateOf(batch).resolve(startAt);
}

/**
 * The one load generator of every contender: `count` parts, `rate` per second (0: as fast as the consumer
 * pulls, yielding to the event loop every 200), first part at `startAt` (wall ms). Parts are stamped when
 * yielded. Paced streams emit what is due, then sleep ~1 ms; with `sleepUntilDue` (opt-in, reconnect-storm.bench.mjs)
 * they sleep until their next part is due instead, so 1,000 slow streams do not wake a process 1,000,000 times a second.
 */
export async function* pacedParts({ rate, count, startAt = 0, batch, from = 1, signal, sleepUntilDue = false }) {
  if (batch) {
    // A gate that never opens (its scenario was abandoned) lets the stream end empty after 2 minutes.
    startAt = await Promise.race([gateOf(batch).promise, sleep(120_000).then(() => null)]);
    if (startAt === null) return;
  }
  const wait = startAt - wall();
  if (wait > 0) await sleep(wait);
  const t0 = wall();
  let emitted = from - 1;
  while (emitted < count) {
    if (signal?.aborted) return;
    const due = rate > 0 ? Math.min(count, Math.floor(((wall() - t0) * rate) / 1000) + 1) : Math.min(count, emitted + 200);
    while (emitted < due) {
      emitted++;
      yield encodePart(emitted);
    }
    if (emitted < count) await (rate > 0 ? sleep(sleepUntilDue ? Math.max(1, t0 + (emitted * 1000) / rate - wall()) : 1) : new Promise((r) => setImmediate(r)));
  }
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
export const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
export const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');
export const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
export function machineLine() {
  return `Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.arch()}`;
}

export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** A free TCP port on 127.0.0.1 (checked, not reserved). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Every child process a bench starts, for cleanup on exit, error or watchdog. */
export const children = new Set();
export function killAll(signal = 'SIGTERM') {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
}
export async function stopChildren(timeoutMs = 5_000) {
  const all = [...children];
  killAll('SIGTERM');
  await Promise.race([
    Promise.all(all.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined))),
    sleep(timeoutMs),
  ]);
  killAll('SIGKILL');
  children.clear();
}
process.once('exit', () => killAll('SIGKILL'));

/**
 * Spawns `node lib/child.mjs <role> ...args` and resolves with {child, url, extra} once it prints
 * `ready <url> [extra]` on stdout.
 */
export function spawnRole(role, args = [], env = {}) {
  // BENCH_NODE_ARGS: extra node flags for every child (profiling: `--cpu-prof --cpu-prof-dir=/tmp/prof`, `--trace-gc`).
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, ['--max-old-space-size=2048', '--expose-gc', ...nodeArgs, path.join(benchDir, 'lib', 'child.mjs'), role, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CHATD_LOG_LEVEL: 'warn', ...env },
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /^ready (\S+)(?: (\S+))?$/m.exec(buf);
      if (m) {
        buf = '';
        resolve({ child, url: m[1], extra: m[2] });
      }
    });
    child.once('exit', (code, sig) => reject(new Error(`child ${role} exited with ${code ?? sig}`)));
  });
}

/** Exits with an error (after killing every child) when the bench runs past `ms`. */
export function watchdog(ms, cleanup) {
  const t = setTimeout(async () => {
    console.error(`bench: exceeded ${ms / 1000} s; stopping`);
    try {
      await cleanup?.();
    } finally {
      killAll('SIGKILL');
      process.exit(1);
    }
  }, ms);
  t.unref();
  return t;
}

export function progress(started, what) {
  console.error(`bench: ${((performance.now() - started) / 1000).toFixed(1)} s ${what} (load ${load()})`);
}

/** Writes results/<name>.md. */
export function writeResult(name, md) {
  const file = path.join(benchDir, 'results', `${name}.md`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, md.endsWith('\n') ? md : `${md}\n`);
  console.log(`bench: wrote ${path.relative(root, file)}`);
}
