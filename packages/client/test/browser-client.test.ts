// The browser entry in Node, against real HTTP and ws servers on port 0, with `ws` standing in for the standard
// WebSocket (the same onopen/onmessage/onclose surface, no headers passed): sockets carry no token header, the
// `streamQuery` seam adds its parameters to every attempt, a dropped socket resumes with the cursor and no
// duplicate, and a refused upgrade (which a browser cannot read) ends the stream once GET /{chat} says 404.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMockClock } from '@chatd/clock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createChatClient } from '../src/browser-chat-client.js';
import type { StandardWebSocketClass } from '../src/browser-stream-socket.js';
import { PROBE_AFTER_FAILURES, RECONNECT_TIMER_TAG } from '../src/chat-stream.js';
import { isChatdClientError } from '../src/chatd-client-error.js';
import type { ChatStreamEvent } from '@chatd/protocol';

const CHAT = '5a1d9e33-0000-4000-8000-00000000000b';
const GONE = '5a1d9e33-0000-4000-8000-00000000000c';
const RUN = '5a1d9e33-0000-4000-8000-0000000000aa';
const part = (seq: number) => ({ type: 'message_part', chat_id: CHAT, message_part: { role: 'assistant', part: { type: 'text', text: `p${seq}` }, seq, run_id: RUN } });
const message = (id: number) => ({ type: 'message', chat_id: CHAT, message: { id, chat_id: CHAT, created_at: '2026-01-01T00:00:00Z', role: 'user', content: [] } });

let server: http.Server;
let baseUrl: string;
const wss = new WebSocketServer({ noServer: true });
/** Each upgrade request: its URL and whether it carried a token header. */
const upgrades: { url: string; tokenHeader: boolean }[] = [];
const sockets: WebSocket[] = [];
let socketArrived: (() => void) | undefined;
const nextSocket = () => new Promise<void>((resolve) => (socketArrived = resolve));

beforeAll(async () => {
  server = http.createServer((req, res) => {
    // REST: the refused chat is unknown, every other one exists.
    const gone = req.url?.includes(GONE);
    res.writeHead(gone ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(gone ? { message: 'Resource not found or you do not have access to this resource.' } : { id: CHAT }));
  });
  server.on('upgrade', (req, socket, head) => {
    upgrades.push({ url: req.url ?? '', tokenHeader: req.headers['coder-session-token'] !== undefined });
    if (req.url?.includes(GONE)) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(ws);
      socketArrived?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const ws of wss.clients) ws.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('the browser client', () => {
  it('streams without a token header, adds streamQuery to each attempt, and resumes after a drop with no gap or duplicate', async () => {
    let tickets = 0;
    const client = createChatClient({ baseUrl, WebSocket: WebSocket as unknown as StandardWebSocketClass, streamQuery: async () => ({ ticket: `t${++tickets}` }) });
    const stop = new AbortController();
    const seen: ChatStreamEvent[] = [];
    let arrived = nextSocket();
    let opened = 0;
    const done = (async () => {
      for await (const e of client.stream(CHAT, { signal: stop.signal, onOpen: () => opened++ })) {
        seen.push(e);
        if (seen.length === 3) sockets[0]!.terminate();
        if (seen.length === 5) stop.abort();
      }
    })();
    await arrived;
    arrived = nextSocket();
    sockets[0]!.send(JSON.stringify([message(7), part(1), part(2)]));
    await arrived;
    // The snapshot repeats what was seen; only the rest passes.
    sockets[1]!.send(JSON.stringify([message(7), part(2), part(3), message(8)]));
    await done;
    expect(seen.map((e) => (e.type === 'message' ? `m${e.message.id}` : e.type === 'message_part' ? `p${e.message_part.seq}` : e.type))).toEqual(['m7', 'p1', 'p2', 'p3', 'm8']);
    expect(upgrades.map((u) => u.url)).toEqual([`/api/experimental/chats/${CHAT}/stream?ticket=t1`, `/api/experimental/chats/${CHAT}/stream?after_id=7&after_seq=2&run_id=${RUN}&ticket=t2`]);
    expect(upgrades.every((u) => !u.tokenHeader)).toBe(true);
    expect(opened).toBe(2);
  });

  it('a refused upgrade is retried; after PROBE_AFTER_FAILURES failures GET /{chat} answering 404 ends the stream with NOT_FOUND', async () => {
    upgrades.length = 0;
    const clock = createMockClock();
    const client = createChatClient({ baseUrl, WebSocket: WebSocket as unknown as StandardWebSocketClass, clock, reconnect: { minDelayMs: 100, maxDelayMs: 100, random: () => 1 } });
    const done = (async () => {
      for await (const e of client.stream(GONE)) void e;
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    for (let i = 1; i < PROBE_AFTER_FAILURES; i++) {
      await clock.waitForTimer({ tag: RECONNECT_TIMER_TAG });
      await clock.advance(100);
    }
    const err = await done;
    expect(isChatdClientError(err, 'NOT_FOUND'), String(err)).toBe(true);
    expect(upgrades).toHaveLength(PROBE_AFTER_FAILURES);
  });
});
