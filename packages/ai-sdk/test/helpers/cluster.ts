// Two real @chatd/oss replicas on one test database: `generator` runs the worker, `apiOnly` has none (like
// `--no-worker`). Without the enterprise relay, a stream on `apiOnly` carries a chat's durable messages and
// statuses (NOTIFY) but not the in-flight parts of a run on `generator`; a stream on `generator` carries both.
// Stream connections go through one fault-injection TCP proxy per replica, so a test can drop every stream socket
// at once while REST calls go direct. A client made here sends each request and stream to a replica it picks.
import { createRealClock } from '@chatd/clock';
import { createChatClient, type ChatClient } from '@chatd/client';
import { CHATD_MIGRATION_SOURCE, migrate, migrationsKey, startChatdServer, type RunningChatd } from '@chatd/oss';
import { createTcpProxy, useTestDatabase, type TcpProxy } from '@chatd/testkit';
import WebSocket from 'ws';

/** The test database, migrated for the chat store (call at the top of a test file). */
export function useChatdDatabase() {
  return useTestDatabase({ key: migrationsKey([CHATD_MIGRATION_SOURCE]), migrate: (url) => migrate(url).then(() => undefined) });
}

export type Cluster = {
  generator: RunningChatd;
  apiOnly: RunningChatd;
  /** The stream proxies, in the replicas' order. */
  proxies: TcpProxy[];
  token: string;
  /** REST requests seen by the clients made here, as `METHOD path`. */
  requests: string[];
  /** A client whose every REST call and stream connection goes to a replica `pick` chooses (0 generator, 1 apiOnly). */
  client(options: { transport: 'sse' | 'websocket'; pick?: () => number }): ChatClient;
  /** Drops every open stream connection of both replicas. */
  dropStreams(): void;
  close(): Promise<void>;
};

/** Demo model pace: a reply of 60 words at 250 words a second, so a turn is in flight for a fraction of a second. */
const DEMO_ENV = { CHATD_DEMO_TOKENS_PER_SECOND: '250', CHATD_DEMO_REPLY_TOKENS: '60' };

async function replica(databaseUrl: string, worker: boolean): Promise<RunningChatd> {
  return startChatdServer({
    config: {
      databaseUrl,
      worker,
      demoTools: true,
      maxRunningPerUser: 1_000,
      writeRatePerMinute: 100_000,
      writeBurst: 100_000,
      acquireIntervalMs: 50,
      heartbeatIntervalMs: 1_000,
      staleAfterMs: 10_000,
      logLevel: 'silent',
    },
    clock: createRealClock(),
    env: DEMO_ENV,
    gitsync: false,
    console: false,
  });
}

export async function startCluster(databaseUrl: string): Promise<Cluster> {
  const generator = await replica(databaseUrl, true);
  const apiOnly = await replica(databaseUrl, false);
  const replicas = [generator, apiOnly];
  const proxies = await Promise.all(replicas.map((r) => createTcpProxy({ port: r.port })));
  const { user } = await generator.chatd.identity.ensureUser({ username: 'ai-sdk-user' });
  const { token } = await generator.chatd.identity.createToken(user.id, 'test');
  const requests: string[] = [];
  const origin = (u: string) => new URL(u).origin;
  const baseUrl = generator.url;
  return {
    generator,
    apiOnly,
    proxies,
    token,
    requests,
    client({ transport, pick = () => 0 }) {
      /** The URL of the replica picked for one request; streams through that replica's proxy. */
      const route = (url: string) => {
        const i = pick();
        const stream = new URL(url).pathname.endsWith('/stream');
        const target = stream ? `http://127.0.0.1:${proxies[i]!.port}` : replicas[i]!.url;
        return url.replace(origin(url), origin(target));
      };
      const fetchFn: typeof globalThis.fetch = (input, init) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        const path = new URL(url).pathname;
        if (!/\/stream$/.test(path)) requests.push(`${init?.method ?? 'GET'} ${path}`);
        return globalThis.fetch(route(url), init);
      };
      class RoutedWebSocket extends WebSocket {
        constructor(url: string | URL, options?: WebSocket.ClientOptions) {
          const http = String(url).replace(/^ws/, 'http');
          super(route(http).replace(/^http/, 'ws'), options);
        }
      }
      return createChatClient({ baseUrl, token, transport, fetch: fetchFn, WebSocket: RoutedWebSocket as unknown as typeof WebSocket, reconnect: { minDelayMs: 5, maxDelayMs: 50 } });
    },
    dropStreams() {
      for (const p of proxies) p.cut();
    },
    async close() {
      for (const p of proxies) await p.close();
      await apiOnly.close();
      await generator.close();
    },
  };
}
