// Tools through the three HTTP provider kinds (the real AI SDK packages, our `streamModelStep`) against the
// testkit's stand-ins speaking each real wire: offered function tools reach the request in the provider's own
// shape, streamed function calls come back as `tool-input-*` and `tool-call` events with the parsed input, and a
// next request carrying our prompt's tool-call and tool-result history is accepted with that history in the
// provider's shape. No network beyond 127.0.0.1, no database.
import { createMockClock } from '@chatd/clock';
import { startModelStandIn, type ModelStandIn, type StandInWireName } from '@chatd/testkit';
import type { LanguageModelV3FunctionTool, LanguageModelV3Prompt } from '@ai-sdk/provider';
import { afterEach, describe, expect, it } from 'vitest';
import { createLanguageModel } from '../src/model/create-language-model.js';
import { toLanguageModelPrompt } from '../src/model/language-model-prompt.js';
import type { ProviderKind } from '../src/model/model-settings.js';
import { streamModelStep, type ModelStepEvent } from '../src/model/stream-model-step.js';

const KINDS: Array<{ kind: Exclude<ProviderKind, 'demo'>; wire: StandInWireName; model: string }> = [
  { kind: 'openai-compatible', wire: 'openai-chat', model: 'llama3.2' },
  { kind: 'openai', wire: 'openai-responses', model: 'gpt-5-mini' },
  { kind: 'anthropic', wire: 'anthropic-messages', model: 'claude-sonnet-4-5' },
];

const GET_TIME_SCHEMA = { type: 'object', properties: {}, additionalProperties: false } as const;
const ADD_SCHEMA = {
  type: 'object',
  properties: { numbers: { type: 'array', items: { type: 'number' } } },
  required: ['numbers'],
  additionalProperties: false,
} as const;
const TOOLS: LanguageModelV3FunctionTool[] = [
  { type: 'function', name: 'get_time', description: "The server's time.", inputSchema: GET_TIME_SCHEMA },
  { type: 'function', name: 'add', description: 'Adds numbers.', inputSchema: ADD_SCHEMA },
];

const standIns: ModelStandIn[] = [];
afterEach(async () => {
  await Promise.all(standIns.splice(0).map((s) => s.close()));
});

async function setup(kind: Exclude<ProviderKind, 'demo'>, wire: StandInWireName, modelId: string) {
  const standIn = await startModelStandIn({ wire });
  standIns.push(standIn);
  const clock = createMockClock();
  const model = createLanguageModel({ kind, name: `my-${kind}`, model: modelId, baseUrl: standIn.baseUrl, apiKey: 'sk-test', clock });
  const step = async (prompt: LanguageModelV3Prompt): Promise<ModelStepEvent[]> => {
    const events: ModelStepEvent[] = [];
    for await (const e of streamModelStep({ model, provider: `my-${kind}`, call: { prompt, tools: TOOLS }, signal: new AbortController().signal, clock, strictFinish: true })) {
      events.push(e);
    }
    return events;
  };
  return { standIn, step };
}

const QUESTION = 'What time is it, and what is 1 + 2?';

/** The history after the first step: its text and two calls, then one `tool` message with both results. */
const HISTORY = toLanguageModelPrompt([
  { role: 'user', content: [{ type: 'text', text: QUESTION }] },
  {
    role: 'assistant',
    content: [
      { type: 'text', text: 'Let me check.' },
      { type: 'tool-call', tool_call_id: 'call_1', tool_name: 'get_time', args: {} },
      { type: 'tool-call', tool_call_id: 'call_2', tool_name: 'add', args: { numbers: [1, 2] } },
    ],
  },
  {
    role: 'tool',
    content: [
      { type: 'tool-result', tool_call_id: 'call_1', tool_name: 'get_time', result: '2026-01-01T00:00:00.000Z' },
      { type: 'tool-result', tool_call_id: 'call_2', tool_name: 'add', result: { error: 'cancelled' }, is_error: true },
    ],
  },
]);

