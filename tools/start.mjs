#!/usr/bin/env node
// `npm start`: the whole product on one machine. Builds what is missing, starts an embedded PostgreSQL
// (data in .chatd/pg, reused across runs; CHATD_RESET=1 starts afresh; DATABASE_URL uses an existing
// server instead), runs migrations, seeds a demo user and token, starts CHATD_REPLICAS replica processes
// (default 2) on ports from CHATD_BASE_PORT (default 7401) with the multi-replica relay, demo-length
// recovery timings and the demo tools (CHATD_DEMO_TOOLS=1), restarts a replica that crashes, writes
// .chatd/cluster.json once every replica answers, and on Ctrl-C stops everything (PostgreSQL included) and removes cluster.json.
// CHATD_STATE_DIR moves .chatd elsewhere (tests run their own cluster beside yours).
// The model variables (OPENAI_BASE_URL, OPENAI_API_KEY, ANTHROPIC_API_KEY, CHATD_MODEL, CHATD_MODEL_*) reach
// `chatd migrate`, which gives a fresh database its default model from them, and every replica, which reads
// keys named by a provider's api_key_env; the banner shows the default model in use.
// The state folder is private (0700, every file in it 0600: it holds the admin token and the database
// password), and the embedded PostgreSQL requires that password (SCRAM) from every client; the password is
// made once, kept in .chatd/pg-password, and reused on every start (an old trust-auth folder is switched over).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = path.resolve(process.env.CHATD_STATE_DIR ?? path.join(root, '.chatd'));
const clusterFile = path.join(stateDir, 'cluster.json');
const passwordFile = path.join(stateDir, 'pg-password');
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

/**
 * Makes the state folder private: 0700, and every file directly in it 0600 (also when they were made wider by
 * an older launcher). The PostgreSQL data folder inside is PostgreSQL's own (initdb makes it 0700).
 */
function privateStateDir() {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(stateDir, 0o700);
  for (const entry of fs.readdirSync(stateDir, { withFileTypes: true })) {
    if (entry.isFile()) fs.chmodSync(path.join(stateDir, entry.name), 0o600);
  }
}

/** The database password: read from .chatd/pg-password, or made (random) and kept there, 0600. */
function databasePassword() {
  try {
    const kept = fs.readFileSync(passwordFile, 'utf8').trim();
    if (/^[A-Za-z0-9._~-]{16,256}$/.test(kept)) return kept;
    log(`${passwordFile} is not a usable password; making a new one (the database is switched to it)`);
  } catch {
    // Not made yet.
  }
  const made = randomBytes(32).toString('base64url');
  fs.writeFileSync(passwordFile, `${made}\n`, { mode: 0o600 });
  fs.chmodSync(passwordFile, 0o600);
  return made;
}

/** .chatd/pg, or (as root, since the postgres user cannot enter the private state folder) a reachable folder linked from there. */
function dataDir() {
  const wanted = path.join(stateDir, 'pg');
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
  // An older launcher kept the data right in .chatd/pg when .chatd was world-reachable; the folder is private
  // now, so the data moves out (mv keeps the postgres user's ownership and crosses file systems).
  if (fs.existsSync(wanted) && !fs.lstatSync(wanted).isSymbolicLink() && !fs.existsSync(outside)) {
    const moved = spawnSync('mv', [wanted, outside], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (moved.status !== 0) fail(`could not move ${wanted} to ${outside} (the postgres user cannot reach it inside the private state folder): ${moved.stderr}`);
  }
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

privateStateDir();
if (!databaseUrl) {
  const dir = dataDir();
  const password = databasePassword();
  if (env.CHATD_RESET === '1') {
    log('CHATD_RESET=1: removing the old database');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  log(`starting PostgreSQL (data in ${path.relative(process.cwd(), path.join(stateDir, 'pg')) || '.chatd/pg'})...`);
  try {
    pg = await startEmbeddedPostgres({ dataDir: dir, port: Number(env.CHATD_PG_PORT ?? 0) || undefined, password });
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
  // The demo server tools (get_time, add), so `chatd chat "call get_time"` works out of the box.
  CHATD_DEMO_TOOLS: env.CHATD_DEMO_TOOLS ?? '1',
};

function runCli(args) {
  const r = spawnSync(process.execPath, [bins.oss, ...args], { cwd: root, env: childEnv, encoding: 'utf8' });
  if (r.status !== 0) fail(`chatd ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout.trim().split('\n');
}

log('running migrations...');
runCli(['migrate']);
const token = runCli(['token', 'create', '--user', env.CHATD_DEMO_USER ?? 'demo', '--admin']).at(-1);
// `chatd model list` columns: ID PROVIDER KIND MODEL DEFAULT ... (a database kept from an earlier run keeps its own default).
// Only informative, so a failure (an older build without the command) leaves the line out instead of stopping.
const listed = spawnSync(process.execPath, [bins.oss, 'model', 'list'], { cwd: root, env: childEnv, encoding: 'utf8' });
const defaultModel = listed.status === 0 ? listed.stdout.trim().split('\n').slice(1).map((line) => line.split('\t')).find((cols) => cols[4] === 'yes') : undefined;
const modelLine = defaultModel ? `\n  default model: ${defaultModel[1]}/${defaultModel[3]} (${defaultModel[2]})   (chatd model list | add | set-default)` : '';

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
  // Written to a private staging file and renamed: the token and database password are never readable by others.
  const staged = `${clusterFile}.${process.pid}.tmp`;
  fs.writeFileSync(staged, JSON.stringify(cluster, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(staged, 0o600);
  fs.renameSync(staged, clusterFile);
  if (bannerShown) return;
  bannerShown = true;
  console.log(`
  chatd is running: ${replicas} replica${replicas > 1 ? 's' : ''}${relay ? ' with the multi-replica relay' : ''} on one PostgreSQL.
${cluster.replicas.map((r, n) => `    replica ${n + 1}: ${r.url}   (id ${r.id})`).join('\n')}
  token (user ${env.CHATD_DEMO_USER ?? 'demo'}, admin): ${token}${modelLine}
  web console: ${cluster.replicas[0].url}/#signin   (paste the token there; it never goes in a URL)
  try:
    node ${path.relative(process.cwd(), bins.oss)} chat "hello there"       # streams the reply
    curl -H "Coder-Session-Token: ${token}" ${cluster.replicas[0].url}/api/experimental/chats
  cluster file: .chatd/cluster.json (private; the database password is in .chatd/pg-password)   Ctrl-C stops everything.
`);
}

for (let i = 0; i < replicas; i++) startReplica(i);
