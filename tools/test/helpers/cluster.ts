// Runs `npm start`'s launcher (tools/start.mjs) as a real process on free ports with its own state
// folder, and waits for .chatd/cluster.json: the harness of the whole-product tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@chatd/testkit';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type Cluster = {
  stateDir: string;
  file: string;
  launcher: ChildProcess;
  output: () => string;
  read(): { replicas: { id: string; url: string; pid: number }[]; token: string; database_url: string };
  /** Ctrl-C, then removes the state folder (and the data folder it links to) unless `keepState`. */
  stop(options?: { keepState?: boolean }): Promise<number | null>;
};

/** A new, empty state folder named `.chatd` (so the `chatd` CLI run from its parent finds cluster.json). */
export function newStateDir(): string {
  const stateDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-cluster-')), '.chatd');
  fs.mkdirSync(stateDir);
  return stateDir;
}

/** Removes a state folder, its parent, and the data folder `pg` links to (as root it lives outside). */
export function removeStateDir(stateDir: string): void {
  const pg = path.join(stateDir, 'pg');
  if (fs.existsSync(pg) && fs.lstatSync(pg).isSymbolicLink()) fs.rmSync(path.dirname(fs.readlinkSync(pg)), { recursive: true, force: true });
  fs.rmSync(path.dirname(stateDir), { recursive: true, force: true });
}

/** A base port with `count` free ports after it (checked, not reserved). */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        new Promise<boolean>((resolve) => {
          const s = net.createServer();
          s.once('error', () => resolve(false));
          s.listen(base + i, '127.0.0.1', () => s.close(() => resolve(true)));
        }),
      ),
    );
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

/** Starts a cluster of `replicas` replicas; resolves once cluster.json lists them all. */
export async function startCluster(replicas: number, env: Record<string, string> = {}, options: { stateDir?: string } = {}): Promise<Cluster> {
  const stateDir = options.stateDir ?? newStateDir();
  const basePort = await freePortRange(replicas);
  let out = '';
  const launcher = spawn(process.execPath, [path.join(repoRoot, 'tools', 'start.mjs')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: '',
      CHATD_STATE_DIR: stateDir,
      CHATD_REPLICAS: String(replicas),
      CHATD_BASE_PORT: String(basePort),
      CHATD_DEMO_TOKENS_PER_SECOND: '100',
      CHATD_DEMO_REPLY_TOKENS: '40',
      CHATD_HEARTBEAT_INTERVAL_MS: '500',
      CHATD_STALE_AFTER_MS: '3000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  launcher.stdout!.on('data', (d) => (out += d));
  launcher.stderr!.on('data', (d) => (out += d));
  const file = path.join(stateDir, 'cluster.json');
  const cluster: Cluster = {
    stateDir,
    file,
    launcher,
    output: () => out,
    read: () => JSON.parse(fs.readFileSync(file, 'utf8')),
    async stop(stopOptions = {}) {
      let code = launcher.exitCode;
      if (code === null && launcher.signalCode === null) {
        const exited = new Promise<number | null>((resolve) => launcher.once('exit', (c) => resolve(c)));
        launcher.kill('SIGINT');
        code = await exited;
      }
      if (!stopOptions.keepState) removeStateDir(stateDir);
      return code;
    },
  };
  try {
    await waitFor(() => fs.existsSync(file) && cluster.read().replicas.length === replicas, { what: `cluster.json listing ${replicas} replicas`, timeoutMs: 120_000, intervalMs: 100 });
  } catch (err) {
    launcher.kill('SIGKILL');
    throw new Error(`cluster did not start:\n${out.slice(-3000)}`, { cause: err });
  }
  return cluster;
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
