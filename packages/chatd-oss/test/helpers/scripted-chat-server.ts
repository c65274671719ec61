// A scripted chatd for terminal-client tests: a real node:http server with a real `ws` upgrade on 127.0.0.1
// port 0 that answers the routes `chatd chat` and `chatd watch` use (create, get, messages) from a fixed chat
// and history, and sends every stream socket the scripted frames (bare JSON arrays of events), then leaves it
// open. It models nothing of a worker: tests script exactly what a server would stream. `POST /{chat}/tool-results`
// (issue 27) records each body and answers with the scripted `toolResults` answer (204 by default); after a 204
// every open stream socket gets the `afterToolResults` frames, as a server streams the continuation.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Chat, ChatMessage, ChatStreamEvent } from '@chatd/protocol';
import { WebSocketServer } from 'ws';

/** What the scripted server answers. */
export type ChatScript = {
  chat: Chat;
  /** The chat's messages, oldest first. */
  history: ChatMessage[];
  /** Frames every stream socket receives, in order. */
  frames: ChatStreamEvent[][];
  /** The answer of `POST /{chat}/tool-results` for a body. @default 204 */
  toolResults?: (body: unknown) => { status: number; body?: unknown };
  /** Frames every open stream socket receives after a 204 of `tool-results`. */
  afterToolResults?: ChatStreamEvent[][];
};

/** A running scripted server. */
export type ScriptedChatServer = {
  url: string;
  /** Bodies of `POST /{chat}/tool-results`, parsed, in arrival order. */
  toolResultBodies: unknown[];
  /** Headers of those requests, in the same order. */
  toolResultHeaders: http.IncomingHttpHeaders[];
  close(): Promise<void>;
};

const API = '/api/experimental/chats';

/** Starts a scripted server. */
export async function startScriptedChatServer(script: ChatScript): Promise<ScriptedChatServer> {
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const toolResultBodies: unknown[] = [];
  const toolResultHeaders: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === `${API}/${script.chat.id}/tool-results`) {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (raw += chunk));
      req.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
        toolResultBodies.push(body);
        toolResultHeaders.push(req.headers);
        const answer = script.toolResults?.(body) ?? { status: 204 };
        if (answer.status !== 204) return json(res, answer.status, answer.body ?? { message: 'scripted refusal' });
        res.writeHead(204);
        res.end();
        for (const ws of wss.clients) for (const frame of script.afterToolResults ?? []) ws.send(JSON.stringify(frame));
      });
      return;
    }
    req.resume();
    if (req.method === 'POST' && url.pathname === API) return json(res, 201, script.chat);
    if (req.method === 'GET' && url.pathname === `${API}/${script.chat.id}`) return json(res, 200, script.chat);
    if (req.method === 'GET' && url.pathname === `${API}/${script.chat.id}/messages`) {
      const afterId = Number(url.searchParams.get('after_id') ?? 0);
      const messages = script.history.filter((m) => m.id > afterId).reverse();
      return json(res, 200, { messages, queued_messages: [], has_more: false });
    }
    json(res, 404, { message: 'not scripted' });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (!req.url?.startsWith(`${API}/${script.chat.id}/stream`)) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      for (const frame of script.frames) ws.send(JSON.stringify(frame));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    toolResultBodies,
    toolResultHeaders,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
