// Keeps a server-side WebSocket alive: a ping every interval on the clock, and a peer that missed two pongs in a
// row is terminated (a half-open TCP connection never closes by itself). `afterPing` runs after each ping of a
// socket still open (a stream socket re-checks its token there).
import type { Clock, Ticker } from '@chatd/clock';
import type { WebSocket } from 'ws';

/** Starts pinging `ws` every `intervalMs` (clock tag `tag`); stop the returned ticker when the socket closes. */
export function startPingKeepAlive(ws: WebSocket, clock: Clock, intervalMs: number, tag: string, afterPing?: () => void): Ticker {
  let missed = 0;
  ws.on('pong', () => (missed = 0));
  return clock.setInterval(() => {
    if (missed >= 2) {
      ws.terminate();
      return;
    }
    missed++;
    try {
      ws.ping();
    } catch {
      ws.terminate();
    }
    if (afterPing && ws.readyState === ws.OPEN) afterPing();
  }, intervalMs, tag);
}
