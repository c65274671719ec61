// A worker killed mid-reply (contract.md#run-lost). Replica A is a child process that
// generates; the test kills it with SIGKILL (no clean shutdown, no more heartbeats). The client talks
// through a switching proxy (a load balancer): first to A, then to API-only replica B, to which it
// reconnects with its part cursor. Replica C, started once A holds the chat, has a short staleAfterMs:
// it recovers the chat and runs the reply again. The client must see `run_lost`, then the re-run's message.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRealClock } from '@chatd/clock';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createChatClient } from '@chatd/client';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createDemoLanguageModel, demoReplyTokens } from '../src/model/demo-model.js';
import { fixedModels } from './helpers/test-models.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { partText, type ChatStreamEvent } from '@chatd/protocol';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A's pace: slow, so the kill lands mid-reply. */
const A_TOKENS_PER_SECOND = 20;
const A_REPLY_TOKENS = 200;
const A_HEARTBEAT_INTERVAL_MS = 200;
/** C's staleness bound: well above A's heartbeat interval, short enough for a test. */
const C_STALE_AFTER_MS = 1500;
const C_REPLY_TOKENS = 12;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A TCP proxy whose target port can be switched, like a load balancer moving new connections to a live replica. */
async function createSwitchProxy(initialTarget: number) {
  let target = initialTarget;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    switchTo(port: number) {
      target = port;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Starts replica A as a child process and resolves once it listens. */
async function startChildReplica(databaseUrl: string): Promise<{ child: ChildProcess; port: number; replicaId: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join('test', 'fixtures', 'replica-child.ts'), databaseUrl, String(A_TOKENS_PER_SECOND), String(A_REPLY_TOKENS), String(A_HEARTBEAT_INTERVAL_MS)],
    { cwd: pkgDir, env: { ...process.env, TSX_TSCONFIG_PATH: path.join(pkgDir, 'test', 'fixtures', 'tsconfig.json') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = readline.createInterface({ input: child.stdout! });
  const first = await Promise.race([
    new Promise<string>((resolve) => lines.once('line', resolve)),
    new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`replica A exited (${code}): ${stderr}`)))),
  ]);
  const info = JSON.parse(first) as { port: number; replicaId: string };
  return { child, port: info.port, replicaId: info.replicaId };
}

type Part = Extract<ChatStreamEvent, { type: 'message_part' }>;
const isPart = (e: ChatStreamEvent): e is Part => e.type === 'message_part';

describe('a worker killed mid-reply', () => {
  it('the client sees discontinuity run_lost, then the final message of the re-run, each message once', async () => {
    const b: RunningChatd = await startTestReplica(db.url, { config: { databaseUrl: db.url, worker: false } });
    cleanups.push(() => b.close());
    const { token } = await userToken(b, 'survivor');
    const a = await startChildReplica(db.url);
    const lb = await createSwitchProxy(a.port);
    cleanups.push(() => lb.close());

    const client = createChatClient({ baseUrl: `http://127.0.0.1:${lb.port}`, token, reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
    const prompt = 'keep talking until the lights go out';
    const chat = await client.create(prompt);
    const seen: ChatStreamEvent[] = [];
    let c: RunningChatd | undefined;
    const stop = new AbortController();
    let killedAt = -1;
    let runA: string | undefined;
    const consumed = (async () => {
      for await (const e of client.stream(chat.id, { signal: stop.signal })) {
        seen.push(e);
        if (isPart(e) && killedAt < 0 && seen.filter(isPart).length === 5) {
          // Mid-reply on A: new connections go to B from now on, and A dies without a word.
          runA = e.message_part.run_id;
          lb.switchTo(b.port);
          a.child.kill('SIGKILL');
          killedAt = seen.length;
        }
        if (e.type === 'message' && e.message.role === 'assistant') stop.abort();
      }
    })();
    await waitFor(() => killedAt >= 0, { what: 'five parts from replica A', timeoutMs: 20_000 });
    await waitFor(() => a.child.exitCode !== null || a.child.signalCode !== null, { what: 'replica A to die' });
    // C recovers what A left behind once A's heartbeat is C_STALE_AFTER_MS old, then runs it again.
    const cClock = createRealClock();
    c = await startTestReplica(db.url, {
      config: { databaseUrl: db.url, acquireIntervalMs: 50, staleAfterMs: C_STALE_AFTER_MS, heartbeatIntervalMs: 300 },
      models: fixedModels(createDemoLanguageModel({ clock: cClock, tokensPerSecond: 400, replyTokens: C_REPLY_TOKENS })),
    });
    cleanups.push(() => c!.close());
    await waitFor(() => stop.signal.aborted, { what: 'the re-run reply to reach the client on B', timeoutMs: 20_000 });
    await consumed;

    const after = seen.slice(killedAt);
    const discontinuities = after.filter((e) => e.type === 'discontinuity');
    expect(discontinuities).toEqual([{ type: 'discontinuity', chat_id: chat.id, discontinuity: { reason: 'run_lost', resync_after_id: expect.any(Number) } }]);
    const discAt = after.indexOf(discontinuities[0]!);
    // Parts A sent before it died may still arrive through the proxy, but none after the discontinuity;
    // the re-run's message comes after it.
    expect(after.slice(discAt).filter((e) => isPart(e) && e.message_part.run_id === runA)).toEqual([]);
    const final = after.findIndex((e) => e.type === 'message' && e.message.role === 'assistant');
    expect(final).toBeGreaterThan(discAt);
    const message = after[final];
    expect(message?.type === 'message' && (message.message.content ?? []).map((p) => partText(p)).join('')).toBe(demoReplyTokens(prompt, C_REPLY_TOKENS).join(''));
    // Each message once; the user message was not sent again after the reconnect.
    const ids = seen.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.id : 0));
    expect(new Set(ids).size).toBe(ids.length);
    expect(seen.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.role : ''))).toEqual(['user', 'assistant']);
    // C's run finishes the chat (its status may land just after the message).
    await waitFor(async () => (await b.chatd.chats.getChatRunState(chat.id))?.status === 'waiting', { what: 'the chat to rest' });
    expect(c.replicaId).not.toBe(a.replicaId);
  });
});
