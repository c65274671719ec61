import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { createMockClock } from '@chatd/clock';
import { chatEventChannel, chatStreamNotifyChannel, createMemoryPubSub, decodeChatEvent, decodeChatStreamNotify, type ChatEvent, type ChatStreamNotifyMessage } from '@chatd/pubsub';
import { createChatd } from '../src/create-chatd.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { text } from './helpers/store-fixture.js';

const silent = pino({ level: 'silent' });

describe('createChatd', () => {
  describe('on an empty database', () => {
    const db = useTestDatabase();

    it('migrates when asked, seeds the default model config, wires the stores and closes once', async () => {
      const chatd = await createChatd({ config: { databaseUrl: db.url }, migrate: true, clock: createMockClock(), logger: silent, replicaId: 'replica-1' });
      try {
        expect(chatd.replicaId).toBe('replica-1');
        expect(chatd.config.staleAfterMs).toBe(300_000);
        const def = (await chatd.modelConfigs.getDefaultModelConfig())!;
        expect(def).toMatchObject({ provider: 'demo', model: 'demo' });
        const { user } = await chatd.identity.ensureUser({ username: 'zoe' });
        const { chat } = await chatd.chats.createChat({ ownerId: user.id, content: text('hello chatd') });
        expect(chat.last_model_config_id).toBe(def.id);
        // A change made through this replica drops its own cache at once.
        expect((await chatd.configCache.getDefaultModelConfig())!.display_name).toBe('Demo');
        await chatd.modelConfigs.updateModelConfig(def.id, { displayName: 'Demo 2' });
        expect((await chatd.configCache.getDefaultModelConfig())!.display_name).toBe('Demo 2');
      } finally {
        await chatd.close();
        await chatd.close();
      }
      expect(chatd.pool.totalCount).toBe(0);
    });
  });

  describe('with its own pool and pubsub', () => {
    const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });

    it('needs no DATABASE_URL and leaves the given pool and pubsub open', async () => {
      const pool = new pg.Pool({ connectionString: db.url, max: 4 });
      const pubsub = createMemoryPubSub();
      const saved = process.env.DATABASE_URL;
      delete process.env.DATABASE_URL;
      try {
        const chatd = await createChatd({ pool, pubsub, logger: silent, clock: createMockClock() });
        expect(chatd.pool).toBe(pool);
        expect((await chatd.modelConfigs.listModelConfigs()).length).toBe(1);
        await chatd.close();
        expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await pubsub.publish('still-open', 'x');
      } finally {
        if (saved !== undefined) process.env.DATABASE_URL = saved;
        await pool.end();
        await pubsub.close();
      }
    });

    it('can NOTIFY status changes inside their transactions, in commit order', async () => {
      const chatd = await createChatd({ config: { databaseUrl: db.url }, notifyStatusInTransaction: true, logger: silent, clock: createMockClock() });
      try {
        const { user } = await chatd.identity.ensureUser({ username: 'yann' });
        const { chat } = await chatd.chats.createChat({ ownerId: user.id, content: text('hi') });
        const seen: ChatStreamNotifyMessage[] = [];
        await chatd.pubsub.subscribe(chatStreamNotifyChannel(chat.id), (msg) => {
          if (msg) seen.push(decodeChatStreamNotify(msg));
        });
        const [acquired] = await chatd.chats.acquireChats('w-1', 50).then((all) => all.filter((a) => a.chat.id === chat.id));
        expect(acquired!.change.statusNotified).toBe(true);
        const done = await chatd.chats.finishRun({ chatId: chat.id, runId: acquired!.runId, outcome: 'finished' });
        expect(done.statusNotified).toBe(true);
        await waitFor(() => seen.length >= 2, { timeoutMs: 5000 });
        expect(seen).toEqual([{ status: 'running', worker_id: 'w-1', run_id: acquired!.runId }, { status: 'waiting' }]);
      } finally {
        await chatd.close();
      }
    });

    it('an error status whose ChatEvent is over the NOTIFY limit commits and notifies a truncated status_change (contract.md#oversized-events)', async () => {
      const chatd = await createChatd({ config: { databaseUrl: db.url }, notifyStatusInTransaction: true, logger: silent, clock: createMockClock() });
      try {
        const { user } = await chatd.identity.ensureUser({ username: 'xena' });
        const { chat } = await chatd.chats.createChat({ ownerId: user.id, content: text('hi') });
        const seen: ChatEvent[] = [];
        await chatd.pubsub.subscribe(chatEventChannel(user.id), (msg) => {
          if (msg) seen.push(decodeChatEvent(msg));
        });
        const [acquired] = await chatd.chats.acquireChats('w-1', 50).then((all) => all.filter((a) => a.chat.id === chat.id));
        // Before the rule, NOTIFY refused the payload inside the transaction and the run could not end.
        const error = { message: 'provider said no', detail: 'd'.repeat(9000) };
        const done = await chatd.chats.finishRun({ chatId: chat.id, runId: acquired!.runId, outcome: 'failed', error });
        expect(done.chat.status).toBe('error');
        expect((await chatd.chats.getChat(chat.id))!.last_error).toEqual(error);
        await waitFor(() => seen.some((e) => e.chat.status === 'error'), { timeoutMs: 5000 });
        expect(seen.at(-1)).toEqual({ kind: 'status_change', chat: { id: chat.id, owner_id: user.id, status: 'error', title: chat.title, updated_at: done.chat.updated_at }, truncated: true });
      } finally {
        await chatd.close();
      }
    });
  });
});
