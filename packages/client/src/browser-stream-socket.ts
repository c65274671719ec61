// Stream sockets over the standard WebSocket (browsers, and Node 22+): no headers, so the socket authenticates
// with the same-origin session cookie, or with what the client's `streamQuery` adds to the URL (socket tickets).
// A browser hides a refused upgrade's status (the socket just fails) and cannot pause reading: frames wait in the
// stream's buffer, and the stream asks the REST API why after repeated failures.
import type { StreamSocketFactory } from './stream-socket.js';

/** The standard WebSocket constructor (as much of it as the stream uses). */
export type StandardWebSocketClass = new (url: string) => StandardWebSocket;

/** The part of a standard WebSocket the stream uses. */
export type StandardWebSocket = {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
};

/** The global WebSocket, or undefined where there is none (Node 20). */
export function globalWebSocket(): StandardWebSocketClass | undefined {
  return (globalThis as { WebSocket?: StandardWebSocketClass }).WebSocket;
}

/** Stream sockets of the standard `WebSocket` class. @default the global WebSocket */
export function createStandardSocketFactory(WebSocketImpl: StandardWebSocketClass | undefined = globalWebSocket()): StreamSocketFactory {
  return {
    readsRefusals: false,
    open(url, events) {
      if (!WebSocketImpl) throw new TypeError('no WebSocket: this runtime has no global WebSocket; pass one (or use the Node entry, which dials with ws)');
      const ws = new WebSocketImpl(url);
      ws.onopen = () => events.opened();
      ws.onmessage = (m) => {
        if (typeof m.data === 'string') events.frame(m.data);
      };
      // An error is followed by close; close alone ends the connection, with its code.
      ws.onerror = () => {};
      ws.onclose = (e) => events.ended(e.code);
      return {
        pause() {},
        resume() {},
        paused: false,
        close() {
          ws.close(1000, 'client done');
        },
      };
    },
  };
}
