// The chat store's side of client-executed tools (issue 27, contract.md#client-tools) on real PostgreSQL: messages
// queued before a chat waits stay queued (a new send goes ahead of them, the continuation's end promotes them);
// a run interrupted before it could wait answers its client calls "cancelled"; a stale run cannot make a chat wait
// (fenced); concurrent submissions: exactly one is accepted.
import { createMockClock } from '@chatd/clock';
import type { ChatMessagePart } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { isChatdError } from '../src/chatd-error.js';
import { createChatStore } from '../src/store/chat-store.js';
import { useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
const text = (t: string): ChatMessagePart => ({ type: 'text', text: t });
const call = (id: string): ChatMessagePart => ({ type: 'tool-call', tool_call_id: id, tool_name: 'ask', args: { q: id } });
const askTool = { name: 'ask', input_schema: { type: 'object' } };

/** A chat whose run persisted a step calling `ask` and then waits for it (optionally with queued messages first). */
async function waiting(queued: string[] = []) {
  const clock = createMockClock();
  const store = createChatStore({ pool: bed.pool, clock });
  const { chat } = await store.createChat({ ownerId: bed.ownerId, content: [text('hi')], dynamicTools: [askTool] });
  for (const q of queued) expect((await store.sendMessage({ chatId: chat.id, content: [text(q)] })).queued).toBe(true);
  const [run] = await store.acquireChats('w1');
  await store.persistMessage({ chatId: chat.id, runId: run!.runId, role: 'assistant', content: [call('c1')] });
  const change = await store.finishRun({
    chatId: chat.id,
    runId: run!.runId,
    outcome: 'requires_action',
    pendingToolCalls: [{ tool_call_id: 'c1', tool_name: 'ask', args: { q: 'c1' } }],
    deadline: new Date(clock.nowMs() + 60_000),
  });
  return { store, chatId: chat.id, change, runId: run!.runId };
}

describe('client tools in the chat store', () => {
  it('messages queued before the chat waits stay queued; the continuation ends by promoting them', async () => {
    const { store, chatId, change } = await waiting(['queued one']);
    expect(change.chat.status).toBe('requires_action');
    expect(change.queue).toBeUndefined();
    expect(await store.getQueue(chatId)).toHaveLength(1);
    const submitted = await store.submitToolResults({ chatId, ownerId: bed.ownerId, results: [{ tool_call_id: 'c1', output: 'yes' }] });
    expect(submitted.change.chat.status).toBe('pending');
    expect(await store.getQueue(chatId)).toHaveLength(1);
    const [cont] = await store.acquireChats('w2');
    const end = await store.finishRun({ chatId, runId: cont!.runId, outcome: 'finished' });
    expect(end.chat.status).toBe('pending');
    expect(await store.getQueue(chatId)).toHaveLength(0);
    expect(end.messages.map((m) => m.role)).toEqual(['user']);
  });

  it('a send while waiting is not queued and goes ahead of the queue, after the cancelled answers', async () => {
    const { store, chatId } = await waiting(['queued one']);
    const sent = await store.sendMessage({ chatId, content: [text('new')] });
    expect(sent.queued).toBe(false);
    expect(sent.change.chat.status).toBe('pending');
    expect(sent.change.messages.map((m) => m.role)).toEqual(['tool', 'user']);
    expect(sent.change.messages[0]!.content).toEqual([{ type: 'tool-result', tool_call_id: 'c1', tool_name: 'ask', result: { error: 'cancelled' }, is_error: true }]);
    expect(await store.getQueue(chatId)).toHaveLength(1);
    expect(await store.pendingToolCalls(chatId)).toBeUndefined();
  });

  it('a run interrupted before it could wait answers its client calls "cancelled" and the chat rests', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool: bed.pool, clock });
    const { chat } = await store.createChat({ ownerId: bed.ownerId, content: [text('hi')], dynamicTools: [askTool] });
    const [run] = await store.acquireChats('w1');
    await store.persistMessage({ chatId: chat.id, runId: run!.runId, role: 'assistant', content: [call('c2')] });
    await store.interruptChat(chat.id);
    const end = await store.finishRun({ chatId: chat.id, runId: run!.runId, outcome: 'requires_action', pendingToolCalls: [{ tool_call_id: 'c2', tool_name: 'ask', args: {} }], deadline: clock.now() });
    expect(end.chat.status).toBe('waiting');
    expect(end.messages.map((m) => m.content)).toEqual([[{ type: 'tool-result', tool_call_id: 'c2', tool_name: 'ask', result: { error: 'cancelled' }, is_error: true }]]);
    expect(await store.pendingToolCalls(chat.id)).toBeUndefined();
  });

  it('a stale run cannot make the chat wait (RUN_FENCED), and of two concurrent submissions exactly one is accepted', async () => {
    const { store, chatId, runId } = await waiting();
    const late = await store.finishRun({ chatId, runId, outcome: 'requires_action', pendingToolCalls: [], deadline: new Date() }).catch((e: unknown) => e);
    expect(isChatdError(late, 'RUN_FENCED')).toBe(true);
    const results = await Promise.allSettled([0, 1].map((i) => store.submitToolResults({ chatId, results: [{ tool_call_id: 'c1', output: i }] })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect(isChatdError(refused.reason, 'CONFLICT')).toBe(true);
    const tools = (await store.messagesAfter(chatId, 0n)).messages.filter((m) => m.role === 'tool');
    expect(tools).toHaveLength(1);
  });
});
