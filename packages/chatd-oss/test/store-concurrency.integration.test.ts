// Races on real PostgreSQL: concurrent acquirers (FOR UPDATE SKIP LOCKED) and seed 002's
// setChatWaiting / SendMessage(interrupt) race against a finishing run.
import { partText } from '@chatd/protocol';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { User } from '../src/identity/identity-store.js';
import { countRows, createStoreFixture, ensureModel, makeUser, parkPendingChats, runningChat, text, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
let a: StoreFixture;
let b: StoreFixture;
let user: User;

beforeAll(async () => {
  a = createStoreFixture(db.url);
  b = createStoreFixture(db.url);
  await ensureModel(a);
  user = await makeUser(a);
});
afterAll(async () => {
  await a.close();
  await b.close();
});
beforeEach(async () => {
  await parkPendingChats(a);
});

describe('acquireChats', () => {
  it('never gives the same chat to two concurrent acquirers', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 60; i++) ids.add((await a.chats.createChat({ ownerId: user.id, content: text(`c${i}`) })).chat.id);
    const take = async (f: StoreFixture, worker: string) => {
      const got: string[] = [];
      for (;;) {
        const batch = await f.chats.acquireChats(worker, 3);
        if (batch.length === 0) return got;
        got.push(...batch.map((x) => x.chat.id));
      }
    };
    const [x1, x2, y1, y2] = await Promise.all([take(a, 'A1'), take(a, 'A2'), take(b, 'B1'), take(b, 'B2')]);
    const all = [...x1, ...x2, ...y1, ...y2];
    expect(all.length).toBe(60);
    expect(new Set(all)).toEqual(ids);
    // Each chat has exactly one run, owned by the worker that got it.
    const { rows } = await a.pool.query<{ chat_id: string; n: number }>('SELECT chat_id, count(*)::int AS n FROM chat_runs GROUP BY chat_id HAVING count(*) > 1');
    expect(rows).toEqual([]);
    for (const [worker, got] of [['A1', x1], ['A2', x2], ['B1', y1], ['B2', y2]] as const) {
      for (const id of got) expect((await a.chats.getChatRunState(id))!.workerId).toBe(worker);
    }
  });
});

describe('seed 002: setChatWaiting vs a concurrent interrupt/send', () => {
  const ROUNDS = 25;

  it('a message sent with busy_behavior interrupt while the run finishes is never lost; the chat ends pending', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const { chatId, runId } = await runningChat(a, user, `w${i}`);
      await a.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('reply') });
      // The worker finishes on one pool while the user interrupts-and-sends on the other.
      const [finish, send] = await Promise.allSettled([
        a.chats.finishRun({ chatId, runId, outcome: 'finished' }),
        b.chats.sendMessage({ chatId, content: text(`urgent ${i}`), busyBehavior: 'interrupt' }),
      ]);
      expect(finish.status).toBe('fulfilled');
      expect(send.status).toBe('fulfilled');
      const chat = (await a.chats.getChat(chatId))!;
      expect(chat.status).toBe('pending');
      const page = await a.chats.listMessages({ chatId });
      expect(page.queued_messages).toEqual([]);
      expect(page.messages[0]!.content).toEqual(text(`urgent ${i}`));
      expect(page.messages[1]!.content).toEqual(text('reply'));
      expect(await a.chats.getRun(runId)).toMatchObject({ outcome: 'finished' });
      await parkPendingChats(a);
    }
  });

  it('POST /interrupt, a queued send and the run ending race without stranding the message in the queue', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const { chatId, runId } = await runningChat(a, user, `v${i}`);
      const [interrupt, send, finish] = await Promise.allSettled([
        b.chats.interruptChat(chatId),
        a.chats.sendMessage({ chatId, content: text(`next ${i}`) }),
        (async () => {
          // The worker's interrupted ending: persist the partial reply, then end the run.
          await b.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('partial') });
          return b.chats.finishRun({ chatId, runId, outcome: 'interrupted' });
        })(),
      ]);
      expect([interrupt.status, send.status, finish.status]).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      // Whatever the order, nothing is stranded: the queue is empty, the message is in history and the run
      // has ended. The chat is pending unless the interrupt was serialised last (then it stops everything).
      const chat = (await a.chats.getChat(chatId))!;
      expect(['pending', 'waiting']).toContain(chat.status);
      expect(chat.worker_id).toBeNull();
      expect(await countRows(a, 'chat_queued_messages', chatId)).toBe(0);
      const texts = (await a.chats.listMessages({ chatId })).messages.map((m) => partText(m.content![0]));
      expect(texts[0]).toBe(`next ${i}`);
      expect(texts).toContain('partial');
      expect((await a.chats.getChatRunState(chatId))!.runId).toBeNull();
      await parkPendingChats(a);
    }
  });

  it('stale recovery racing a slow worker\'s finish: exactly one of them wins', async () => {
    for (let i = 0; i < 15; i++) {
      const { chatId, runId } = await runningChat(a, user, `slow${i}`);
      await a.clock.advance(10 * 60_000);
      b.clock.set(a.clock.now());
      const [recovered, finish] = await Promise.allSettled([b.chats.recoverStaleChats(5 * 60_000), a.chats.finishRun({ chatId, runId, outcome: 'finished' })]);
      expect(recovered.status).toBe('fulfilled');
      const run = (await a.chats.getRun(runId))!;
      const chat = (await a.chats.getChat(chatId))!;
      if (finish.status === 'fulfilled') {
        expect(run.outcome).toBe('finished');
        expect(chat.status).toBe('waiting');
      } else {
        expect((finish.reason as { code?: string }).code).toBe('RUN_FENCED');
        expect(run.outcome).toBe('lost');
        expect(chat.status).toBe('pending');
      }
      expect((await a.chats.getChatRunState(chatId))!.runId).toBeNull();
      await parkPendingChats(a);
    }
  });
});

