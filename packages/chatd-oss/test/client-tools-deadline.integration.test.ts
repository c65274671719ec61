// The requires_action deadline on the mock clock (issue 27, contract.md#client-tools): the deadline is stored
// with the chat, so the acquisition loop of any worker enforces it, also one started after the worker that made
// the chat wait is gone; each pending call gets "no result from the client in time" (is_error) and the turn goes
// on. Also: the model is offered the chat's client tools beside the server tools; a recovered run that finds
// client calls without results waits for them again instead of running them.
import { createMockClock } from '@chatd/clock';
import type { ChatMessage } from '@chatd/protocol';
import { createMemoryPubSub } from '@chatd/pubsub';
import type { LanguageModelV3CallOptions } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { DEFAULT_REQUIRES_ACTION_TIMEOUT_MS, NO_RESULT_IN_TIME_RESULT } from '../src/tools/client-tools.js';
import { createToolRegistry } from '../src/tools/tool-registry.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { createTestModel, finishPart, textDelta, usage } from './helpers/test-models.js';
import { useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
const TIMEOUT_MS = 60_000;
const askTool = { name: 'ask_user', description: 'Asks the user.', input_schema: { type: 'object', properties: { q: { type: 'string' } } } };

/** Calls `ask_user` unless the last message is a tool message; then says what it read. Records the offered tools. */
function askingModel(offered: string[][]) {
  return createTestModel('asker', async function* (call: LanguageModelV3CallOptions) {
    offered.push((call.tools ?? []).map((t) => t.name));
    const last = call.prompt.at(-1);
    if (last?.role === 'tool') {
      const r = last.content[0];
      yield textDelta(`read ${r?.type === 'tool-result' && r.output.type === 'json' ? JSON.stringify(r.output.value) : JSON.stringify(r)}`);
      yield finishPart('stop', usage(1, 1));
      return;
    }
    yield { type: 'tool-call', toolCallId: 'ask-1', toolName: 'ask_user', input: '{"q":"colour?"}' };
    yield { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: usage(1, 1) };
  });
}

function setup(clock: ReturnType<typeof createMockClock>, offered: string[][], workerId: string) {
  const store: ChatStore = createChatStore({ pool: bed.pool, clock });
  const pubsub = createMemoryPubSub();
  const publisher = createChatPublisher({ pubsub, clock });
  const worker = createChatWorker({
    store,
    pubsub,
    live: createLiveStreams(),
    clock,
    publisher,
    workerId,
    model: askingModel(offered),
    tools: createToolRegistry([{ name: 'server_side', inputSchema: { type: 'object' }, execute: () => 1 }], { clock }),
    requiresActionTimeoutMs: TIMEOUT_MS,
  });
  bed.workers.push(worker);
  return { store, worker };
}

async function history(store: ChatStore, chatId: string): Promise<ChatMessage[]> {
  return (await store.messagesAfter(chatId, 0n)).messages;
}

describe('requires_action deadline', () => {
  it('is stored with the chat and enforced by another worker after the first is gone; the turn goes on with the timeout result', async () => {
    const clock = createMockClock();
    const offered: string[][] = [];
    const first = setup(clock, offered, 'worker-1');
    const { chat } = await first.store.createChat({ ownerId: bed.ownerId, content: [{ type: 'text', text: 'help' }], dynamicTools: [askTool] });
    const ended = first.worker.waitForRunEnd(chat.id);
    first.worker.start();
    expect((await ended).outcome).toBe('requires_action');
    expect(offered[0]).toEqual(['server_side', 'ask_user']);
    expect(await first.store.pendingToolCalls(chat.id)).toEqual([{ tool_call_id: 'ask-1', tool_name: 'ask_user', args: { q: 'colour?' } }]);
    const { rows } = await bed.pool.query<{ d: Date }>('SELECT requires_action_deadline AS d FROM chats WHERE id = $1', [chat.id]);
    expect(rows[0]!.d.getTime()).toBe(clock.nowMs() + TIMEOUT_MS);
    await first.worker.stop();

    // Just before the deadline a new worker's pass changes nothing.
    await clock.advance(TIMEOUT_MS - 1);
    const second = setup(clock, offered, 'worker-2');
    expect(await second.worker.acquireNow()).toBe(0);
    expect((await second.store.getChat(chat.id))!.status).toBe('requires_action');
    expect(second.worker.metrics().requiresActionExpired).toBe(0);

    await clock.advance(1);
    const resumed = second.worker.waitForRunEnd(chat.id);
    expect(await second.worker.acquireNow()).toBe(1);
    expect((await resumed).outcome).toBe('finished');
    expect(second.worker.metrics().requiresActionExpired).toBe(1);
    const messages = await history(second.store, chat.id);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(messages[2]!.content).toEqual([{ type: 'tool-result', tool_call_id: 'ask-1', tool_name: 'ask_user', result: NO_RESULT_IN_TIME_RESULT, is_error: true }]);
    expect(JSON.stringify(messages[3]!.content)).toContain('no result from the client in time');
    expect((await second.store.getChat(chat.id))!.status).toBe('waiting');
    expect(await second.store.pendingToolCalls(chat.id)).toBeUndefined();
  });

  it('defaults to five minutes', () => {
    expect(DEFAULT_REQUIRES_ACTION_TIMEOUT_MS).toBe(300_000);
  });

  it('a recovered run whose dead predecessor left client calls without results waits for them again (never runs them)', async () => {
    const clock = createMockClock();
    const offered: string[][] = [];
    const { store, worker } = setup(clock, offered, 'worker-r');
    const { chat } = await store.createChat({ ownerId: bed.ownerId, content: [{ type: 'text', text: 'help' }], dynamicTools: [askTool] });
    // A run that persisted its step and died before it could wait.
    const [acq] = await store.acquireChats('dead-worker');
    await store.persistMessage({ chatId: chat.id, runId: acq!.runId, role: 'assistant', content: [{ type: 'tool-call', tool_call_id: 'ask-9', tool_name: 'ask_user', args: {} }] });
    await clock.advance(10 * 60_000);
    expect(await worker.recoverNow()).toBe(1);
    const ended = worker.waitForRunEnd(chat.id);
    await worker.acquireNow();
    expect((await ended).outcome).toBe('requires_action');
    expect(offered).toEqual([]); // no model call: the open client call is waited for
    expect(await store.pendingToolCalls(chat.id)).toEqual([{ tool_call_id: 'ask-9', tool_name: 'ask_user', args: {} }]);
    expect((await history(store, chat.id)).map((m) => m.role)).toEqual(['user', 'assistant']);
  });
});
