// What the chaos suite's stand-in model servers share: listen on 127.0.0.1:0 and hand back an OpenAI-style base
// URL, the number of requests served so far, and a close that drops open streams.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running stand-in model server. */
export type LocalModelServer = { baseUrl: string; readonly requests: number; close(): Promise<void> };

/** Starts `server` on a free loopback port; `requests` reads the server's own count. */
export async function listenModelServer(server: http.Server, requests: () => number): Promise<LocalModelServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return requests();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
