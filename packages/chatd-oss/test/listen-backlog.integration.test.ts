// The accept backlog of a replica's listening socket (issue 36, reconnect storm): while the replica's event loop is
// busy, a burst of new connections waits in the kernel's accept queue. With Node's default backlog (511) the SYNs
// beyond it were dropped and those clients waited for their SYN retry (1 s, 3 s, 7 s ...). A real replica on port 0,
// real PostgreSQL, and a real client process opening the burst while the replica's loop is blocked.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { DEFAULT_LISTEN_BACKLOG } from '../src/server/listen-backlog.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { startTestReplica } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

/** The burst: 1,000 connections, or what the kernel's own cap (net.core.somaxconn) lets any backlog hold. */
const somaxconn = (() => {
  try {
    return Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  } catch {
    return 4_096;
  }
})();
const BURST = Math.min(1_000, somaxconn - 1);
/** How long the replica's loop stays blocked at most while the burst connects (it returns as soon as all did). */
const BLOCK_DEADLINE_MS = 15_000;

/** The client process: waits for `go`, opens BURST sockets, writes how many connected after each connect. */
const CLIENT = `
const net = require('node:net');
const fs = require('node:fs');
const [port, dir, n] = process.argv.slice(1);
let connected = 0;
const sockets = [];
fs.writeFileSync(dir + '/ready', '');
const wait = setInterval(() => {
  if (!fs.existsSync(dir + '/go')) return;
  clearInterval(wait);
  for (let i = 0; i < Number(n); i++) {
    const s = net.connect(Number(port), '127.0.0.1', () => {
      connected++;
      fs.writeFileSync(dir + '/count.tmp', String(connected));
      fs.renameSync(dir + '/count.tmp', dir + '/count');
    });
    s.on('error', () => undefined);
    sockets.push(s);
  }
}, 5);
`;

let replica: RunningChatd;
let client: ChildProcess | undefined;
let dir: string;

beforeAll(async () => {
  replica = await startTestReplica(db.url);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-backlog-'));
});
afterAll(async () => {
  client?.kill('SIGKILL');
  await replica?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const readCount = () => {
  try {
    return Number(fs.readFileSync(path.join(dir, 'count'), 'utf8'));
  } catch {
    return 0;
  }
};

describe('listen backlog', () => {
  it('defaults to 4096 and is configurable', () => {
    expect(DEFAULT_LISTEN_BACKLOG).toBe(4_096);
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y' }).listenBacklog).toBe(4_096);
    expect(loadConfig({ DATABASE_URL: 'postgres://x/y', CHATD_LISTEN_BACKLOG: '128' }).listenBacklog).toBe(128);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x/y', CHATD_LISTEN_BACKLOG: '0' })).toThrow(/CHATD_LISTEN_BACKLOG/);
  });

  it('queues a burst of connections opened while the event loop is busy, instead of dropping their SYNs', async () => {
    const port = new URL(replica.url).port;
    client = spawn(process.execPath, ['-e', CLIENT, port, dir, String(BURST)], { stdio: 'ignore' });
    await waitFor(() => fs.existsSync(path.join(dir, 'ready')), { what: 'the client process to start' });
    // Block this process's event loop (the replica's) so it accepts nothing; the burst can only queue in the kernel.
    fs.writeFileSync(path.join(dir, 'go'), '');
    const pause = new Int32Array(new SharedArrayBuffer(4));
    let waitedMs = 0;
    while (readCount() < BURST && waitedMs < BLOCK_DEADLINE_MS) {
      Atomics.wait(pause, 0, 0, 20);
      waitedMs += 20;
    }
    // Every connection completed its handshake while nothing was accepted: all were queued, none dropped.
    expect(readCount()).toBe(BURST);
  });
});
