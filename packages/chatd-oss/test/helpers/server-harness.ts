// Starts a real replica (startChatdServer) on a test database and gives tests an HTTP client and a
// stream-socket reader that speak only the public API.
import { createRealClock } from '@chatd/clock';
import { waitFor } from '@chatd/testkit';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createDemoLanguageModel } from '../../src/model/demo-model.js';
import { fixedModels } from './test-models.js';
import { startChatdServer, type RunningChatd, type StartChatdServerOptions } from '../../src/start-chatd-server.js';
import { partText, type ChatStreamEvent } from '@chatd/protocol';

/**
 * Per-user limits every test replica sets explicitly (issue 33): the tests run dozens of chats and hundreds of writes
 * under one user, past the defaults (5 running; 60 writes a minute, burst 20). A test about the limits sets its own.
 */
export const TEST_USER_LIMITS = { maxRunningPerUser: 1_000, writeRatePerMinute: 100_000, writeBurst: 100_000 };

/** Starts a replica with a fast, short demo model. */
export async function startTestReplica(databaseUrl: string, extra: Partial<StartChatdServerOptions> = {}): Promise<RunningChatd> {
  const clock = createRealClock();
  return startChatdServer({
    clock,
    logger: pino({ level: 'silent' }),
    models: fixedModels(createDemoLanguageModel({ clock, tokensPerSecond: 400, replyTokens: 24 })),
    env: {},
    ...extra,
    // A test's own config replaces the fast timings below (as it always has); the user limits stay unless it sets them.
    config: { ...TEST_USER_LIMITS, ...(extra.config ?? { databaseUrl, acquireIntervalMs: 50, heartbeatIntervalMs: 1000, staleAfterMs: 5000 }) },
  });
}

/** Creates a user and a token on a running replica. */
export async function userToken(replica: RunningChatd, username: string, admin = false): Promise<{ token: string; userId: string }> {
  const { user } = await replica.chatd.identity.ensureUser({ username, admin });
  const { token } = await replica.chatd.identity.createToken(user.id, 'test');
  return { token, userId: user.id };
}

/** A minimal JSON client of the REST API. */
export function apiClient(baseUrl: string, token: string | undefined) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${baseUrl}/api/experimental/chats${path}`, {
      method,
      headers: { ...(token ? { 'coder-session-token': token } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
  };
  return call;
}

/** Reads a stream socket: every event in order, with helpers to wait on them. */
export function openStream(baseUrl: string, chatId: string, token: string, query = '') {
  const events: ChatStreamEvent[] = [];
  const frames: number[] = [];
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream${query}`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  let closeCode: number | undefined;
  let unexpected: { status: number; body: string } | undefined;
  ws.on('message', (data) => {
    const batch = JSON.parse(String(data)) as ChatStreamEvent[];
    if (!Array.isArray(batch)) throw new Error('frame is not a bare array');
    frames.push(batch.length);
    events.push(...batch);
  });
  ws.on('close', (code) => (closeCode = code));
  ws.on('error', () => {});
  ws.on('unexpected-response', (_req, res) => {
    let body = '';
    res.on('data', (d: Buffer) => (body += d));
    res.on('end', () => (unexpected = { status: res.statusCode ?? 0, body }));
  });
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  return {
    ws,
    events,
    frames,
    opened,
    get closeCode() {
      return closeCode;
    },
    get unexpected() {
      return unexpected;
    },
    until: (pred: (e: ChatStreamEvent[]) => boolean, what = 'stream events', timeoutMs = 15_000) => waitFor(() => pred(events), { what, timeoutMs }),
    close: () => ws.close(),
  };
}

/** Text of the parts of one run, concatenated in seq order. */
export function partsText(events: ChatStreamEvent[], runId?: string): string {
  return events
    .filter((e): e is Extract<ChatStreamEvent, { type: 'message_part' }> => e.type === 'message_part' && (runId === undefined || e.message_part.run_id === runId))
    .map((e) => partText(e.message_part.part) ?? '')
    .join('');
}

/** Whether the events contain a status, optionally after a given index. */
export const hasStatus = (events: ChatStreamEvent[], status: string, from = 0) => events.slice(from).some((e) => e.type === 'status' && e.status.status === status);
