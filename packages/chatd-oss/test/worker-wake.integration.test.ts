// A change published on a replica that leaves a chat `pending` wakes that replica's worker, and a replica without
// a worker wakes the others' through a `chat:pending` hint (contract.md#acquisition): a new chat and a new turn
// start at once, not at the next acquisition tick. The workers here tick once an hour, so without the wake no chat
// would be answered within the deadline.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const replicas: RunningChatd[] = [];
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((r) => r.close()));
});

const HOUR_MS = 3_600_000;

describe('the worker wakes on a pending change of its own replica', () => {
  it('answers a new chat and a follow-up message without waiting for the acquisition tick', async () => {
    const replica = await startTestReplica(db.url, { config: { databaseUrl: db.url, acquireIntervalMs: HOUR_MS, heartbeatIntervalMs: 1000, staleAfterMs: 5000 } });
    replicas.push(replica);
    const { token } = await userToken(replica, 'wake-user');
    const api = apiClient(replica.url, token);
    const assistantReplies = async (chatId: string) => {
      const r = await api('GET', `/${chatId}/messages`);
      return (r.body.messages as { role: string }[]).filter((m) => m.role === 'assistant').length;
    };
    const waitingWith = (chatId: string, replies: number, what: string) =>
      waitFor(
        async () => {
          const chat = await api('GET', `/${chatId}`);
          return chat.body.status === 'waiting' && (await assistantReplies(chatId)) === replies;
        },
        { timeoutMs: 30_000, intervalMs: 50, what },
      );

    const created = await api('POST', '', { content: [{ type: 'text', text: 'hello' }] });
    expect(created.status).toBe(201);
    await waitingWith(created.body.id, 1, 'the first reply');

    const sent = await api('POST', `/${created.body.id}/messages`, { content: [{ type: 'text', text: 'and again' }] });
    expect(sent.status).toBeLessThan(300);
    await waitingWith(created.body.id, 2, 'the second reply');
  }, 90_000);

  it('answers a chat created on a replica without a worker through the pending hint', async () => {
    const config = { databaseUrl: db.url, acquireIntervalMs: HOUR_MS, heartbeatIntervalMs: 1000, staleAfterMs: 5000 };
    const generator = await startTestReplica(db.url, { config });
    replicas.push(generator);
    const edge = await startTestReplica(db.url, { config: { ...config, worker: false } });
    replicas.push(edge);
    const { token } = await userToken(edge, 'hint-user');
    const api = apiClient(edge.url, token);
    const replies = async (chatId: string) => ((await api('GET', `/${chatId}/messages`)).body.messages as { role: string }[]).filter((m) => m.role === 'assistant').length;
    const waitingWith = (chatId: string, n: number, what: string) =>
      waitFor(async () => (await api('GET', `/${chatId}`)).body.status === 'waiting' && (await replies(chatId)) === n, { timeoutMs: 30_000, intervalMs: 50, what });

    const created = await api('POST', '', { content: [{ type: 'text', text: 'hello from the edge' }] });
    expect(created.status).toBe(201);
    await waitingWith(created.body.id, 1, 'the first reply, generated on the other replica');

    const sent = await api('POST', `/${created.body.id}/messages`, { content: [{ type: 'text', text: 'and again' }] });
    expect(sent.status).toBeLessThan(300);
    await waitingWith(created.body.id, 2, 'the second reply');
  }, 90_000);
});
