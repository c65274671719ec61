// The part cursor's run_id is scoped to the chat (issue 22 item 7, contract.md#run-lost): another user's real run id
// gets exactly the answer of a never-seen UUID (a run_lost discontinuity), so a cursor reveals nothing about
// runs of other chats; a run_id that is no UUID is a 400 naming the field, before any upgrade.
import { randomUUID } from 'node:crypto';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import type { ChatStreamEvent } from '@chatd/protocol';
import { apiClient, hasStatus, openStream, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let alice: { token: string; userId: string };
let bob: { token: string; userId: string };

beforeAll(async () => {
  replica = await startTestReplica(db.url);
  alice = await userToken(replica, 'alice');
  bob = await userToken(replica, 'bob');
});
afterAll(async () => {
  await replica?.close();
});

const text = (t: string) => [{ type: 'text', text: t }];
const lastMessageId = (events: ChatStreamEvent[]) => events.flatMap((e) => (e.type === 'message' ? [e.message.id] : [])).at(-1);

/** Creates a chat for `token`, reads its whole reply; returns the chat, its run id and its newest message id. */
async function finishedChat(token: string, prompt: string) {
  const chatId = (await apiClient(replica.url, token)('POST', '', { content: text(prompt) })).body.id as string;
  const s = openStream(replica.url, chatId, token);
  await s.until((e) => hasStatus(e, 'waiting') && e.some((x) => x.type === 'message' && x.message.role === 'assistant'), 'the finished reply');
  // The run id from the reply's message, not from a part: a stream that opens after a fast run has ended holds no
  // parts, only the messages (each carries its run_id).
  const reply = s.events.find((e) => e.type === 'message' && e.message.role === 'assistant');
  s.close();
  const runId = reply?.type === 'message' ? reply.message.run_id : undefined;
  if (!runId) throw new Error('no run id on the reply');
  return { chatId, runId, lastId: lastMessageId(s.events)! };
}

describe('part cursor: run_id scoped to the chat', () => {
  it("another user's finished run id is answered exactly like a random UUID (run_lost)", async () => {
    const mine = await finishedChat(alice.token, 'alice asks');
    const theirs = await finishedChat(bob.token, 'bob asks');
    const snapshotFor = async (runId: string) => {
      const s = openStream(replica.url, mine.chatId, alice.token, `?after_id=${mine.lastId}&after_seq=3&run_id=${runId}`);
      await s.until((e) => e.length > 0, 'the snapshot');
      await waitFor(() => s.frames.length > 0, { what: 'the first frame' });
      const first = s.events.slice(0, s.frames[0]);
      s.close();
      return first;
    };
    const foreign = await snapshotFor(theirs.runId);
    const unknown = await snapshotFor(randomUUID());
    expect(foreign).toEqual(unknown);
    expect(unknown).toEqual([
      { type: 'status', chat_id: mine.chatId, status: { status: 'waiting' } },
      { type: 'discontinuity', chat_id: mine.chatId, discontinuity: { reason: 'run_lost', resync_after_id: Number(mine.lastId) } },
    ]);
    // The chat's own finished run, for contrast: no discontinuity (its message is the durable record).
    const own = await snapshotFor(mine.runId);
    expect(own).toEqual([{ type: 'status', chat_id: mine.chatId, status: { status: 'waiting' } }]);
  });

  it('a run_id that is no UUID is a 400 with validations before the upgrade', async () => {
    const { chatId } = await finishedChat(alice.token, 'validate me');
    for (const runId of ['x', 'run-1', `${randomUUID()}0`, encodeURIComponent("'; select 1 --")]) {
      const s = openStream(replica.url, chatId, alice.token, `?after_seq=1&run_id=${runId}`);
      await waitFor(() => s.unexpected, { what: `the answer to run_id=${runId}` });
      expect(s.unexpected?.status, runId).toBe(400);
      expect(JSON.parse(s.unexpected!.body), runId).toEqual({ message: 'Invalid run_id parameter.', validations: [{ field: 'run_id', detail: 'must be a UUID' }] });
    }
  });
});
