// The conformance hook catches a server that does not match the API description (contract.md#api-description): a
// real HTTP server and a real ws server answer deliberately wrong bodies and frames, and the hook reports them;
// right ones pass. The documents are the committed docs/openapi.json and docs/asyncapi.json.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { checkApiConformanceNow, ignoreApiConformanceFor, installApiConformance, loadApiConformance, openSseReader } from '../src/index.js';

installApiConformance({ WebSocket });

const CHAT_ID = '6f1c2c8e-7d0f-4a43-9a57-0d1f6b2c9e11';
const USER_ID = '0b5f7a51-2f0a-4a39-8d8e-3c2a4f1e6d22';
const goodChat = {
  id: CHAT_ID,
  organization_id: USER_ID,
  owner_id: USER_ID,
  workspace_id: null,
  parent_chat_id: null,
  root_chat_id: CHAT_ID,
  last_model_config_id: null,
  title: 'hello',
  status: 'waiting',
  last_error: null,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  archived: false,
  worker_id: null,
};
const { title: _title, ...chatWithoutTitle } = goodChat;

// What the fake server answers, by path: [status, content-type, body].
const answers: Record<string, [number, string | undefined, string]> = {
  [`/api/experimental/chats/${CHAT_ID}`]: [200, 'application/json', JSON.stringify(goodChat)],
  [`/api/v2/chats/${CHAT_ID}`]: [200, 'application/json', JSON.stringify(chatWithoutTitle)],
  [`/api/experimental/chats/${CHAT_ID}/compact`]: [202, 'application/json', '{"oops":true}'],
  '/api/experimental/chats/watch-ticket': [200, 'application/json', JSON.stringify({ ticket: 'chatdt_x', expires_at: '2026-01-01T00:01:00Z' })],
  '/api/experimental/chats/model-configs': [404, 'application/json', JSON.stringify({ detail: 'no message field' })],
};

let server: http.Server;
let wss: WebSocketServer;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    // An SSE stream: one frame whose part lacks its text.
    if (req.url?.endsWith('/stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      res.end(`id: after_id=0\ndata: ${JSON.stringify([{ type: 'message_part', chat_id: CHAT_ID, message_part: { part: { type: 'text' }, seq: 1, run_id: CHAT_ID } }])}\n\n`);
      return;
    }
    const [status, type, body] = answers[new URL(req.url ?? '/', 'http://x').pathname] ?? [404, 'application/json', '{"message":"Route not found."}'];
    res.writeHead(status, type ? { 'content-type': type } : {});
    res.end(body);
  });
  wss = new WebSocketServer({ server });
  // The stream socket sends one frame: `bad` omits the status event's payload.
  wss.on('connection', (ws, req) => {
    const bad = new URL(req.url ?? '/', 'http://x').searchParams.has('bad');
    ws.send(JSON.stringify([bad ? { type: 'status', chat_id: CHAT_ID } : { type: 'status', chat_id: CHAT_ID, status: { status: 'waiting' } }]));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  wss.close();
  await new Promise((resolve) => server.close(resolve));
});

