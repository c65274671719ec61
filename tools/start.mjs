#!/usr/bin/env node
// `npm start`: builds what is needed, starts an embedded PostgreSQL (data in .chatd/pg, reused across
// runs; CHATD_RESET=1 starts afresh; DATABASE_URL points at an existing server instead), runs the chat
// migrations, creates a demo user and token, prints a banner and stays up until Ctrl-C, then stops
// everything it started. Replica processes join here as the server lands (see the README).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = path.join(root, '.chatd');
const log = (msg) => console.log(`[chatd] ${msg}`);

function needsBuild() {
  return fs.readdirSync(path.join(root, 'packages')).some((d) => !fs.existsSync(path.join(root, 'packages', d, 'dist', 'index.js')));
}

if (needsBuild() || process.env.CHATD_BUILD === '1') {
  log('building packages (first run)...');
  const r = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false' } });
  if (r.status !== 0) {
    console.error('[chatd] build failed; run `npx nx run-many -t build` to see why');
    process.exit(1);
  }
}

const { startEmbeddedPostgres } = await import('@chatd/testkit/postgres');

/** Where the PostgreSQL data lives: .chatd/pg, or (as root in a private checkout) a reachable folder linked from there. */
function dataDir() {
  const wanted = path.join(stateDir, 'pg');
  fs.mkdirSync(stateDir, { recursive: true });
  const isRoot = process.getuid?.() === 0;
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
  if (!isRoot || reachable(stateDir)) return wanted;
  // PostgreSQL runs as the `postgres` user, which cannot enter a private checkout: keep the data in /tmp, linked from .chatd/pg.
  const outside = path.join(os.tmpdir(), `chatd-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`, 'pg');
  fs.mkdirSync(path.dirname(outside), { recursive: true, mode: 0o755 });
  fs.chmodSync(path.dirname(outside), 0o755);
  if (!fs.existsSync(wanted)) fs.symlinkSync(outside, wanted);
  return outside;
}

let pg;
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  const dir = dataDir();
  if (process.env.CHATD_RESET === '1') {
    log('CHATD_RESET=1: removing the old database');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  log(`starting PostgreSQL (data in ${path.relative(root, path.join(stateDir, 'pg'))})...`);
  pg = await startEmbeddedPostgres({ dataDir: dir, port: Number(process.env.CHATD_PG_PORT ?? 0) || undefined });
  databaseUrl = pg.url;
}

const oss = await import('@chatd/oss');
if (typeof oss.migrate === 'function') {
  log('running migrations...');
  await oss.migrate(databaseUrl);
}

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  log('stopping...');
  await pg?.stop();
  log('stopped; nothing left running');
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

console.log(`
  chatd (local)
  PostgreSQL: ${databaseUrl}
  The chat server arrives with the server issue; this command will then start the replicas too.
  Press Ctrl-C to stop.
`);
if (process.env.CHATD_START_ONCE === '1') await stop(0);
