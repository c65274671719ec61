// Services the peers benchmarks need: PostgreSQL (embedded, or DATABASE_URL), a fresh database per bench,
// chatd's schema and a token, Redis (Debian's redis-server, installed when missing), and each contender's
// processes (lib/child.mjs roles).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { children, freePort, sleep, spawnRole } from './common.mjs';

/** Starts PostgreSQL (or uses DATABASE_URL) and creates a database for this bench. */
export async function startPostgres(prefix) {
  const pg = (await import('pg')).default;
  let server;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const { startEmbeddedPostgres } = await import('@chatd/testkit/postgres');
    server = await startEmbeddedPostgres();
    serverUrl = server.url;
  }
  const dbName = `${prefix}_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  admin.on('error', () => undefined);
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  const version = (await admin.query('show server_version')).rows[0].server_version;
  const extra = [];
  return {
    url: u.toString(),
    version,
    embedded: !server ? false : true,
    /** Another database on the same server (so one contender's LISTENers are not woken by another's NOTIFYs). */
    async database(suffix) {
      const name = `${dbName}_${suffix}`;
      await admin.query(`create database ${name}`);
      extra.push(name);
      const v = new URL(serverUrl);
      v.pathname = `/${name}`;
      return v.toString();
    },
    async stop() {
      for (const name of extra) await admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
      await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
      await admin.end().catch(() => undefined);
      await server?.stop();
    },
  };
}

/** chatd's schema (with the enterprise registry) and a user token in `dbUrl`. */
export async function prepareChatd(dbUrl) {
  const pg = (await import('pg')).default;
  const { createIdentityStore, migrate } = await import('@chatd/oss');
  const { ENTERPRISE_MIGRATION_SOURCES } = await import('@chatd/enterprise');
  const { createRealClock } = await import('@chatd/clock');
  await migrate(dbUrl, { sources: ENTERPRISE_MIGRATION_SOURCES });
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const identity = createIdentityStore({ pool, clock: createRealClock() });
  const { user } = await identity.ensureUser({ username: 'bench' });
  const { token } = await identity.createToken(user.id, 'bench');
  await pool.end();
  return token;
}

/** Debian's redis-server on a free loopback port, nothing persisted. Installs the package when missing. */
export async function startRedis() {
  const bin = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((b) => fs.existsSync(b));
  let redisBin = bin;
  if (!redisBin) {
    console.error('bench: redis-server is missing; apt-get install -y redis-server');
    let r = spawnSync('apt-get', ['install', '-y', 'redis-server'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'ignore' });
      r = spawnSync('apt-get', ['install', '-y', 'redis-server'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    }
    if (r.status !== 0 || !fs.existsSync('/usr/bin/redis-server')) throw new Error('redis-server could not be installed (apt-get install -y redis-server failed)');
    redisBin = '/usr/bin/redis-server';
  }
  const port = await freePort();
  const child = spawn(redisBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(child);
  const version = spawnSync(redisBin, ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1] ?? '?';
  const net = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return { url: `redis://127.0.0.1:${port}`, version, child };
    await sleep(100);
  }
  throw new Error('redis-server did not start');
}

/** Starts a contender's producer ("A") and edge ("B") processes. */
export async function startPair(prefix, arg) {
  const [A, B] = await Promise.all([spawnRole(`${prefix}-A`, arg ? [arg] : []), spawnRole(`${prefix}-B`, arg ? [arg] : [])]);
  return { A, B };
}

/** The table @socket.io/postgres-adapter stores large payloads in (lib/child.mjs creates it the same way). */
export const SOCKET_IO_ATTACHMENTS_DDL = 'create table if not exists socket_io_attachments (id bigserial unique, created_at timestamptz default now(), payload bytea)';

/**
 * Creates socket.io's attachments table once, before its two processes start: each creates it at start-up, and
 * two concurrent `create table if not exists` race on the table's row type (`type "socket_io_attachments"
 * already exists`, a unique violation), which once failed peers-s1b. Created here, theirs find it and do nothing.
 */
export async function createSocketIoTable(dbUrl) {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: dbUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(SOCKET_IO_ATTACHMENTS_DDL);
  } finally {
    await client.end();
  }
}
