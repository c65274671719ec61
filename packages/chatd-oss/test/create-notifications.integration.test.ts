// POST /chats publishes only what someone can hear (issue 36, contract.md#publishing): the owner's `status_change`
// and `created` ChatEvents, no `chat:stream:<id>` hints for a chat whose id nobody knew before the answer. A watch of
// the owner's chats still gets both events, and a stream opened afterwards still holds the message and the status.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { chatEventChannel, chatEventSchema, decodeChatEvent, type ChatEvent } from '@chatd/pubsub';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, hasStatus, openStream, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

let replica: RunningChatd;

beforeAll(async () => {
  // No worker: nothing but the create publishes while the test counts.
  replica = await startTestReplica(db.url, { config: { databaseUrl: db.url, worker: false } });
});

afterAll(async () => {
  await replica?.close();
});

describe('POST /chats notifications', () => {
  it('sends no stream hints for a new chat: 3 NOTIFYs per create on a replica without a worker, and the owner watch still gets created', async () => {
    const { token, userId } = await userToken(replica, 'creator');
    const events: ChatEvent[] = [];
    const unsubscribe = await replica.chatd.pubsub.subscribe(chatEventChannel(userId), (m) => {
      if (m) events.push(decodeChatEvent(m));
    });
    const call = apiClient(replica.url, token);
    // The chats the store builds take @chatd/pubsub's hand-written parse, encoding and decoding: zod is not run.
    const zodParse = vi.spyOn(chatEventSchema, 'safeParse');
    const CREATES = 5;
    // The PostgreSQL pubsub counts every notification it sends (a batch counts each of its NOTIFYs).
    const published = () => replica.chatd.pubsub.metrics!().published;
    const before = published();
    const ids: string[] = [];
    for (let i = 0; i < CREATES; i++) {
      const res = await call('POST', '', { content: [{ type: 'text', text: `hello ${i}` }] });
      expect(res.status).toBe(201);
      ids.push(res.body.id as string);
    }
    // Each create's notifications are sent before its answer: the two ChatEvents and, this replica having no worker, the
    // `chat:pending` hint (contract.md#acquisition): 3 each (before issue 36's fourth pass: 5, with two stream hints).
    expect(published() - before).toBe(3 * CREATES);
    await waitFor(() => events.length >= 2 * CREATES, { timeoutMs: 10_000 });
    expect(events.map((e) => [e.kind, e.chat.id, e.chat.status])).toEqual(ids.flatMap((id) => [['status_change', id, 'pending'], ['created', id, 'pending']]));
    await unsubscribe();
    expect(zodParse).not.toHaveBeenCalled();
    zodParse.mockRestore();

    // A stream opened afterwards reads the message and the status in its snapshot: the hints were never needed.
    const stream = openStream(replica.url, ids[0]!, token);
    try {
      await stream.until((evs) => hasStatus(evs, 'pending') && evs.some((e) => e.type === 'message'), 'the snapshot');
    } finally {
      stream.close();
    }
  });
});
