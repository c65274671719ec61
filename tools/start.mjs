#!/usr/bin/env node
// `npm start`: the whole product on one machine. Builds what is missing, starts an embedded PostgreSQL
// (data in .chatd/pg, reused across runs; CHATD_RESET=1 starts afresh; DATABASE_URL uses an existing
// server instead), runs migrations, seeds a demo user and token, starts CHATD_REPLICAS replica processes
// (default 2) on ports from CHATD_BASE_PORT (default 7401) with the multi-replica relay and demo-length
// recovery timings, restarts a replica that crashes, writes .chatd/cluster.json once every replica
// answers, and on Ctrl-C stops everything (PostgreSQL included) and removes cluster.json.
// CHATD_STATE_DIR moves .chatd elsewhere (tests run their own cluster beside yours).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = path.resolve(process.env.CHATD_STATE_DIR ?? path.join(root, '.chatd'));
const clusterFile = path.join(stateDir, 'cluster.json');
const env = process.env;
const replicas = Number(env.CHATD_REPLICAS ?? 2);
const basePort = Number(env.CHATD_BASE_PORT ?? 7401);
const log = (msg) => console.log(`[chatd] ${msg}`);
const fail = (msg) => {
  console.error(`[chatd] ${msg}`);
  process.exit(1);
};

if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) fail(`CHATD_REPLICAS must be 1-16, got "${env.CHATD_REPLICAS}"`);
if (!Number.isInteger(basePort) || basePort < 1 || basePort + replicas > 65535) fail(`CHATD_BASE_PORT must be a port, got "${env.CHATD_BASE_PORT}"`);

const bins = {
  ee: path.join(root, 'packages', 'chatd-enterprise', 'dist', 'bin', 'chatd-enterprise.js'),
  oss: path.join(root, 'packages', 'chatd-oss', 'dist', 'bin', 'chatd.js'),
};

function needsBuild() {
  const dirs = fs.readdirSync(path.join(root, 'packages'));
  return dirs.some((d) => !fs.existsSync(path.join(root, 'packages', d, 'dist', 'index.js'))) || !fs.existsSync(bins.oss);
}
if (needsBuild() || env.CHATD_BUILD === '1') {
  log('building packages (first run, about a minute)...');
  const r = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, NX_DAEMON: 'false', NX_TUI: 'false' } });
  if (r.status !== 0) fail('build failed; run `npx nx run-many -t build` to see why');
}
const bin = fs.existsSync(bins.ee) ? bins.ee : bins.oss;
const relay = bin === bins.ee;

const { startEmbeddedPostgres } = await import('@chatd/testkit/postgres');

/** .chatd/pg, or (as root in a private checkout, which the postgres user cannot enter) a reachable folder linked from there. */
function dataDir() {
  const wanted = path.join(stateDir, 'pg');
  fs.mkdirSync(stateDir, { recursive: true });
  const reachable = (d) => {
    for (let p = d; ; p = path.dirname(p)) {
      try {
        if ((fs.statSync(p).mode & 0o001) === 0) return false;
      } catch {
        return false;
      }
      if (path.dirname(p) === p) return true;
    }
  };
  if (process.getuid?.() !== 0 || reachable(stateDir)) return wanted;
  const outside = path.join(os.tmpdir(), `chatd-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}`, 'pg');
  fs.mkdirSync(path.dirname(outside), { recursive: true, mode: 0o755 });
  fs.chmodSync(path.dirname(outside), 0o755);
  try {
    if (fs.lstatSync(wanted).isSymbolicLink() && fs.readlinkSync(wanted) !== outside) fs.unlinkSync(wanted);
  } catch {
    // Not there yet.
  }
  if (!fs.existsSync(wanted)) fs.symlinkSync(outside, wanted);
  return outside;
}

