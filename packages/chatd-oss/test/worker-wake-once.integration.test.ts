// A run's end that leaves its chat pending (a queued message promoted) wakes the worker twice: through the
// publisher's `onPending` (as start-chatd-server wires it) and by the run itself, which a worker whose publisher
// has no `onPending` needs. Both wakes are one acquisition pass, counted on real PostgreSQL by the pass's probe
// statement; the second pass used to find nothing. A worker without `onPending` still takes the chat.
import { createMockClock } from '@chatd/clock';
import { createMemoryPubSub } from '@chatd/pubsub';
import { afterEach, describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore } from '../src/store/chat-store.js';
import { createChatWorker, type ChatWorker } from '../src/worker/chat-worker.js';
import { recordStatements, restoreStatements } from './helpers/record-statements.js';
import { createGateModel, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
afterEach(restoreStatements);

const isProbe = (sql: string) => /^SELECT EXISTS \(SELECT 1 FROM chats WHERE status = 'pending'/.test(sql);

async function queuedTurn(wakeOnPending: boolean) {
  const clock = createMockClock();
  const pubsub = createMemoryPubSub();
  const store = createChatStore({ pool: bed.pool, clock });
  const gate = createGateModel(['first'], [' reply']);
  let worker: ChatWorker | undefined;
  const publisher = createChatPublisher({ pubsub, clock, ...(wakeOnPending ? { onPending: () => worker?.wake() } : {}) });
  // The acquisition tick is ten minutes on a clock nobody advances: only wakes start passes here.
  worker = createChatWorker({ store, pubsub, publisher, live: createLiveStreams(), clock, workerId: `worker-wake-${wakeOnPending}`, model: gate.provider, acquireIntervalMs: 600_000 });
  const w = worker;
  bed.workers.push(w);
  w.start();
  await w.idle();
  const created = await store.createChat({ ownerId: bed.ownerId, content: [{ type: 'text', text: 'first' }] });
  const firstEnd = w.waitForRunEnd(created.chat.id);
  if (wakeOnPending) await publisher.publishChange(created.change);
  else w.wake();
  await gate.atGate;
  const sent = await store.sendMessage({ chatId: created.chat.id, content: [{ type: 'text', text: 'second' }] });
  expect(sent.queued).toBe(true);
  await publisher.publishChange(sent.change);
  const recording = recordStatements();
  gate.release();
  expect((await firstEnd).status).toBe('pending');
  expect((await w.waitForRunEnd(created.chat.id)).outcome).toBe('finished');
  await w.idle();
  const statements = recording.stop();
  return { probes: statements.filter(isProbe).length, worker: w };
}

describe("a run's end that leaves its chat pending", () => {
  it('wakes one acquisition pass when the publisher wakes the worker too', async () => {
    const { probes, worker } = await queuedTurn(true);
    expect(probes).toBe(1);
    expect(worker.metrics().runsEnded.finished).toBe(2);
  });

  it('still wakes the worker whose publisher does not', async () => {
    const { probes, worker } = await queuedTurn(false);
    expect(probes).toBe(1);
    expect(worker.metrics().runsEnded.finished).toBe(2);
  });
});
