// Stream sockets over the `ws` package (Node): the session token goes in a header, a refused upgrade is read
// with its status, body and Retry-After, and reading pauses while the consumer lags (TCP back-pressure, so the
// server's slow-client rules apply). Only the Node entry loads this file; the class comes from the caller.
import type WebSocket from 'ws';
import type { StreamSocketFactory } from './stream-socket.js';

/** Largest frame the client accepts: above the original SDK's 4 MiB, since one durable message may hold 4 MiB of content. @default 16 MiB */
export const MAX_STREAM_FRAME_BYTES = 16 * 1024 * 1024;
/** Bytes of a refused upgrade's body kept for its error. @default 64 KiB */
const MAX_REFUSAL_BODY_CHARS = 64 * 1024;

/** The ws-compatible WebSocket class the client dials with (injectable for tests and proxies). */
export type WebSocketClass = typeof WebSocket;

/** Stream sockets of `WebSocket` (the `ws` class or a compatible one) sending `headers` with each upgrade. */
export function createWsSocketFactory(WebSocketImpl: WebSocketClass, headers: Record<string, string>): StreamSocketFactory {
  return {
    readsRefusals: true,
    open(url, events) {
      const ws = new WebSocketImpl(url, { headers, perMessageDeflate: false, maxPayload: MAX_STREAM_FRAME_BYTES });
      ws.on('open', () => events.opened());
      ws.on('message', (data, isBinary) => {
        if (!isBinary) events.frame(String(data));
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < MAX_REFUSAL_BODY_CHARS) body += chunk;
        });
        const done = () => {
          const retryAfter = res.headers?.['retry-after'];
          events.refused({ status: res.statusCode ?? 0, body, ...(typeof retryAfter === 'string' ? { retryAfter } : {}) });
          ws.terminate();
          events.ended();
        };
        res.on('end', done);
        res.on('error', done);
      });
      ws.on('error', () => events.ended());
      ws.on('close', (code) => events.ended(code));
      return {
        pause: () => ws.pause(),
        resume: () => ws.resume(),
        get paused() {
          return ws.isPaused;
        },
        close() {
          if (ws.readyState === ws.OPEN) ws.close(1000, 'client done');
          else ws.terminate();
        },
      };
    },
  };
}
