// A TCP proxy for fault tests: sits between a client and a server (PostgreSQL, a relay socket) and
// can cut every connection, stall traffic in both directions, or refuse new connections.
// It forwards bytes only; it knows nothing of the protocols it carries.
import net from 'node:net';

/** A running fault-injection proxy. */
export type TcpProxy = {
  /** Port the proxy listens on (127.0.0.1). */
  port: number;
  /** Number of client connections currently open through the proxy. */
  readonly connections: number;
  /** Destroys every open connection at once (both sides see a reset). New ones are still accepted. */
  cut(): void;
  /** Stops forwarding bytes in both directions; connections stay open. */
  stall(): void;
  /** Resumes forwarding after `stall`, delivering what was held. */
  resume(): void;
  /** While true, new connections are accepted and closed immediately. */
  refuse(on: boolean): void;
  /** Cuts every connection and stops listening. */
  close(): Promise<void>;
};

/** Starts a proxy on a free port forwarding to `target`. */
export async function createTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let stalled = false;
  let refusing = false;

  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host ?? '127.0.0.1', port: target.port });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
    if (stalled) {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  const setPaused = (paused: boolean) => {
    for (const { client, upstream } of pairs) {
      if (paused) {
        client.pause();
        upstream.pause();
      } else {
        client.resume();
        upstream.resume();
      }
    }
  };

  const cut = () => {
    for (const { client, upstream } of [...pairs]) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
  };

  return {
    port,
    get connections() {
      return pairs.size;
    },
    cut,
    stall() {
      stalled = true;
      setPaused(true);
    },
    resume() {
      stalled = false;
      setPaused(false);
    },
    refuse(on) {
      refusing = on;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
