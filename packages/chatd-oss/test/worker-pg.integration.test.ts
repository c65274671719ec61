import { createMockClock } from '@chatd/clock';
import { partText } from '@chatd/protocol';
import { chatStreamNotifyChannel, createPgPubSub, type PgPubSub } from '@chatd/pubsub';
import { useTestDatabase } from '@chatd/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createDemoLanguageModel, demoReplyTokens } from '../src/model/demo-model.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createTransactionalStatusNotifier } from '../src/publish/status-notifier.js';
import { createChatStore } from '../src/store/chat-store.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { recordStream, seedOwner, streamTokens } from './helpers/worker-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const clock = createMockClock();
let pool: pg.Pool;
let pubsub: PgPubSub;
let ownerId: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 8 });
  pool.on('error', () => {});
  ownerId = await seedOwner(pool);
  pubsub = await createPgPubSub({ connectionString: db.url, clock, healthCheckIntervalMs: 0 });
});
afterAll(async () => {
  await pubsub.close();
  await pool.end();
});

const text = (t: string) => ({ type: 'text' as const, text: t });

describe('chat worker on PostgreSQL pubsub with statuses notified in the transaction', () => {
  it('an interrupt-send hands over to the queued message with no waiting in between', async () => {
    const store = createChatStore({ pool, clock, notifyStatusInTransaction: createTransactionalStatusNotifier() });
    const publisher = createChatPublisher({ pubsub, clock });
    const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 4 });
    const worker = createChatWorker({ store, pubsub, publisher, live: createLiveStreams(), clock, workerId: 'pg-worker', model: demo });
    try {
      const { chat } = await store.createChat({ ownerId, content: [text('over postgres')] });
      const stream = await recordStream(pubsub, chatStreamNotifyChannel(chat.id));
      const first = worker.waitForRunEnd(chat.id);
      worker.start();
      await streamTokens(clock, 2);
      await clock.waitForTimer({ tag: 'demo-token' });
      const sent = await store.sendMessage({ chatId: chat.id, content: [text('and then')], busyBehavior: 'interrupt' });
      expect(sent.change.statusNotified).toBe(true);
      await publisher.publishChange(sent.change);
      expect((await first).outcome).toBe('interrupted');
      const second = worker.waitForRunEnd(chat.id);
      await streamTokens(clock, 4);
      expect((await second).outcome).toBe('finished');

      await stream.until((n) => n.some((x) => x.status === 'waiting'), 'final waiting');
      expect(stream.statuses()).toEqual(['running', 'pending', 'running', 'waiting']);
      // Each `running` names its run (issue 36: subscribers then trust that run's relayed parts without a lookup).
      const runIds = stream.notes.filter((n) => n.status === 'running').map((n) => n.run_id);
      expect(runIds).toHaveLength(2);
      expect(new Set(runIds).size).toBe(2);
      for (const runId of runIds) expect(await store.getRun(runId!)).toMatchObject({ chatId: chat.id });
      expect(stream.notes.filter((n) => n.status !== undefined && n.status !== 'running').every((n) => n.run_id === undefined)).toBe(true);
      const history = [...(await store.listMessages({ chatId: chat.id })).messages].reverse();
      expect(history.map((m) => partText(m.content?.[0]))).toEqual([
        'over postgres',
        demoReplyTokens('over postgres', 4).slice(0, 2).join(''),
        'and then',
        demoReplyTokens('and then', 4).join(''),
      ]);
    } finally {
      await worker.stop();
    }
  });
});