/** Opens a stream socket and resolves with its first frame. */
const firstFrame = (query: string) =>
  new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/experimental/chats/${CHAT_ID}/stream${query}`);
    ws.once('message', (data) => {
      resolve(String(data));
      ws.close();
    });
    ws.once('error', reject);
  });

describe('the conformance hook (fetch and ws)', () => {
  it('passes a response that matches the document', async () => {
    const res = await fetch(`${base}/api/experimental/chats/${CHAT_ID}`);
    expect(res.status).toBe(200);
    await expect(checkApiConformanceNow()).resolves.toBeUndefined();
  });

  it('catches a chat without its required title', async () => {
    await fetch(`${base}/api/v2/chats/${CHAT_ID}`);
    await expect(checkApiConformanceNow()).rejects.toThrow(/GET \/api\/v2\/chats\/[0-9a-f-]+ -> 200: the body does not match #\/components\/schemas\/Chat: \(root\) must have required property 'title'/);
  });

  it('catches a body on an empty answer and an error body without its message', async () => {
    await fetch(`${base}/api/experimental/chats/${CHAT_ID}/compact`, { method: 'POST' });
    await fetch(`${base}/api/experimental/chats/model-configs`);
    const err = await checkApiConformanceNow().then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/POST .*\/compact -> 202: the document says no body/);
    expect(err?.message).toMatch(/GET \/api\/experimental\/chats\/model-configs -> 404: .*ApiError.*must have required property 'message'/s);
  });

  it('catches a stream frame that does not match, and passes one that does', async () => {
    await firstFrame('');
    await expect(checkApiConformanceNow()).resolves.toBeUndefined();
    await firstFrame('?bad=1');
    await expect(checkApiConformanceNow()).rejects.toThrow(/frame on \/api\/experimental\/chats\/[0-9a-f-]+\/stream does not match #\/components\/schemas\/StreamFrame/);
  });

  it('catches an SSE event whose frame does not match (testkit\'s SSE reader reports it)', async () => {
    const sse = openSseReader(`${base}/api/v2/chats/${CHAT_ID}/stream`);
    await sse.until(() => sse.events.length === 1, 'the event');
    sse.close();
    await expect(checkApiConformanceNow()).rejects.toThrow(/frame on \/api\/v2\/chats\/[0-9a-f-]+\/stream does not match #\/components\/schemas\/StreamFrame.*text/);
  });

  it('leaves out a server the test names (a fake speaking an old wire on purpose)', async () => {
    ignoreApiConformanceFor(base);
    await fetch(`${base}/api/v2/chats/${CHAT_ID}`);
    await firstFrame('?bad=1');
    await expect(checkApiConformanceNow()).resolves.toBeUndefined();
  });
});

describe('createApiConformance', () => {
  const conformance = loadApiConformance();

  it('checks the documented content type and leaves undocumented paths alone', () => {
    // A path parameter that misses its pattern (`watch-ticket` is no chat id): only a refusal is the documented route's.
    expect(conformance.checkResponse({ method: 'GET', url: `${base}/api/experimental/chats/watch-ticket`, status: 200, contentType: 'application/json', body: '{}' })).toEqual([]);
    expect(conformance.checkResponse({ method: 'GET', url: `${base}/api/experimental/chats/watch-ticket`, status: 400, contentType: 'application/json', body: '{}' })).toEqual([
      expect.stringMatching(/GET \/api\/experimental\/chats\/watch-ticket -> 400: the body does not match #\/components\/schemas\/ApiError: .*must have required property 'message'/),
    ]);
    expect(conformance.checkResponse({ method: 'POST', url: `${base}/api/experimental/chats/watch-ticket`, status: 200, contentType: 'text/html', body: '<p>' })).toEqual([expect.stringMatching(/content-type text\/html is not documented/)]);
    expect(conformance.checkResponse({ method: 'GET', url: `${base}/somewhere/else`, status: 200, contentType: 'text/html', body: '<p>' })).toEqual([]);
    expect(conformance.checkFrame(`ws://127.0.0.1/api/experimental/chats/watch`, JSON.stringify({ kind: 'created', chat: goodChat }))).toEqual([]);
    expect(conformance.checkFrame(`ws://127.0.0.1/api/v2/notifications/inbox/watch`, JSON.stringify({ unread_count: 1 }))).toEqual([expect.stringMatching(/InboxFrame.*notification/)]);
  });

  it('checks what a dialler receives on a two-way channel: the replica link\'s data frames, not its control frames', () => {
    const link = 'ws://127.0.0.1/api/experimental/replica-link';
    expect(conformance.checkFrame(link, JSON.stringify([{ sid: 1, end: { reason: 'ended' } }]))).toEqual([]);
    expect(conformance.checkFrame(link, JSON.stringify({ op: 'unsub', sid: 1 }))).toEqual([expect.stringMatching(/ReplicaLinkFrame/)]);
  });
});
