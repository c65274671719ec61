// The writes of a stream socket's open (issue 36, the edge's CPU per open and per reconnect): the 101 response and
// the snapshot (status, the history's first page) leave the server in one write on the raw socket, as one frame,
// on a real replica over real PostgreSQL. It was three writes (the 101, a status frame, then a page frame), each a
// syscall and a wake-up of the client; a storm of 1,000 reconnects paid 3,000. Counted on the server's own socket
// (its `_write`/`_writev` calls, what libuv turns into syscalls), not by timing.
import type { Duplex } from 'node:stream';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, openStream, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

let replica: RunningChatd;
let alice: { token: string; userId: string };
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  replica = await startTestReplica(db.url, { config: { databaseUrl: db.url, worker: false } });
  alice = await userToken(replica, 'alice');
  api = apiClient(replica.url, alice.token);
});
afterAll(async () => {
  await replica?.close();
});

/** Counts the writes handed to the raw socket of the next upgrade request (before the server's own listener runs). */
function countNextUpgradeWrites(): { writes: number } {
  const counted = { writes: 0 };
  replica.server.http.prependOnceListener('upgrade', (_req: unknown, socket: Duplex) => {
    const s = socket as Duplex & { _write: (...a: unknown[]) => unknown; _writev?: (...a: unknown[]) => unknown };
    const write = s._write.bind(s);
    s._write = (...a: unknown[]) => {
      counted.writes++;
      return write(...a);
    };
    const writev = s._writev?.bind(s);
    if (writev) {
      s._writev = (...a: unknown[]) => {
        counted.writes++;
        return writev(...a);
      };
    }
  });
  return counted;
}

describe('the writes of a stream open', () => {
  it('sends the 101 and the snapshot (status and history) in one write, as one frame', async () => {
    const chatId = (await api('POST', '', { content: 'open me in one write' })).body.id as string;
    const counted = countNextUpgradeWrites();
    const stream = openStream(replica.url, chatId, alice.token);
    try {
      await waitFor(() => stream.events.some((e) => e.type === 'message'), { what: 'the snapshot' });
      expect(stream.events.map((e) => e.type)).toEqual(['status', 'message']);
      expect(stream.frames).toEqual([2]);
      expect(counted.writes).toBe(1);
    } finally {
      stream.close();
    }
  });
});
