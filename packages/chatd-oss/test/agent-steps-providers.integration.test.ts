// Issue 26 through the real provider packages: the step loop (real PostgreSQL, a real worker, the mock clock)
// against the testkit's stand-in servers of each tool-call wire (OpenAI chat completions `tool_calls`, OpenAI
// Responses `function_call`, Anthropic `tool_use`). A two-step turn with two parallel server tools: the first
// request offers the tools, the model calls both, their results are persisted in one `tool` message and go back in
// the second request in the provider's own shape, and the reply ends the turn; invalid input becomes an is_error
// result the second request carries.
import { createMockClock } from '@chatd/clock';
import { createMemoryPubSub } from '@chatd/pubsub';
import { startModelStandIn, type ModelStandIn, type StandInWireName } from '@chatd/testkit';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLiveStreams } from '../src/live/live-buffer.js';
import type { ProviderKind } from '../src/model/model-settings.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import type { ServerTool } from '../src/tools/server-tool.js';
import { createToolRegistry } from '../src/tools/tool-registry.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { createModelConfigResolver, type ResolverModelConfig, type ResolverProviderSettings } from '../src/worker/model-config-resolver.js';
import { useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

const CONFIG_ID = '99999999-9999-4999-8999-999999999999';
const KINDS: Array<{ kind: Exclude<ProviderKind, 'demo'>; wire: StandInWireName; model: string }> = [
  { kind: 'openai-compatible', wire: 'openai-chat', model: 'llama3.2' },
  { kind: 'openai', wire: 'openai-responses', model: 'gpt-4o-mini' },
  { kind: 'anthropic', wire: 'anthropic-messages', model: 'claude-sonnet-4-5' },
];

const standIns: ModelStandIn[] = [];
afterEach(async () => {
  await Promise.all(standIns.splice(0).map((s) => s.close()));
});

/** Tool executions, by name and input, across a test. */
const executions: string[] = [];
const add: ServerTool<{ numbers: number[] }> = {
  name: 'add',
  description: 'Sums a list of numbers.',
  inputSchema: z.object({ numbers: z.array(z.number()) }),
  execute: ({ numbers }) => {
    executions.push(`add ${JSON.stringify(numbers)}`);
    return numbers.reduce((a, b) => a + b, 0);
  },
};
const shout: ServerTool = {
  name: 'shout',
  description: 'Upper-cases a text.',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  execute: (input) => {
    executions.push(`shout ${JSON.stringify(input)}`);
    return String((input as { text: string }).text).toUpperCase();
  },
};

async function setup(kind: Exclude<ProviderKind, 'demo'>, wire: StandInWireName, model: string) {
  const standIn = await startModelStandIn({ wire });
  standIns.push(standIn);
  const clock = createMockClock();
  const store: ChatStore = createChatStore({ pool, clock });
  const pubsub = createMemoryPubSub();
  const publisher = createChatPublisher({ pubsub, clock });
  const config: ResolverModelConfig = { id: CONFIG_ID, provider: 'standin', model, callOptions: {}, providerOptions: null };
  const settings: ResolverProviderSettings = { provider: 'standin', kind, baseUrl: standIn.baseUrl, apiKey: 'sk-test', apiKeyEnv: null, enabled: true };
  const resolver = createModelConfigResolver({ configs: { resolveModelConfig: async () => config, getProviderSettings: async () => settings }, clock, env: {} });
  const tools = createToolRegistry([add, shout], { clock });
  const worker = createChatWorker({ store, pubsub, publisher, live: createLiveStreams(), clock, workerId: 'worker-steps', model: resolver, tools });
  bed.workers.push(worker);
  return { standIn, store, worker };
}

async function history(store: ChatStore, chatId: string) {
  const page = await store.listMessages({ chatId, limit: 50 });
  return [...page.messages].reverse();
}

describe.each(KINDS)('agent steps with $kind against a $wire stand-in', ({ kind, wire, model }) => {
  it('a two-step turn: both tools offered, two parallel calls run once each, one tool message, results sent back, then the reply', async () => {
    executions.length = 0;
    const { standIn, store, worker } = await setup(kind, wire, model);
    standIn.script(
      { steps: [{ toolCall: { id: 'call_a', name: 'add', input: { numbers: [2, 3] } } }, { toolCall: { id: 'call_b', name: 'shout', input: { text: 'hi' } } }], usage: { inputTokens: 5, outputTokens: 4 } },
      { steps: [{ text: 'The sum is 5 and HI.' }], usage: { inputTokens: 9, outputTokens: 6 } },
    );
    const { chat } = await store.createChat({ ownerId, content: [{ type: 'text', text: 'add 2 and 3, and shout hi' }] });
    const ended = worker.waitForRunEnd(chat.id);
    worker.start();
    expect((await ended).outcome).toBe('finished');

    expect(standIn.requests.map((r) => r.tools.map((t) => t.name))).toEqual([
      ['add', 'shout'],
      ['add', 'shout'],
    ]);
    expect(executions.sort()).toEqual(['add [2,3]', 'shout {"text":"hi"}']);
    const messages = await history(store, chat.id);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(messages[1]!.content).toEqual([
      { type: 'tool-call', tool_call_id: 'call_a', tool_name: 'add', args: { numbers: [2, 3] } },
      { type: 'tool-call', tool_call_id: 'call_b', tool_name: 'shout', args: { text: 'hi' } },
    ]);
    expect(messages[2]!.content).toEqual([
      { type: 'tool-result', tool_call_id: 'call_a', tool_name: 'add', result: 5 },
      { type: 'tool-result', tool_call_id: 'call_b', tool_name: 'shout', result: 'HI' },
    ]);
    expect(messages[3]!.content).toEqual([{ type: 'text', text: 'The sum is 5 and HI.' }]);
    // One run: the step messages carry its run_id and rising last_seq.
    expect(new Set(messages.slice(1).map((m) => m.run_id)).size).toBe(1);
    const lastSeqs = messages.slice(1).map((m) => m.last_seq ?? 0);
    expect([...lastSeqs].sort((a, b) => a - b)).toEqual(lastSeqs);
    // The second request carries both calls and both results in the provider's own shape.
    const second = JSON.stringify(standIn.requests[1]!.body);
    for (const needle of ['call_a', 'call_b', '"HI"']) expect(second).toContain(needle);
  });

  it('invalid input is an is_error result the next request carries, and the tool never runs', async () => {
    executions.length = 0;
    const { standIn, store, worker } = await setup(kind, wire, model);
    standIn.script(
      { steps: [{ toolCall: { id: 'call_bad', name: 'add', input: { numbers: 'two' } } }], usage: { inputTokens: 5, outputTokens: 4 } },
      { steps: [{ text: 'Sorry, bad input.' }], usage: { inputTokens: 9, outputTokens: 3 } },
    );
    const { chat } = await store.createChat({ ownerId, content: [{ type: 'text', text: 'add two' }] });
    const ended = worker.waitForRunEnd(chat.id);
    worker.start();
    expect((await ended).outcome).toBe('finished');
    expect(executions).toEqual([]);
    const [, , toolMessage] = await history(store, chat.id);
    const result = toolMessage!.content![0]!;
    expect(result).toMatchObject({ type: 'tool-result', tool_call_id: 'call_bad', is_error: true });
    expect(JSON.stringify(result)).toContain('invalid input');
    expect(JSON.stringify(standIn.requests[1]!.body)).toContain('invalid input');
  });
});