let pg;
let databaseUrl = env.DATABASE_URL;
const children = new Map();
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  log('stopping replicas...');
  await Promise.all(
    [...children.values()].map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', resolve);
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
  if (pg) {
    log('stopping PostgreSQL...');
    await pg.stop();
  }
  fs.rmSync(clusterFile, { force: true });
  log('stopped; nothing left running');
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

if (!databaseUrl) {
  const dir = dataDir();
  if (env.CHATD_RESET === '1') {
    log('CHATD_RESET=1: removing the old database');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  log(`starting PostgreSQL (data in ${path.relative(process.cwd(), path.join(stateDir, 'pg')) || '.chatd/pg'})...`);
  try {
    pg = await startEmbeddedPostgres({ dataDir: dir, port: Number(env.CHATD_PG_PORT ?? 0) || undefined });
  } catch (err) {
    fail(`PostgreSQL did not start: ${err.message}`);
  }
  databaseUrl = pg.url;
}

const childEnv = {
  ...env,
  DATABASE_URL: databaseUrl,
  CHATD_HEARTBEAT_INTERVAL_MS: env.CHATD_HEARTBEAT_INTERVAL_MS ?? '1000',
  CHATD_STALE_AFTER_MS: env.CHATD_STALE_AFTER_MS ?? '5000',
  CHATD_LOG_LEVEL: env.CHATD_LOG_LEVEL ?? 'warn',
};

function runCli(args) {
  const r = spawnSync(process.execPath, [bins.oss, ...args], { cwd: root, env: childEnv, encoding: 'utf8' });
  if (r.status !== 0) fail(`chatd ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout.trim().split('\n');
}

log('running migrations...');
runCli(['migrate']);
const token = runCli(['token', 'create', '--user', env.CHATD_DEMO_USER ?? 'demo', '--admin']).at(-1);

const ready = new Map(); // index -> { id, url }

function startReplica(i) {
  const port = basePort + i;
  const args = ['serve', '--port', String(port)];
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(i, child);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    for (const line of chunk.split('\n')) {
      const m = /listening on (\S+) \(replica ([0-9a-f-]{36})/.exec(line);
      if (m) {
        ready.set(i, { id: m[2], url: m[1], pid: child.pid });
        writeClusterFile();
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    for (const line of chunk.split('\n')) if (line.trim()) console.error(`[replica ${i + 1}] ${line}`);
  });
  child.on('exit', (code, signal) => {
    ready.delete(i);
    if (stopping) return;
    log(`replica ${i + 1} (port ${port}) exited (${signal ?? code}); restarting it`);
    writeClusterFile();
    setTimeout(() => !stopping && startReplica(i), 500).unref();
  });
}

let bannerShown = false;
function writeClusterFile() {
  if (ready.size !== replicas) return;
  const cluster = {
    replicas: [...ready.entries()].sort(([a], [b]) => a - b).map(([, r]) => r),
    token,
    database_url: databaseUrl,
  };
  fs.writeFileSync(clusterFile, JSON.stringify(cluster, null, 2) + '\n');
  if (bannerShown) return;
  bannerShown = true;
  console.log(`
  chatd is running: ${replicas} replica${replicas > 1 ? 's' : ''}${relay ? ' with the multi-replica relay' : ''} on one PostgreSQL.
${cluster.replicas.map((r, n) => `    replica ${n + 1}: ${r.url}   (id ${r.id})`).join('\n')}
  token (user ${env.CHATD_DEMO_USER ?? 'demo'}, admin): ${token}
  web console: ${cluster.replicas[0].url}/#signin   (paste the token there; it never goes in a URL)
  try:
    node ${path.relative(process.cwd(), bins.oss)} chat "hello there"       # streams the reply
    curl -H "Coder-Session-Token: ${token}" ${cluster.replicas[0].url}/api/experimental/chats
  cluster file: .chatd/cluster.json        Ctrl-C stops everything.
`);
}

for (let i = 0; i < replicas; i++) startReplica(i);
