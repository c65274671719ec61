// Issue 26 through the public API: `startChatdServer({ tools })` offers the tools to the model and runs them
// between steps; a stream client sees the tool-call and tool-result parts and the durable messages with their
// run cursor; `config.maxSteps` (CHATD_MAX_STEPS) bounds a turn; a bad tool fails the start with CONFIG.
import { useTestDatabase } from '@chatd/testkit';
import type { ChatMessage } from '@chatd/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isChatdError } from '../src/chatd-error.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import type { ServerTool } from '../src/tools/server-tool.js';
import { apiClient, hasStatus, openStream, startTestReplica, userToken } from './helpers/server-harness.js';
import { createTestModel, finishPart, fixedModels, textDelta, usage } from './helpers/test-models.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const replicas: RunningChatd[] = [];
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((r) => r.close()));
});

const add: ServerTool<{ numbers: number[] }> = {
  name: 'add',
  description: 'Sums a list of numbers.',
  inputSchema: z.object({ numbers: z.array(z.number()) }),
  execute: ({ numbers }) => numbers.reduce((a, b) => a + b, 0),
};

/**
 * Calls `add` until the last prompt message is a tool message (or always), then answers with the result. With
 * `gate`, the first step waits for it, so a stream opened after the create sees every part.
 */
function addingModel(always = false, gate?: Promise<void>) {
  return createTestModel('adder', async function* (call) {
    if (gate) await gate;
    const last = call.prompt.at(-1);
    if (!always && last?.role === 'tool') {
      const r = last.content[0];
      yield textDelta(`the sum is ${r?.type === 'tool-result' && r.output.type === 'json' ? JSON.stringify(r.output.value) : '?'}`);
      yield finishPart('stop', usage(1, 1));
      return;
    }
    const id = `call-${call.prompt.length}`;
    yield { type: 'tool-input-start', id, toolName: 'add' };
    yield { type: 'tool-input-delta', id, delta: '{"numbers":[2,' };
    yield { type: 'tool-input-delta', id, delta: '3]}' };
    yield { type: 'tool-call', toolCallId: id, toolName: 'add', input: '{"numbers":[2,3]}' };
    yield { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: usage(1, 1) };
  });
}

