// A real `ws` WebSocket server on 127.0.0.1 port 0 for integration tests, with a close that
// terminates every client so no socket outlives the test. Its traffic is left out of the API conformance hook.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ignoreApiConformanceFor } from './api-conformance-hook.js';

/** A listening test WebSocket server. */
export type TestWsServer = {
  /** `ws://127.0.0.1:<port>` */
  url: string;
  port: number;
  wss: WebSocketServer;
  /** Terminates every client and closes the server. */
  close(): Promise<void>;
};

/** Starts a WebSocket server on a free port; `onConnection` is called for each client. */
export async function startWsServer(onConnection?: (socket: WebSocket, request: http.IncomingMessage) => void): Promise<TestWsServer> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426).end();
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  if (onConnection) wss.on('connection', onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // A stand-in that speaks whatever its test scripts (old wires, garbage on purpose): not held to the API description.
  ignoreApiConformanceFor(`ws://127.0.0.1:${port}`);
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    wss,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
