// A real node:http server on port 0 for model provider tests: each test sets `handle` to answer one
// chat-completions request (headers, SSE chunks, errors, dropped sockets), and can await the moment the
// server sees the request's socket close. Test-only; it models no provider beyond what a test writes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the server received, with its parsed JSON body and its socket's fate. */
export type RecordedRequest = {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  res: http.ServerResponse;
  /** Resolves when the request's socket closes (client abort, server destroy or shutdown). */
  socketClosed: Promise<void>;
};

/** Answers one request; the body is already read. */
export type SseHandler = (req: RecordedRequest) => void;

/** The running server. */
export type SseTestServer = {
  /** API root to pass as `baseUrl` (ends in `/v1`). */
  baseUrl: string;
  port: number;
  requests: RecordedRequest[];
  handle: SseHandler;
  /** Resolves with the next request not yet taken, once its body is read and `handle` ran. */
  nextRequest(): Promise<RecordedRequest>;
  close(): Promise<void>;
};

/** One SSE event carrying `value` as JSON (or verbatim when a string). */
export function sse(value: unknown): string {
  return `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;
}

/** A chat-completions chunk with one choice. */
export function deltaChunk(delta: Record<string, unknown>, finishReason: string | null = null): Record<string, unknown> {
  return { id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1, model: 'test-model', choices: [{ index: 0, delta, finish_reason: finishReason }] };
}

/** Starts an SSE server on 127.0.0.1:0; the default handler answers 500. */
export async function startSseTestServer(): Promise<SseTestServer> {
  const requests: RecordedRequest[] = [];
  const waiters: Array<(r: RecordedRequest) => void> = [];
  let taken = 0;
  const state: { handle: SseHandler } = {
    handle: (r) => {
      r.res.writeHead(500).end();
    },
  };
  const server = http.createServer((req, res) => {
    const socketClosed = new Promise<void>((resolve) => {
      if (req.socket.destroyed) resolve();
      else req.socket.once('close', () => resolve());
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the raw text
      }
      const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, res, socketClosed };
      requests.push(rec);
      state.handle(rec);
      const waiter = waiters.shift();
      if (waiter) {
        taken++;
        waiter(rec);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    get handle() {
      return state.handle;
    },
    set handle(h: SseHandler) {
      state.handle = h;
    },
    nextRequest() {
      const ready = requests[taken];
      if (ready) {
        taken++;
        return Promise.resolve(ready);
      }
      return new Promise<RecordedRequest>((resolve) => waiters.push(resolve));
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
