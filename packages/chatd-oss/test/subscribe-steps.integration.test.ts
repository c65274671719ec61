// Issue 26, subscribers settle per step (contract.md#steps): a client that reconnects mid-turn, while a server
// tool of the run's first step runs, gets the persisted step as a message and then exactly the run's later parts:
// no gap and no duplicate across steps, whether it held some parts of the step or already had its message.
import { createMockClock } from '@chatd/clock';
import type { ChatStreamEvent } from '@chatd/protocol';
import { createMemoryPubSub } from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore } from '../src/store/chat-store.js';
import { createChatSubscriber, type StreamSink } from '../src/subscribe/chat-subscriber.js';
import type { ServerTool } from '../src/tools/server-tool.js';
import { createToolRegistry } from '../src/tools/tool-registry.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { createTestModel, finishPart, textDelta, usage } from './helpers/test-models.js';
import { useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));
const logger = { debug() {}, info() {}, warn() {}, error() {} };

function collector() {
  const events: ChatStreamEvent[] = [];
  const sink: StreamSink = { push: (o) => events.push(o.event), end: () => {} };
  return {
    sink,
    events,
    partSeqs: () => events.flatMap((e) => (e.type === 'message_part' ? [e.message_part.seq] : [])),
    messages: () => events.flatMap((e) => (e.type === 'message' ? [e.message] : [])),
    /**
     * Walks the events in arrival order from cursor `from`: each part must be the next seq (no gap, no duplicate);
     * a step message moves the cursor to its `last_seq` (it stands for its parts, which it may overtake, as a
     * message read from the database after a NOTIFY can). Returns the cursor at the end, and the problems seen.
     */
    walk(from: number) {
      let pos = from;
      const problems: string[] = [];
      for (const e of events) {
        if (e.type === 'message_part') {
          if (e.message_part.seq !== pos + 1) problems.push(`part ${e.message_part.seq} after ${pos}`);
          pos = Math.max(pos, e.message_part.seq);
        } else if (e.type === 'message' && e.message.last_seq !== undefined) pos = Math.max(pos, e.message.last_seq);
      }
      return { pos, problems };
    },
  };
}

describe('subscribers settle per step', () => {
  it('a client reconnecting mid-turn with run_id/after_seq gets no gap and no duplicate across steps', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock, maxRunningPerUser: 1_000 });
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const publisher = createChatPublisher({ pubsub, clock });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const wait: ServerTool = {
      name: 'wait',
      inputSchema: z.object({}),
      async execute(_input, ctx) {
        started();
        ctx.emit('waiting...');
        await gate;
        return 'waited';
      },
    };
    const model = createTestModel('steps', async function* (call) {
      if (call.prompt.at(-1)?.role === 'tool') {
        for (const t of ['all ', 'done']) yield textDelta(t);
        yield finishPart('stop', usage(1, 2));
        return;
      }
      for (const t of ['a', 'b', 'c']) yield textDelta(t);
      const parts: LanguageModelV3StreamPart[] = [
        { type: 'tool-input-start', id: 'w1', toolName: 'wait' },
        { type: 'tool-input-delta', id: 'w1', delta: '{}' },
        { type: 'tool-call', toolCallId: 'w1', toolName: 'wait', input: '{}' },
        { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: usage(1, 1) },
      ];
      yield* parts;
    });
    const worker = createChatWorker({ store, pubsub, live, clock, publisher, workerId: 'replica-local', model, tools: createToolRegistry([wait], { clock }) });
    bed.workers.push(worker);
    const subscriber = createChatSubscriber({ store, pubsub, live, clock, logger, replicaId: () => 'replica-local' });

    const { chat, message: prompt } = await store.createChat({ ownerId, content: [{ type: 'text', text: 'go' }] });
    const chatId = chat.id;
    const fromStart = collector();
    await subscriber.subscribe(chatId, {}, fromStart.sink);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    await running;
    await waitFor(() => fromStart.partSeqs().length >= 6, { what: 'the first step and the result delta', timeoutMs: 10_000 });
    const step1 = (await store.messagesAfter(chatId, BigInt(prompt.id))).messages[0]!;
    expect(step1.role).toBe('assistant');
    const runId = step1.run_id!;
    const l1 = step1.last_seq!;
    expect(l1).toBe(5); // a b c, the args_delta, the complete call

    // Held parts 1..2 of step 1 (not its message), and a client that already had the step's message.
    const heldParts = collector();
    await subscriber.subscribe(chatId, { afterId: BigInt(prompt.id), runId, afterSeq: 2 }, heldParts.sink);
    const hadMessage = collector();
    await subscriber.subscribe(chatId, { afterId: BigInt(step1.id), runId, afterSeq: 1 }, hadMessage.sink);
    expect(heldParts.messages().map((m) => m.id)).toEqual([step1.id]);
    expect(hadMessage.messages()).toEqual([]);

    release();
    const result = await ended;
    expect(result.outcome).toBe('finished');
    const all = await store.messagesAfter(chatId, 0n);
    const last = all.messages.at(-1)!;
    for (const c of [fromStart, heldParts, hadMessage]) {
      await waitFor(() => c.messages().some((m) => m.id === last.id), { what: 'the reply message', timeoutMs: 10_000 });
    }
    const finalSeq = last.last_seq!;
    // Everything after the first step, once each and in order: the result delta, the result, the reply's parts;
    // a part may be stood for by its step's message when the message overtakes it (then it never comes later).
    for (const [c, from] of [
      [heldParts, 2],
      [hadMessage, l1],
      [fromStart, 0],
    ] as const) {
      expect(c.walk(from)).toEqual({ pos: finalSeq, problems: [] });
    }
    expect(heldParts.partSeqs().every((s, i, all) => s > l1 && (i === 0 || s > all[i - 1]!))).toBe(true);
    expect(hadMessage.partSeqs().every((s, i, all) => s > l1 && (i === 0 || s > all[i - 1]!))).toBe(true);
    expect(heldParts.partSeqs()[0]).toBe(l1 + 1);
    expect(hadMessage.partSeqs()[0]).toBe(l1 + 1);
    expect(heldParts.messages().map((m) => m.role)).toEqual(['assistant', 'tool', 'assistant']);
    expect(hadMessage.messages().map((m) => m.role)).toEqual(['tool', 'assistant']);
    expect(heldParts.events.some((e) => e.type === 'discontinuity')).toBe(false);
    expect(hadMessage.events.some((e) => e.type === 'discontinuity')).toBe(false);
  });
});
