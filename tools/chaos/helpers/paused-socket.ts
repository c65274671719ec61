// A WebSocket client that stops reading right after the upgrade (its TCP socket is paused, so bytes pile up in
// the kernel and then in the server's send buffer), and reads everything once resumed. The bounded-memory
// scenarios open dozens of them to play clients that never read.
import WebSocket from 'ws';

/** A client socket that does not read until `resume()`. */
export type PausedSocket = {
  /** Text frames received (after `resume()`), in order. */
  readonly frames: string[];
  /** Resolves with the close code once the socket has closed. */
  readonly closed: Promise<number>;
  /** Resolves once the upgrade went through (the socket is paused from then on). */
  readonly opened: Promise<void>;
  /** Starts reading. */
  resume(): void;
  /** Closes the socket (normal closure). */
  close(): void;
};

/** When the socket stops reading: right after the upgrade, or after the server's first ping (the watch socket pings once it is subscribed). */
export type PauseAt = 'upgrade' | 'first-ping';

/** Opens `url` with `headers` and pauses its socket at `pauseAt`. */
export function openPausedSocket(url: string, headers: Record<string, string>, pauseAt: PauseAt = 'upgrade'): PausedSocket {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false });
  const frames: string[] = [];
  let resumeSocket: (() => void) | undefined;
  let resumed = false;
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('upgrade', (res) => {
      resumeSocket = () => res.socket.resume();
      const pause = () => {
        if (!resumed) res.socket.pause();
        resolve();
      };
      if (pauseAt === 'upgrade') pause();
      else ws.once('ping', pause);
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade of ${url} answered ${res.statusCode}`)));
    ws.once('error', reject);
  });
  opened.catch(() => {});
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    if (!isBinary) frames.push(String(data));
  });
  return {
    frames,
    closed,
    opened,
    resume() {
      resumed = true;
      resumeSocket?.();
    },
    close() {
      ws.close();
    },
  };
}