describe('startChatdServer({ tools })', () => {
  it('runs a tool between steps; the stream shows the call, its result and the messages with run_id and last_seq', async () => {
    let openGate!: () => void;
    const model = addingModel(false, new Promise<void>((resolve) => (openGate = resolve)));
    const replica = await startTestReplica(db.url, { models: fixedModels(model), tools: [add] });
    replicas.push(replica);
    const { token } = await userToken(replica, 'tool-user');
    const api = apiClient(replica.url, token);
    const created = await api('POST', '', { content: [{ type: 'text', text: 'add 2 and 3' }] });
    expect(created.status).toBe(201);
    const stream = openStream(replica.url, created.body.id, token);
    // The model starts only once the stream holds its snapshot: a run that ended before the subscribe would show
    // its messages but none of its parts.
    await stream.until((e) => e.length > 0, 'the snapshot');
    openGate();
    await stream.until((e) => e.some((x) => x.type === 'message' && x.message.role === 'assistant' && x.message.content?.[0]?.type === 'text') && hasStatus(e, 'waiting'), 'the reply');
    stream.close();

    const parts = stream.events.flatMap((e) => (e.type === 'message_part' ? [e.message_part] : []));
    expect(parts.map((p) => [p.role, p.part])).toEqual([
      ['assistant', { type: 'tool-call', tool_call_id: 'call-1', tool_name: 'add', args_delta: '{"numbers":[2,' }],
      ['assistant', { type: 'tool-call', tool_call_id: 'call-1', tool_name: 'add', args_delta: '3]}' }],
      ['assistant', { type: 'tool-call', tool_call_id: 'call-1', tool_name: 'add', args: { numbers: [2, 3] } }],
      ['tool', { type: 'tool-result', tool_call_id: 'call-1', tool_name: 'add', result: 5 }],
      ['assistant', { type: 'text', text: 'the sum is 5' }],
    ]);
    const runId = parts[0]!.run_id;
    expect(parts.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
    const messages = stream.events.flatMap((e) => (e.type === 'message' ? [e.message as ChatMessage] : [])).filter((m) => m.role !== 'user');
    expect(messages.map((m) => [m.role, m.run_id, m.last_seq])).toEqual([
      ['assistant', runId, 3],
      ['tool', runId, 4],
      ['assistant', runId, 5],
    ]);
    expect(model.calls[0]!.tools).toEqual([
      { type: 'function', name: 'add', description: 'Sums a list of numbers.', inputSchema: expect.objectContaining({ type: 'object', required: ['numbers'] }) },
    ]);
    // History over REST carries the run cursor too.
    const page = await api('GET', `/${created.body.id}/messages`);
    expect(page.body.messages.map((m: ChatMessage) => m.last_seq ?? null)).toEqual([5, 4, 3, null]);
  });

  it('config.maxSteps ends a turn that keeps calling tools with an error of kind step_limit', async () => {
    const replica = await startTestReplica(db.url, { models: fixedModels(addingModel(true)), tools: [add], config: { databaseUrl: db.url, acquireIntervalMs: 50, heartbeatIntervalMs: 1000, staleAfterMs: 5000, maxSteps: 3 } });
    replicas.push(replica);
    const { token } = await userToken(replica, 'looper');
    const api = apiClient(replica.url, token);
    const created = await api('POST', '', { content: [{ type: 'text', text: 'loop' }] });
    const stream = openStream(replica.url, created.body.id, token);
    await stream.until((e) => hasStatus(e, 'error'), 'the error status');
    stream.close();
    expect(stream.events.find((e) => e.type === 'error')).toMatchObject({ error: { kind: 'step_limit' } });
    const page = await api('GET', `/${created.body.id}/messages`);
    expect(page.body.messages.filter((m: ChatMessage) => m.role === 'tool')).toHaveLength(3);
  });

  it('a bad tool name fails the start with ChatdError CONFIG', async () => {
    let caught: unknown;
    try {
      replicas.push(await startTestReplica(db.url, { tools: [{ ...add, name: 'no spaces please' }] }));
    } catch (err) {
      caught = err;
    }
    expect(isChatdError(caught, 'CONFIG')).toBe(true);
    expect((caught as Error).message).toMatch(/tool name "no spaces please"/);
  });
  it('CHATD_DEMO_TOOLS: the demo model calls get_time and add on "call" lines and reads their results back', async () => {
    // The default harness model is the demo model; config.demoTools is what CHATD_DEMO_TOOLS=1 sets.
    const replica = await startTestReplica(db.url, { config: { databaseUrl: db.url, acquireIntervalMs: 50, heartbeatIntervalMs: 1000, staleAfterMs: 5000, demoTools: true } });
    replicas.push(replica);
    const { token } = await userToken(replica, 'demo-tools-user');
    const api = apiClient(replica.url, token);
    const created = await api('POST', '', { content: [{ type: 'text', text: 'call get_time\ncall add {"numbers":[1,2,3.5]}' }] });
    expect(created.status).toBe(201);
    const stream = openStream(replica.url, created.body.id, token);
    await stream.until((e) => hasStatus(e, 'waiting'), 'the turn to end');
    stream.close();
    const page = await api('GET', `/${created.body.id}/messages?limit=50`);
    const messages = [...(page.body.messages as ChatMessage[])].reverse();
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    const results = messages[2]!.content!.flatMap((p) => (p.type === 'tool-result' ? [p] : []));
    expect(results.map((r) => [r.tool_name, r.is_error ?? false])).toEqual([
      ['get_time', false],
      ['add', false],
    ]);
    expect(results[1]!.result).toBe(6.5);
    expect(Number.isNaN(Date.parse(String(results[0]!.result)))).toBe(false);
    const reply = messages[3]!.content!.map((p) => (p.type === 'text' ? p.text : '')).join('');
    expect(reply).toContain('add returned 6.5');
    expect(reply).toContain('get_time returned');
  });
});
