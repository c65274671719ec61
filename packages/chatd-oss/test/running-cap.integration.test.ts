// The per-user concurrency cap (issue 33, contract.md#cost) on real PostgreSQL: two workers (two replicas' workers
// on one database), 20 users with 10 chats each, all pending at once. A trigger records every acquisition inside
// its transaction: how many of the owner's chats run after it (never more than the cap), and how many of the owner's
// chats that became pending earlier are still pending (none: each user's chats start in pending order). Chats left
// waiting for a slot show `queued_for_capacity: true`.
import { createRealClock, createMockClock } from '@chatd/clock';
import { createMemoryPubSub } from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { createTestModel, finishPart, textDelta } from './helpers/test-models.js';
import { seedOwner, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(20);
let pool: pg.Pool;
beforeAll(async () => {
  pool = bed.pool;
  await pool.query(`
    CREATE TABLE test_acquisitions (seq bigserial PRIMARY KEY, chat_id uuid, owner_id uuid, running_after int, earlier_pending int);
    CREATE FUNCTION test_record_acquisition() RETURNS trigger AS $$
    BEGIN
      INSERT INTO test_acquisitions (chat_id, owner_id, running_after, earlier_pending) VALUES (NEW.id, NEW.owner_id,
        (SELECT count(*) FROM chats WHERE owner_id = NEW.owner_id AND status = 'running'),
        (SELECT count(*) FROM chats WHERE owner_id = NEW.owner_id AND status = 'pending' AND (updated_at, id) < (OLD.updated_at, OLD.id)));
      RETURN NULL;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER test_record_acquisition AFTER UPDATE OF status ON chats FOR EACH ROW
      WHEN (OLD.status = 'pending' AND NEW.status = 'running') EXECUTE FUNCTION test_record_acquisition();`);
});
afterAll(async () => {
  await pool.query('DROP TRIGGER IF EXISTS test_record_acquisition ON chats; DROP FUNCTION IF EXISTS test_record_acquisition(); DROP TABLE IF EXISTS test_acquisitions');
});

const USERS = 20;
const CHATS_PER_USER = 10;
const CAP = 3;
/** How long each reply takes on the real clock: long enough that a user's runs overlap and the cap binds. */
const REPLY_MS = 15;

const text = (t: string) => ({ type: 'text' as const, text: t });

function startWorker(workerId: string) {
  const clock = createRealClock();
  const store = createChatStore({ pool, clock, maxRunningPerUser: CAP });
  const pubsub = createMemoryPubSub();
  const model = createTestModel('slow', async function* (call) {
    await clock.sleep(REPLY_MS, call.abortSignal);
    yield textDelta('ok');
    yield finishPart();
  });
  const worker = createChatWorker({ store, pubsub, live: createLiveStreams(), clock, publisher: createChatPublisher({ pubsub, clock }), workerId, model, acquireIntervalMs: 20 });
  bed.workers.push(worker);
  return worker;
}

describe('running cap per user', () => {
  it(`two workers, ${USERS} users x ${CHATS_PER_USER} chats at once: never more than ${CAP} running per user, and each user's chats start in pending order`, async () => {
    const owners = await Promise.all(Array.from({ length: USERS }, () => seedOwner(pool)));
    const store = createChatStore({ pool, clock: createRealClock(), maxRunningPerUser: CAP });
    // Every user sends ten at once (each a new chat).
    await Promise.all(owners.flatMap((ownerId, u) => Array.from({ length: CHATS_PER_USER }, (_, i) => store.createChat({ ownerId, content: [text(`u${u} m${i}`)] }))));
    const workers = [startWorker('replica-a'), startWorker('replica-b')];
    for (const w of workers) w.start();
    await waitFor(
      async () => {
        const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM chats WHERE status = 'waiting'");
        return Number(rows[0]!.n) === USERS * CHATS_PER_USER;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: 'every chat answered' },
    );
    const { rows } = await pool.query<{ chat_id: string; owner_id: string; running_after: number; earlier_pending: number }>('SELECT * FROM test_acquisitions ORDER BY seq');
    expect(rows).toHaveLength(USERS * CHATS_PER_USER);
    expect(Math.max(...rows.map((r) => r.running_after))).toBeLessThanOrEqual(CAP);
    // The cap was reached (the test exercises it), and no acquisition jumped a user's line.
    expect(Math.max(...rows.map((r) => r.running_after))).toBe(CAP);
    expect(rows.filter((r) => r.earlier_pending > 0)).toEqual([]);
    // Both replicas took part.
    const { rows: byWorker } = await pool.query<{ worker_id: string }>('SELECT DISTINCT worker_id FROM chat_runs');
    expect(byWorker.map((r) => r.worker_id).sort()).toEqual(['replica-a', 'replica-b']);
  });

  it('chats waiting for their owner\'s slot show queued_for_capacity: true; the others do not', async () => {
    const ownerId = await seedOwner(pool);
    const clock = createMockClock();
    const store: ChatStore = createChatStore({ pool, clock, maxRunningPerUser: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await store.createChat({ ownerId, content: [text(`m${i}`)] })).chat.id);
      await clock.advance(1);
    }
    const acquired = await store.acquireChats('replica-a', 10);
    expect(acquired.map((a) => a.chat.id)).toEqual(ids.slice(0, 2));
    const chats = await Promise.all(ids.map((id) => store.getChat(id)));
    expect(chats.map((c) => c?.status)).toEqual(['running', 'running', 'pending', 'pending']);
    expect(chats.map((c) => c?.queued_for_capacity ?? false)).toEqual([false, false, true, true]);
    // A slot frees: the oldest waiting chat starts and stops saying it waits for capacity.
    await store.finishRun({ chatId: ids[0]!, runId: acquired[0]!.runId, outcome: 'finished' });
    const next = await store.acquireChats('replica-b', 10);
    expect(next.map((a) => a.chat.id)).toEqual([ids[2]]);
    expect(next[0]!.chat.queued_for_capacity).toBeUndefined();
    expect((await store.getChat(ids[3]!))?.queued_for_capacity).toBe(true);
  });
});
