// Real replica processes for the multi-process tests: spawns the built `chatd-enterprise serve`, reads
// its `chatd: listening on <url> (replica <id>...)` line, and offers a stream reader and a REST client
// that speak only the public API. Every wait has a deadline (waitFor); nothing sleeps.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { partText, type ChatStreamEvent } from '@chatd/protocol';
import { waitFor } from '@chatd/testkit';
import WebSocket from 'ws';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built bin (the package's `test` target depends on its `build`). */
export const BIN = path.join(packageDir, 'dist', 'bin', 'chatd-enterprise.js');

const LISTENING = /^chatd: listening on (\S+) \(replica ([0-9a-f-]{36})/;

export type ReplicaProcess = {
  url: string;
  replicaId: string;
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<number | string>;
};

export type ReplicaSpec = {
  databaseUrl: string;
  worker?: boolean;
  port?: number;
  relayAddress?: string;
  env?: Record<string, string>;
  args?: string[];
};

/** Environment every test replica gets: quick acquire, short demo replies, quiet logs. */
export const BASE_ENV: Record<string, string> = {
  CHATD_LOG_LEVEL: 'warn',
  CHATD_ACQUIRE_INTERVAL_MS: '50',
  CHATD_DEMO_TOKENS_PER_SECOND: '100',
  CHATD_DEMO_REPLY_TOKENS: '60',
  // Per-user limits lifted explicitly (issue 33): the tests run many chats and writes under one user.
  CHATD_MAX_RUNNING_PER_USER: '1000',
  CHATD_WRITE_RATE_PER_MINUTE: '100000',
  CHATD_WRITE_BURST: '100000',
};

const started = new Set<ReplicaProcess>();

/** Spawns `chatd-enterprise serve` and waits for its listening line. */
export async function spawnReplica(spec: ReplicaSpec): Promise<ReplicaProcess> {
  const args = [BIN, 'serve', '--port', String(spec.port ?? 0), ...(spec.worker === false ? ['--no-worker'] : []), ...(spec.relayAddress ? ['--relay-address', spec.relayAddress] : []), ...(spec.args ?? [])];
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...BASE_ENV, ...spec.env, DATABASE_URL: spec.databaseUrl };
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const lines = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      rest += chunk.toString();
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      into.push(...parts);
    };
  };
  child.stdout!.on('data', lines(stdout));
  child.stderr!.on('data', lines(stderr));
  let exitedWith: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve((exitedWith = code ?? signal ?? -1))));
  const proc: ReplicaProcess = {
    url: '',
    replicaId: '',
    child,
    stdout,
    stderr,
    exited,
    stop: async () => {
      if (exitedWith === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
  started.add(proc);
  const match = await waitFor(
    () => {
      if (exitedWith !== undefined) throw new Error(`replica exited (${exitedWith}): ${stderr.join('\n')}`);
      for (const l of stdout) {
        const m = LISTENING.exec(l);
        if (m) return m;
      }
      return undefined;
    },
    { what: 'the replica to listen', timeoutMs: 20_000 },
  ).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; stderr: ${stderr.join('\n')}; cause: ${(err.cause as Error | undefined)?.message}`);
  });
  proc.url = match[1]!;
  proc.replicaId = match[2]!;
  return proc;
}

/** Kills every replica still running (afterAll). */
export async function stopAllReplicas(): Promise<void> {
  await Promise.all(
    [...started].map(async (p) => {
      started.delete(p);
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }),
  );
}

/** A minimal JSON client of the REST API. */
export function apiClient(baseUrl: string, token: string) {
  return async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}/api/experimental/chats${route}`, {
      method,
      headers: { 'coder-session-token': token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
  };
}

export type StreamReader = ReturnType<typeof openStream>;

/** Reads a chat's stream socket: every event in order. */
export function openStream(baseUrl: string, chatId: string, token: string, query = '') {
  const events: ChatStreamEvent[] = [];
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream${query}`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  let closed = false;
  ws.on('message', (data) => {
    const batch = JSON.parse(String(data)) as ChatStreamEvent[];
    events.push(...batch);
  });
  ws.on('close', () => (closed = true));
  ws.on('error', () => undefined);
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`stream answered ${res.statusCode}`)));
  });
  return {
    ws,
    events,
    opened,
    get closed() {
      return closed;
    },
    until: (pred: (e: ChatStreamEvent[]) => boolean, what: string, timeoutMs = 15_000) => waitFor(() => pred(events), { what, timeoutMs }),
    close: () => ws.close(),
  };
}

type PartEvent = Extract<ChatStreamEvent, { type: 'message_part' }>;

/** The message_part events, optionally of one run. */
export const partsOf = (events: ChatStreamEvent[], runId?: string): PartEvent['message_part'][] =>
  events.filter((e): e is PartEvent => e.type === 'message_part' && (runId === undefined || e.message_part.run_id === runId)).map((e) => e.message_part);

/** Text of parts, concatenated in arrival order. */
export const textOf = (parts: PartEvent['message_part'][]): string => parts.map((p) => partText(p.part) ?? '').join('');

/** The text of the last assistant message in the events, or undefined. */
export function assistantText(events: ChatStreamEvent[]): string | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === 'message' && e.message.role === 'assistant') return (e.message.content ?? []).map((p) => partText(p) ?? '').join('');
  }
  return undefined;
}

/** A TCP forwarder that counts the connections it accepted (to tell whether a relay was re-dialled). */
export async function createCountingForwarder(targetPort: number): Promise<{ port: number; readonly accepted: number; close(): Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
