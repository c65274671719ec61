// Reads a Server-Sent Events stream over node:http, for tests: each event's `id` and `data`, comment lines
// counted, and a way to stop reading (pause) so the server sees a slow client. Its answers and events are reported to
// the API conformance hook when a test file installed it.
import http from 'node:http';
import { observeApiFrame, observeApiResponse } from './api-conformance-hook.js';
import { waitFor } from './wait-for.js';

/** One SSE event as read. */
export type SseEvent = { id: string | undefined; data: string };

/** An open SSE stream. */
export interface SseReader {
  /** Status and headers of the response (resolves once they arrived). */
  readonly response: Promise<{ status: number; headers: http.IncomingHttpHeaders; body?: string }>;
  readonly events: SseEvent[];
  /** Comment lines (`:...`) read so far. */
  readonly comments: number;
  /** The `id` of the last event that had one. */
  readonly lastEventId: string | undefined;
  /** Whether the server ended the response (or the connection closed). */
  readonly ended: boolean;
  /** Stops reading from the socket: the server's send buffer grows. */
  pause(): void;
  resume(): void;
  /** Waits until `pred` holds. */
  until(pred: () => boolean, what?: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens `url` with `Accept: text/event-stream` and these headers. A non-2xx response's body is read whole. */
export function openSseReader(url: string, headers: Record<string, string> = {}): SseReader {
  const events: SseEvent[] = [];
  let comments = 0;
  let lastEventId: string | undefined;
  let ended = false;
  let res: http.IncomingMessage | undefined;
  let paused = false;
  const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } });
  const response = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body?: string }>((resolve, reject) => {
    req.once('error', (err) => {
      ended = true;
      reject(err);
    });
    req.once('response', (r) => {
      res = r;
      r.once('close', () => (ended = true));
      r.on('error', () => {});
      const status = r.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.once('end', () => {
          observeApiResponse({ method: 'GET', url, status, contentType: r.headers['content-type'] ?? null, body });
          resolve({ status, headers: r.headers, body });
        });
        return;
      }
      observeApiResponse({ method: 'GET', url, status, contentType: r.headers['content-type'] ?? null, body: '' });
      resolve({ status, headers: r.headers });
      r.setEncoding('utf8');
      let buffer = '';
      r.on('data', (chunk: string) => {
        buffer += chunk;
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          let id: string | undefined;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments++;
            else if (line.startsWith('id:')) id = line.slice(3).trimStart();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (id !== undefined) lastEventId = id;
          if (data.length > 0) {
            events.push({ id, data: data.join('\n') });
            // Each event's data is one stream frame (contract.md#sse), held to the API description like a socket's.
            observeApiFrame(url, data.join('\n'));
          }
        }
      });
      if (paused) r.pause();
    });
  });
  response.catch(() => {});
  return {
    response,
    events,
    get comments() {
      return comments;
    },
    get lastEventId() {
      return lastEventId;
    },
    get ended() {
      return ended;
    },
    pause() {
      paused = true;
      res?.pause();
    },
    resume() {
      paused = false;
      res?.resume();
    },
    until: async (pred, what = 'SSE events', timeoutMs = 15_000) => {
      await waitFor(pred, { what, timeoutMs });
    },
    close() {
      req.destroy();
      res?.destroy();
    },
  };
}
