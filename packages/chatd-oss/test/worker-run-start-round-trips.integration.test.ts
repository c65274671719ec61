// PostgreSQL round trips of the worker (issue 36), counted on real PostgreSQL: a run's start, from the worker's start
// to the model's first call, with compaction on (its request is read before each step): the acquisition reads the
// chat's client tools and compaction request with the chat, so the first step reads neither again. And an
// acquisition pass that finds nothing to do: one probe, not six round trips.
import { createMockClock } from '@chatd/clock';
import { createMemoryPubSub } from '@chatd/pubsub';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createChatStore, PREPARED } from '../src/store/chat-store.js';
import { createCostStore } from '../src/cost/cost-store.js';
import { createCompactionStore } from '../src/store/compaction-store.js';
import { createDeploymentConfigStore } from '../src/store/deployment-config-store.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { recordStatements, restoreStatements } from './helpers/record-statements.js';
import { createGateModel, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

/**
 * Statements from the worker's start to the model's first call (the memory pubsub sends none): stale recovery, the
 * pass's probe (anything pending? any client-call deadline passed?), the acquisition (BEGIN with the lock, take with
 * the capacity flags, COMMIT), the run's state check, the history. It was 11: the expired client calls were read on
 * every pass, and the chat's client tools and its compaction request each on their own; then 9: the lock and the
 * capacity flags were round trips of their own.
 */
const MAX_RUN_START_ROUND_TRIPS = 7;

afterEach(restoreStatements);

describe("a run's start (issue 36)", () => {
  it(`takes at most ${MAX_RUN_START_ROUND_TRIPS} statements and reads neither the client tools nor the compaction request again`, async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const gate = createGateModel(['thinking'], [' done']);
    const { chat } = await store.createChat({
      ownerId,
      content: [{ type: 'text', text: 'count my start' }],
      dynamicTools: [{ name: 'pick_color', description: 'Ask the user for a color.', input_schema: { type: 'object', properties: {} } }],
    });
    const w = createChatWorker({
      store,
      pubsub: createMemoryPubSub(),
      live: createLiveStreams(),
      clock,
      workerId: 'worker-rt',
      model: gate.provider,
      acquireIntervalMs: 600_000,
      compaction: { store: createCompactionStore({ pool, clock }), deploymentConfig: createDeploymentConfigStore({ pool, clock }) },
    });
    bed.workers.push(w);
    const end = w.waitForRunEnd(chat.id);
    const recording = recordStatements();
    w.start();
    await gate.atGate;
    const sent = recording.stop();
    console.log(`run start: ${sent.length} round trips\n  ${sent.map((s) => s.slice(0, 120)).join('\n  ')}`);
    expect(sent.filter((s) => /^SELECT dynamic_tools\b/i.test(s))).toEqual([]);
    expect(sent.filter((s) => /^SELECT compact_request\b/i.test(s))).toEqual([]);
    expect(sent.length).toBeLessThanOrEqual(MAX_RUN_START_ROUND_TRIPS);
    gate.release();
    expect((await end).outcome).toBe('finished');
  });

  it('an acquisition pass that takes chats is the probe and three statements, however many it takes', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock, maxRunningPerUser: 2 });
    const w = createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-take', model: createGateModel([], []).provider, acquireIntervalMs: 600_000 });
    bed.workers.push(w);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await store.createChat({ ownerId, content: [{ type: 'text', text: `take ${i}` }] })).chat.id);
    const recording = recordStatements();
    expect(await w.acquireNow()).toBe(2);
    const sent = recording.stop();
    console.log(`taking pass: ${sent.length} round trips\n  ${sent.map((s) => s.slice(0, 120)).join('\n  ')}`);
    // The probe; BEGIN with the lock; the take with the capacity flags; COMMIT. The runs' own reads start later.
    expect(sent.filter((s) => !/^SELECT status, worker_id, run_id FROM chats\b/.test(s) && !/^WITH s AS/.test(s))).toHaveLength(4);
    expect(sent.filter((s) => /pg_advisory_xact_lock/.test(s))).toEqual([expect.stringMatching(/^BEGIN; SELECT pg_advisory_xact_lock\(\d+\)$/)]);
    // The chat left waits for its owner's slot and says so; the two taken do not.
    const { rows } = await pool.query<{ status: string; queued_for_capacity: boolean }>('SELECT status, queued_for_capacity FROM chats WHERE id = ANY ($1::uuid[]) ORDER BY status', [ids]);
    expect(rows).toEqual([
      { status: 'pending', queued_for_capacity: true },
      { status: 'running', queued_for_capacity: false },
      { status: 'running', queued_for_capacity: false },
    ]);
  });

  it('the runs one pass starts check their run state in one statement, not one each', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const gate = createGateModel([], [' done']);
    gate.release();
    const w = createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-states', model: gate.provider, acquireIntervalMs: 600_000 });
    bed.workers.push(w);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await store.createChat({ ownerId, content: [{ type: 'text', text: `state ${i}` }] })).chat.id);
    const recording = recordStatements();
    expect(await w.acquireNow()).toBe(5);
    await w.idle();
    const sent = recording.stop();
    const stateReads = sent.filter((s) => /^SELECT (id, )?status, worker_id, run_id FROM chats\b/.test(s));
    console.log(`state reads of 5 runs: ${stateReads.length}\n  ${stateReads.join('\n  ')}`);
    expect(stateReads).toEqual(['SELECT id, status, worker_id, run_id FROM chats WHERE id = ANY ($1::uuid[])']);
    expect(w.metrics().runsEnded.finished).toBe(5);
  });

  it("the runs of one owner started together share their spend-limit reads", async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock, maxRunningPerUser: 100 });
    const costs = createCostStore({ pool, clock });
    await costs.setSpendLimit(ownerId, 'day', 1_000_000);
    const gate = createGateModel([], [' done']);
    gate.release();
    const w = createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-spend', model: gate.provider, acquireIntervalMs: 600_000, costs });
    bed.workers.push(w);
    for (let i = 0; i < 8; i++) await store.createChat({ ownerId, content: [{ type: 'text', text: `spend ${i}` }] });
    const recording = recordStatements();
    expect(await w.acquireNow()).toBe(8);
    await w.idle();
    const sent = recording.stop();
    await costs.clearSpendLimit(ownerId);
    // One step each, so eight checks: they used to be eight reads of the limit (and eight sums of the ledger); now
    // 2-4 here, as the runs reach their step (at most one read per owner in flight, the checks meanwhile share the next).
    const limitReads = sent.filter((s) => /FROM chat_spend_limits WHERE user_id/.test(s)).length;
    console.log(`spend-limit reads of 8 runs: ${limitReads}`);
    expect(limitReads).toBeGreaterThanOrEqual(1);
    expect(limitReads).toBeLessThanOrEqual(6);
    expect(w.metrics().runsEnded.finished).toBe(8);
  });

  it("the worker's statements of every run and pass are prepared once per connection, and keep working past the plan cache's switch", async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const gate = createGateModel([], [' done']);
    gate.release();
    const w = createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-named', model: gate.provider, acquireIntervalMs: 600_000 });
    bed.workers.push(w);
    w.start();
    await w.idle();
    const recording = recordStatements();
    // Past five executions on a connection PostgreSQL may switch a prepared statement to its generic plan.
    for (let i = 0; i < 8; i++) {
      const { chat } = await store.createChat({ ownerId, content: [{ type: 'text', text: `named ${i}` }] });
      expect(await w.acquireNow()).toBe(1);
      expect((await w.waitForRunEnd(chat.id)).outcome).toBe('finished');
      await w.heartbeatNow();
    }
    await w.idle();
    recording.stop();
    const named = (re: RegExp) => [...new Set([...recording.sent].filter((s) => re.test(s)).map((s) => recording.names.get(s)))];
    expect(named(/^SELECT EXISTS \(SELECT 1 FROM chats WHERE status = 'pending'/)).toEqual([PREPARED.probe]);
    expect(named(/^WITH ranked AS/)).toEqual([PREPARED.take]);
    expect(named(/^SELECT id, status, worker_id, run_id FROM chats WHERE id = ANY/)).toEqual([PREPARED.runStates]);
    expect(named(/^WITH s AS/)).toEqual([PREPARED.modelHistory]);
    expect(w.metrics().runsEnded.finished).toBe(8);
    expect(w.metrics().acquireFailures).toBe(0);
  });

  it('an acquisition pass with nothing to do is one statement', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const w = createChatWorker({ store, pubsub: createMemoryPubSub(), live: createLiveStreams(), clock, workerId: 'worker-idle', model: createGateModel([], []).provider, acquireIntervalMs: 600_000 });
    bed.workers.push(w);
    // A chat that is not pending (its run ended elsewhere) and one archived while pending: neither is work.
    const { chat: waiting } = await store.createChat({ ownerId, content: [{ type: 'text', text: 'done' }] });
    await pool.query(`UPDATE chats SET status = 'waiting' WHERE id = $1`, [waiting.id]);
    const { chat: archived } = await store.createChat({ ownerId, content: [{ type: 'text', text: 'archived' }] });
    await pool.query('UPDATE chats SET archived = true WHERE id = $1', [archived.id]);
    const recording = recordStatements();
    expect(await w.acquireNow()).toBe(0);
    const sent = recording.stop();
    console.log(`idle pass: ${sent.length} round trips\n  ${sent.map((s) => s.slice(0, 120)).join('\n  ')}`);
    expect(sent).toHaveLength(1);
    expect(w.metrics().acquireFailures).toBe(0);
    // Work appears: the next pass takes it.
    await pool.query(`UPDATE chats SET status = 'pending' WHERE id = $1`, [waiting.id]);
    expect(await w.acquireNow()).toBe(1);
  });
});
