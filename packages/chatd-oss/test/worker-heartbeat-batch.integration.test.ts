// The worker refreshes the heartbeats of all its runs with one statement per tick (issue 36): with a thousand runs,
// one UPDATE per run held the pool's connections for the whole tick, ahead of creates and stream opens. Counted on
// real PostgreSQL, ticks driven by the mock clock.
import { createMockClock } from '@chatd/clock';
import { createMemoryPubSub } from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createChatStore } from '../src/store/chat-store.js';
import { HEARTBEAT_TIMER_TAG, createChatWorker, type ChatWorker } from '../src/worker/chat-worker.js';
import { createGateModel, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(12);
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

const text = (t: string) => ({ type: 'text' as const, text: t });
const HEARTBEAT_INTERVAL_MS = 30_000;

// Every statement of every `pg` client of this process passes here; only the heartbeat UPDATEs are kept.
const clientQuery = pg.Client.prototype.query;
let heartbeatStatements = 0;
beforeEach(() => {
  heartbeatStatements = 0;
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    const sql = typeof first === 'string' ? first : typeof (first as { text?: unknown })?.text === 'string' ? (first as { text: string }).text : '';
    if (/^UPDATE chats\b[^;]*\bSET heartbeat_at\b/i.test(sql.replace(/\s+/g, ' ').trim())) heartbeatStatements++;
    return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  };
});
afterEach(() => {
  pg.Client.prototype.query = clientQuery;
});

async function startWorkerWithRuns(n: number) {
  const clock = createMockClock();
  // Room for every run of the one test owner (the per-user running cap is 5 by default).
  const store = createChatStore({ pool, clock, maxRunningPerUser: 20 });
  const gate = createGateModel(['thinking'], [' done']);
  const created = [];
  for (let i = 0; i < n; i++) created.push(await store.createChat({ ownerId, content: [text(`run ${i}`)] }));
  const w: ChatWorker = createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-hb', model: gate.provider, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, acquireIntervalMs: 600_000, staleAfterMs: 600_000 });
  bed.workers.push(w);
  w.start();
  await waitFor(() => w.activeRuns().length === n, { what: `${n} runs` });
  return { clock, store, gate, w, created };
}

async function heartbeatsAt(chatIds: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; heartbeat_at: Date }>('SELECT id, heartbeat_at FROM chats WHERE id = ANY($1::uuid[])', [chatIds]);
  return new Map(rows.map((r) => [r.id, r.heartbeat_at.getTime()]));
}

describe('worker heartbeats (issue 36)', () => {
  it('one tick refreshes every run with one statement', async () => {
    const { clock, gate, w, created } = await startWorkerWithRuns(8);
    const ids = created.map((c) => c.chat.id);
    heartbeatStatements = 0;
    const hb = await clock.waitForTimer({ tag: HEARTBEAT_TIMER_TAG });
    await clock.advance(hb.dueAtMs - clock.nowMs());
    const due = clock.nowMs();
    await waitFor(async () => [...(await heartbeatsAt(ids)).values()].every((t) => t === due), { what: 'every heartbeat refreshed' });
    expect(heartbeatStatements).toBe(1);
    expect(w.metrics()).toMatchObject({ heartbeatFailures: 0, heartbeatsLost: 0, activeRuns: 8 });
    gate.release();
  });

  it('a run whose chat was taken is cancelled; the others of the same statement keep running', async () => {
    const { clock, store, gate, w, created } = await startWorkerWithRuns(3);
    const [taken, ...kept] = created;
    const ends = created.map((c) => w.waitForRunEnd(c.chat.id));
    // An edit elsewhere takes the first chat (its run is fenced); this worker hears nothing but its heartbeat.
    await store.editMessage({ chatId: taken!.chat.id, messageId: taken!.message.id, content: [text('edited')] });
    heartbeatStatements = 0;
    const hb = await clock.waitForTimer({ tag: HEARTBEAT_TIMER_TAG });
    await clock.advance(hb.dueAtMs - clock.nowMs());
    const result = await ends[0]!;
    expect(result.cancelReason).toBe('taken');
    expect(heartbeatStatements).toBe(1);
    expect(w.metrics().heartbeatsLost).toBe(1);
    const beats = await heartbeatsAt(kept.map((c) => c.chat.id));
    for (const c of kept) expect(beats.get(c.chat.id)).toBe(hb.dueAtMs);
    expect(w.activeRuns().map((r) => r.chatId).sort()).toEqual(kept.map((c) => c.chat.id).sort());
    gate.release();
    for (const end of ends.slice(1)) expect((await end).outcome).toBe('finished');
  });
});