describe.each(KINDS)('tools through $kind against a $wire stand-in', ({ kind, wire, model: modelId }) => {
  it('offers the function tools in the provider shape and streams its calls back as tool input and tool-call events', async () => {
    const { standIn, step } = await setup(kind, wire, modelId);
    standIn.script({
      steps: [
        { text: 'Let me check.' },
        { toolCall: { id: 'call_1', name: 'get_time', input: {} } },
        { toolCall: { id: 'call_2', name: 'add', input: { numbers: [1, 2] } } },
      ],
      usage: { inputTokens: 30, outputTokens: 12 },
    });
    const events = await step(toLanguageModelPrompt([{ role: 'user', content: [{ type: 'text', text: QUESTION }] }]));

    expect(events.flatMap((e) => (e.type === 'text-delta' ? [e.text] : [])).join('')).toBe('Let me check.');
    const toolEvents = events.filter((e) => e.type.startsWith('tool-'));
    expect(toolEvents.filter((e) => e.type === 'tool-input-start')).toEqual([
      { type: 'tool-input-start', toolCallId: 'call_1', toolName: 'get_time' },
      { type: 'tool-input-start', toolCallId: 'call_2', toolName: 'add' },
    ]);
    const inputText = (id: string) => toolEvents.flatMap((e) => (e.type === 'tool-input-delta' && e.toolCallId === id ? [e.delta] : [])).join('');
    expect(inputText('call_1')).toBe('{}');
    expect(inputText('call_2')).toBe('{"numbers":[1,2]}');
    // Streamed in pieces, not in one.
    expect(toolEvents.filter((e) => e.type === 'tool-input-delta' && e.toolCallId === 'call_2').length).toBeGreaterThan(1);
    expect(toolEvents.filter((e) => e.type === 'tool-call')).toEqual([
      { type: 'tool-call', toolCallId: 'call_1', toolName: 'get_time', input: {} },
      { type: 'tool-call', toolCallId: 'call_2', toolName: 'add', input: { numbers: [1, 2] } },
    ]);
    // Each call's input is complete before its call.
    const lastDelta = toolEvents.map((e) => e.type === 'tool-input-delta' && e.toolCallId === 'call_2').lastIndexOf(true);
    expect(lastDelta).toBeLessThan(toolEvents.findIndex((e) => e.type === 'tool-call' && e.toolCallId === 'call_2'));
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'tool-calls' });

    const [req] = standIn.requests;
    expect(req?.tools).toEqual([
      { name: 'get_time', description: "The server's time.", inputSchema: expect.objectContaining({ type: 'object', properties: {} }) },
      { name: 'add', description: 'Adds numbers.', inputSchema: expect.objectContaining({ properties: ADD_SCHEMA.properties, required: ['numbers'] }) },
    ]);
    if (kind === 'openai-compatible') {
      expect(req?.body.tools).toEqual([
        { type: 'function', function: { name: 'get_time', description: "The server's time.", parameters: expect.objectContaining({ type: 'object' }) } },
        { type: 'function', function: { name: 'add', description: 'Adds numbers.', parameters: expect.objectContaining(ADD_SCHEMA) } },
      ]);
    } else if (kind === 'openai') {
      expect(req?.body.tools).toMatchObject([
        { type: 'function', name: 'get_time', description: "The server's time.", parameters: { type: 'object' } },
        { type: 'function', name: 'add', description: 'Adds numbers.', parameters: ADD_SCHEMA },
      ]);
    } else {
      expect(req?.body.tools).toMatchObject([
        { name: 'get_time', description: "The server's time.", input_schema: { type: 'object' } },
        { name: 'add', description: 'Adds numbers.', input_schema: ADD_SCHEMA },
      ]);
    }
  });

  it('sends our tool-call and tool-result history in the provider shape on the next request, and takes the reply', async () => {
    const { standIn, step } = await setup(kind, wire, modelId);
    standIn.script({ steps: [{ text: 'It is midnight; the sum was cancelled.' }], usage: { inputTokens: 50, outputTokens: 8 } });
    const events = await step(HISTORY);
    expect(events.flatMap((e) => (e.type === 'text-delta' ? [e.text] : [])).join('')).toBe('It is midnight; the sum was cancelled.');
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });

    const body = standIn.requests[0]?.body;
    if (kind === 'openai-compatible') {
      expect(body.messages).toEqual([
        { role: 'user', content: QUESTION },
        {
          role: 'assistant',
          content: 'Let me check.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{}' } },
            { id: 'call_2', type: 'function', function: { name: 'add', arguments: '{"numbers":[1,2]}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '2026-01-01T00:00:00.000Z' },
        { role: 'tool', tool_call_id: 'call_2', content: '{"error":"cancelled"}' },
      ]);
    } else if (kind === 'openai') {
      expect(body.input).toMatchObject([
        { role: 'user', content: [{ type: 'input_text', text: QUESTION }] },
        { role: 'assistant', content: [{ type: 'output_text', text: 'Let me check.' }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_time', arguments: '{}' },
        { type: 'function_call', call_id: 'call_2', name: 'add', arguments: '{"numbers":[1,2]}' },
        { type: 'function_call_output', call_id: 'call_1', output: '2026-01-01T00:00:00.000Z' },
        { type: 'function_call_output', call_id: 'call_2', output: '{"error":"cancelled"}' },
      ]);
    } else {
      expect(body.messages).toMatchObject([
        { role: 'user', content: [{ type: 'text', text: QUESTION }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'call_1', name: 'get_time', input: {} },
            { type: 'tool_use', id: 'call_2', name: 'add', input: { numbers: [1, 2] } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: '2026-01-01T00:00:00.000Z' },
            { type: 'tool_result', tool_use_id: 'call_2', content: '{"error":"cancelled"}', is_error: true },
          ],
        },
      ]);
    }
  });
});
