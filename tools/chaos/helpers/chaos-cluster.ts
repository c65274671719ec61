// Real processes for the chaos suite: an embedded PostgreSQL on a fixed data folder and port (so it can be
// stopped and started again under the replicas' feet) and replicas of the built `chatd-enterprise` bin, each
// started by the test with its own port and environment (no worker, a relay address through a proxy). It
// starts and stops processes only; the faults themselves are in the tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startEmbeddedPostgres, type EmbeddedPostgres } from '@chatd/testkit/postgres';
import { waitFor } from '@chatd/testkit';
import pg from 'pg';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const eeBin = path.join(repoRoot, 'packages', 'chatd-enterprise', 'dist', 'bin', 'chatd-enterprise.js');
export const ossBin = path.join(repoRoot, 'packages', 'chatd-oss', 'dist', 'bin', 'chatd.js');

/** Short recovery timings and a demo reply long enough to be hit mid-stream (about 1.5 s). */
export const CHAOS_ENV: Record<string, string> = {
  CHATD_HEARTBEAT_INTERVAL_MS: '500',
  CHATD_STALE_AFTER_MS: '3000',
  CHATD_ACQUIRE_INTERVAL_MS: '250',
  CHATD_DEMO_TOKENS_PER_SECOND: '40',
  CHATD_DEMO_REPLY_TOKENS: '60',
  CHATD_LOG_LEVEL: 'warn',
  // Socket caps, set explicitly (issue 21): the suite opens a handful of streams per user and replica (one follower
  // per chat and replica, a few chats at a time), so it runs under the shipped defaults, relay legs included.
  CHATD_MAX_STREAM_SOCKETS_PER_USER: '64',
  CHATD_MAX_WATCH_SOCKETS_PER_USER: '64',
  CHATD_MAX_CONNECTIONS: '10000',
  CHATD_MAX_RELAY_LEGS_PER_PEER: '4096',
  // Per-user limits, set explicitly (issue 33): every scenario runs its chats under one user, more of them at once
  // than the default running cap (5) and with bursts of writes past the default bucket (20, then 60 a minute).
  CHATD_MAX_RUNNING_PER_USER: '1000',
  CHATD_WRITE_RATE_PER_MINUTE: '100000',
  CHATD_WRITE_BURST: '100000',
};

/** A PostgreSQL server that can be stopped and started again on the same data folder and port. */
export type ChaosPostgres = {
  url: string;
  port: number;
  dataDir: string;
  /** URL of another database on the same server. */
  urlOf(database: string): string;
  /** Fast shutdown (every connection is dropped). */
  stop(): Promise<void>;
  /** Starts the server again on the same folder and port. */
  start(): Promise<void>;
  /** Stops it and removes the data folder. */
  destroy(): Promise<void>;
};

/** Starts an embedded PostgreSQL whose data folder survives `stop()`. */
export async function startChaosPostgres(): Promise<ChaosPostgres> {
  // A fresh parent the unprivileged postgres user can reach when we run as root.
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-chaos-pg-'));
  fs.chmodSync(parent, 0o755);
  const dataDir = path.join(parent, 'data');
  const port = await freePort();
  let server: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ dataDir, port, fast: true });
  const url = server.url;
  return {
    url,
    port,
    dataDir,
    urlOf: (database) => url.replace(/\/postgres$/, `/${database}`),
    async stop() {
      await server?.stop();
      server = undefined;
    },
    async start() {
      server = await startEmbeddedPostgres({ dataDir, port, fast: true });
    },
    async destroy() {
      await server?.stop();
      server = undefined;
      fs.rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** Runs a `chatd` / `chatd-enterprise` CLI command to completion; returns its stdout lines. */
export function runCli(bin: string, args: string[], databaseUrl: string): string[] {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, env: { ...process.env, ...CHAOS_ENV, DATABASE_URL: databaseUrl }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout.trim().split('\n');
}

/** Creates a user (when needed) and returns a fresh API token for it. */
export function createToken(databaseUrl: string, user: string, admin = false): string {
  return runCli(ossBin, ['token', 'create', '--user', user, ...(admin ? ['--admin'] : [])], databaseUrl).at(-1)!;
}

/** Options of `startReplica`. */
export type ReplicaOptions = {
  name: string;
  databaseUrl: string;
  /** @default a free port */
  port?: number;
  /** Extra environment (on top of CHAOS_ENV). */
  env?: Record<string, string>;
  /** Extra `serve` flags. */
  args?: string[];
};

/** One replica process. */
export type Replica = {
  name: string;
  port: number;
  url: string;
  id: string;
  pid: number;
  child: ChildProcess;
  options: ReplicaOptions & { port: number };
  /** Its stderr and stdout so far. */
  output(): string;
  /** SIGTERM (clean shutdown) and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<void>;
};

/** Starts a replica of the enterprise bin; resolves once it prints its listening line. */
export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [eeBin, 'serve', '--port', String(port), ...(options.args ?? [])], {
    cwd: repoRoot,
    env: { ...process.env, ...CHAOS_ENV, DATABASE_URL: options.databaseUrl, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let listening: { url: string; id: string } | undefined;
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    out = (out + d).slice(-20_000);
    const m = /listening on (\S+) \(replica ([0-9a-f-]{36})/.exec(out);
    if (m && !listening) listening = { url: m[1]!, id: m[2]! };
  });
  child.stderr!.on('data', (d: string) => (out = (out + d).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(() => listening ?? (child.exitCode !== null ? Promise.reject(new Error('exited')) : undefined), { what: `replica ${options.name} to listen`, timeoutMs: 60_000, intervalMs: 25 });
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`replica ${options.name} did not start:\n${out.slice(-3000)}`, { cause: err });
  }
  const done = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name: options.name,
    port,
    url: listening!.url,
    id: listening!.id,
    pid: child.pid!,
    child,
    options: { ...options, port },
    output: () => out,
    async stop() {
      if (done()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
    async kill9() {
      if (done()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs one query on a short-lived connection. */
export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(databaseUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'chatd-chaos' });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Whether GET `path` answers 200. */
export async function answers200(url: string, pathname: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}${pathname}`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}
