// Random sequences of store operations (fast-check) on real PostgreSQL, checking after every step the
// invariants the transitions of contract.md#statuses rely on: a running chat has a worker and exactly
// one open run; a pending chat has none; a queue is never stranded on an idle chat; a refused (fenced)
// write changes nothing.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { ChatdError } from '../src/chatd-error.js';
import type { User } from '../src/identity/identity-store.js';
import { createStoreFixture, ensureModel, makeUser, parkPendingChats, text, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
let f: StoreFixture;
let user: User;

beforeAll(async () => {
  f = createStoreFixture(db.url, { maxQueueSize: 3 });
  await ensureModel(f);
  user = await makeUser(f);
});
afterAll(async () => {
  await f.close();
});

type Op =
  | { kind: 'acquire' }
  | { kind: 'send'; interrupt: boolean }
  | { kind: 'interrupt' }
  | { kind: 'persist'; stale: boolean }
  | { kind: 'finish'; outcome: 'finished' | 'interrupted' | 'failed'; requeue: boolean; stale: boolean }
  | { kind: 'heartbeat' }
  | { kind: 'edit' }
  | { kind: 'promote' }
  | { kind: 'stale' };

// Sends and interrupts weigh more: their interleavings with running runs are where queues get stranded.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'acquire' as const }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('send' as const), interrupt: fc.boolean() }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'interrupt' as const }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('persist' as const), stale: fc.boolean() }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('finish' as const),
      outcome: fc.constantFrom('finished' as const, 'interrupted' as const, 'failed' as const),
      requeue: fc.boolean(),
      stale: fc.boolean(),
    }),
    weight: 3,
  },
  { arbitrary: fc.constant({ kind: 'heartbeat' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'edit' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'promote' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'stale' as const }), weight: 1 },
);

type Snapshot = { chat: Record<string, unknown>; messages: number; queue: number; runs: unknown[] };

async function snapshot(chatId: string): Promise<Snapshot> {
  const chat = (await f.pool.query('SELECT status, worker_id, run_id, heartbeat_at, last_error, updated_at FROM chats WHERE id = $1', [chatId])).rows[0];
  const messages = (await f.pool.query('SELECT count(*)::int AS n FROM chat_messages WHERE chat_id = $1', [chatId])).rows[0].n as number;
  const queue = (await f.pool.query('SELECT count(*)::int AS n FROM chat_queued_messages WHERE chat_id = $1', [chatId])).rows[0].n as number;
  const runs = (await f.pool.query('SELECT id, ended_at, outcome, message_ids FROM chat_runs WHERE chat_id = $1 ORDER BY started_at, id', [chatId])).rows;
  return { chat, messages, queue, runs };
}

function checkInvariants(s: Snapshot): void {
  const { status, worker_id: workerId, run_id: runId } = s.chat as { status: string; worker_id: string | null; run_id: string | null };
  const open = (s.runs as { id: string; ended_at: Date | null }[]).filter((r) => r.ended_at === null);
  if (status === 'running') {
    expect(workerId).not.toBeNull();
    expect(runId).not.toBeNull();
  } else {
    expect(workerId).toBeNull();
  }
  if (status === 'pending') expect(runId).toBeNull();
  // The chat's current run is the one open run; no other run is left open.
  expect(open.map((r) => r.id)).toEqual(runId === null ? [] : [runId]);
  // A queue always has someone to promote it: a live run, the next run, or (after an error) the user's next send.
  if (s.queue > 0) expect(runId !== null || status === 'pending' || status === 'error').toBe(true);
}

describe('store invariants under random operation sequences', () => {
  it('hold after every step, and refused writes change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        await parkPendingChats(f);
        const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('start') });
        const chatId = chat.id;
        let lastRun: string | undefined;
        let before = await snapshot(chatId);
        for (const op of ops) {
          const current = (before.chat as { run_id: string | null }).run_id;
          // A "stale" op uses a run that is not (or no longer) the chat's current one.
          const pickRun = (stale: boolean) => (stale ? (lastRun ?? '3b241101-e2bb-4255-8caf-4136c566a962') : (current ?? lastRun ?? '3b241101-e2bb-4255-8caf-4136c566a962'));
          try {
            switch (op.kind) {
              case 'acquire': {
                const got = await f.chats.acquireChats('w', 10);
                const mine = got.find((a) => a.chat.id === chatId);
                if (mine) lastRun = mine.runId;
                break;
              }
              case 'send':
                await f.chats.sendMessage({ chatId, content: text('more'), busyBehavior: op.interrupt ? 'interrupt' : 'queue' });
                break;
              case 'interrupt':
                await f.chats.interruptChat(chatId);
                break;
              case 'persist':
                await f.chats.persistMessage({ chatId, runId: pickRun(op.stale), role: 'assistant', content: text('reply') });
                break;
              case 'finish':
                await f.chats.finishRun({ chatId, runId: pickRun(op.stale), outcome: op.outcome, requeue: op.requeue, ...(op.outcome === 'failed' ? { error: { message: 'x' } } : {}) });
                break;
              case 'heartbeat': {
                const ok = await f.chats.heartbeat(chatId, pickRun(false));
                const st = before.chat as { status: string; run_id: string | null };
                expect(ok).toBe(st.status === 'running' && st.run_id !== null);
                break;
              }
              case 'edit': {
                const page = await f.chats.listMessages({ chatId });
                const firstUser = page.messages.filter((m) => m.role === 'user').at(-1);
                if (firstUser) await f.chats.editMessage({ chatId, messageId: firstUser.id, content: text('edited') });
                break;
              }
              case 'promote': {
                const q = await f.chats.getQueue(chatId);
                if (q[0]) await f.chats.promoteQueuedMessage({ chatId, queuedMessageId: q[0].id });
                break;
              }
              case 'stale':
                await f.clock.advance(10 * 60_000);
                await f.chats.recoverStaleChats(5 * 60_000);
                break;
            }
          } catch (err) {
            if (!(err instanceof ChatdError) || (err.code !== 'RUN_FENCED' && err.code !== 'QUEUE_FULL')) throw err;
            // A refused write leaves no trace.
            expect(await snapshot(chatId)).toEqual(before);
          }
          before = await snapshot(chatId);
          checkInvariants(before);
        }
      }),
      { numRuns: 25 },
    );
  });
});
