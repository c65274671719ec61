// The demo model's tool rule (contract.md#demo-tools), on the model itself (`doStream` with tools in the call)
// and through `streamModelStep`: `call <tool> <json>` lines become streamed tool calls, a `tool` message is read
// back as `<tool> returned <json>` lines, usage is counted in words, and everything else is the filler reply.
import { createMockClock, type MockClock } from '@chatd/clock';
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3FunctionTool, LanguageModelV3Prompt, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { createDemoLanguageModel, demoReplyTokens, DEMO_TOOL_INPUT_CHUNKS } from '../src/model/demo-model.js';
import { toLanguageModelPrompt, type ModelMessage } from '../src/model/language-model-prompt.js';
import { streamModelStep, type ModelStepEvent } from '../src/model/stream-model-step.js';

const TOOLS: LanguageModelV3FunctionTool[] = [
  { type: 'function', name: 'get_time', description: 'the time', inputSchema: { type: 'object', properties: {} } },
  { type: 'function', name: 'add', inputSchema: { type: 'object', properties: { numbers: { type: 'array', items: { type: 'number' } } } } },
];

type Timed<T> = { atMs: number; value: T };

/** Reads a stream to its end, advancing the mock clock whenever the model waits on it; records the mock times. */
async function drain<T>(clock: MockClock, items: AsyncIterable<T>): Promise<Timed<T>[]> {
  const start = clock.nowMs();
  const out: Timed<T>[] = [];
  let finished = false;
  const done = (async () => {
    for await (const value of items) out.push({ atMs: clock.nowMs() - start, value });
  })().finally(() => (finished = true));
  while (!finished) {
    await new Promise((resolve) => setImmediate(resolve));
    if (clock.pendingTimers().length > 0) await clock.advanceNext();
  }
  await done;
  return out;
}

async function* parts(model: LanguageModelV3, call: LanguageModelV3CallOptions): AsyncGenerator<LanguageModelV3StreamPart> {
  const { stream } = await model.doStream(call);
  const reader = stream.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) return;
    yield r.value;
  }
}

const user = (text: string): ModelMessage => ({ role: 'user', content: [{ type: 'text', text }] });

function setup(tokensPerSecond = 10, replyTokens = 6) {
  const clock = createMockClock();
  return { clock, model: createDemoLanguageModel({ clock, tokensPerSecond, replyTokens }) };
}

const streamed = (events: Timed<LanguageModelV3StreamPart>[]) => events.map((e) => e.value).filter((p) => p.type !== 'stream-start');

describe('demo model tool rule', () => {
  it('answers call lines naming offered tools with streamed tool calls, in order, and finishes with tool-calls', async () => {
    const { clock, model } = setup();
    const prompt = toLanguageModelPrompt([user('please:\ncall add {"numbers": [1, 2, 3]}\ncall unknown_tool {}\n  call get_time  \nthanks')], 'be brief');
    const events = await drain(clock, parts(model, { prompt, tools: TOOLS }));
    const got = streamed(events);
    const calls = got.filter((p) => p.type === 'tool-call');
    expect(calls.map((c) => c.type === 'tool-call' && [c.toolName, c.input])).toEqual([
      ['add', '{"numbers":[1,2,3]}'],
      ['get_time', '{}'],
    ]);
    const [addId, timeId] = calls.map((c) => (c.type === 'tool-call' ? c.toolCallId : ''));
    expect(addId).not.toBe(timeId);
    // The add input (19 characters) in DEMO_TOOL_INPUT_CHUNKS chunks, `{}` in two, each chunk one paced token.
    expect(DEMO_TOOL_INPUT_CHUNKS).toBe(3);
    expect(got.map((p) => p.type)).toEqual([
      'tool-input-start', 'tool-input-delta', 'tool-input-delta', 'tool-input-delta', 'tool-input-end', 'tool-call',
      'tool-input-start', 'tool-input-delta', 'tool-input-delta', 'tool-input-end', 'tool-call',
      'finish',
    ]);
    const deltas = (id: string | undefined) => got.flatMap((p) => (p.type === 'tool-input-delta' && p.id === id ? [p.delta] : []));
    expect(deltas(addId)).toEqual(['{"numbe', 'rs":[1,', '2,3]}']);
    expect(deltas(timeId)).toEqual(['{', '}']);
    expect(got[0]).toEqual({ type: 'tool-input-start', id: addId, toolName: 'add' });
    // 10 tokens a second: one input chunk every 100 ms.
    expect(events.filter((e) => e.value.type === 'tool-input-delta').map((e) => e.atMs)).toEqual([100, 200, 300, 400, 500]);
    const finish = got.at(-1);
    expect(finish).toMatchObject({ type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool-calls' } });
    // Input: 'be brief' (2) + the user text (13 words); output: `add {...}` and `get_time {}` (2 words each).
    expect(finish?.type === 'finish' && finish.usage).toEqual({
      inputTokens: { total: 15, noCache: 15, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: 4, text: 4, reasoning: 0 },
    });
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('reads a tool message back as one line per result and counts tool calls and results as input words', async () => {
    const { clock, model } = setup();
    const history: ModelMessage[] = [
      user('call get_time\ncall add {"numbers":[2,3]}'),
      {
        role: 'assistant',
        content: [
          { type: 'tool-call', tool_call_id: 'c1', tool_name: 'get_time', args: {} },
          { type: 'tool-call', tool_call_id: 'c2', tool_name: 'add', args: { numbers: [2, 3] } },
        ],
      },
      {
        role: 'tool',
        content: [
          { type: 'tool-result', tool_call_id: 'c1', tool_name: 'get_time', result: '2026-01-01T00:00:00.000Z' },
          { type: 'tool-result', tool_call_id: 'c2', tool_name: 'add', result: { error: 'cancelled' }, is_error: true },
        ],
      },
    ];
    const events = await drain(clock, parts(model, { prompt: toLanguageModelPrompt(history), tools: TOOLS }));
    const got = streamed(events);
    const text = got.flatMap((p) => (p.type === 'text-delta' ? [p.delta] : [])).join('');
    expect(text).toBe('get_time returned "2026-01-01T00:00:00.000Z"\nadd returned {"error":"cancelled"}');
    expect(got.filter((p) => p.type === 'tool-call')).toEqual([]);
    expect(got.filter((p) => p.type === 'text-delta')).toHaveLength(6);
    // Input: user 5 words; the calls `get_time {}` + `add {"numbers":[2,3]}` 4; the results 4; output 6 words.
    expect(got.at(-1)).toMatchObject({
      type: 'finish',
      finishReason: { unified: 'stop' },
      usage: { inputTokens: { total: 13 }, outputTokens: { total: 6, reasoning: 0 } },
    });
  });

  it('replies as before when no tool is offered, the line names a tool not offered, its JSON is broken, or the newest message is not the user', async () => {
    const { clock, model } = setup();
    const filler = (text: string) => demoReplyTokens(text, 6).join('');
    const cases: Array<{ prompt: LanguageModelV3Prompt; tools?: LanguageModelV3FunctionTool[]; seed: string }> = [
      { prompt: toLanguageModelPrompt([user('call get_time')]), seed: 'call get_time' },
      { prompt: toLanguageModelPrompt([user('call get_weather {}')]), tools: TOOLS, seed: 'call get_weather {}' },
      { prompt: toLanguageModelPrompt([user('call add {"numbers": [1,')]), tools: TOOLS, seed: 'call add {"numbers": [1,' },
      { prompt: toLanguageModelPrompt([user('say call get_time')]), tools: TOOLS, seed: 'say call get_time' },
      {
        prompt: toLanguageModelPrompt([user('call get_time'), { role: 'assistant', content: [{ type: 'text', text: 'ok' }] }]),
        tools: TOOLS,
        seed: 'call get_time',
      },
    ];
    for (const c of cases) {
      const got = streamed(await drain(clock, parts(model, { prompt: c.prompt, ...(c.tools ? { tools: c.tools } : {}) })));
      expect(got.filter((p) => p.type.startsWith('tool-'))).toEqual([]);
      expect(got.flatMap((p) => (p.type === 'text-delta' ? [p.delta] : [])).join('')).toBe(filler(c.seed));
      expect(got.at(-1)).toMatchObject({ type: 'finish', finishReason: { unified: 'stop' } });
    }
  });

  it('gives the same call ids for the same prompt and other ids on a later turn', async () => {
    const { clock, model } = setup(1000);
    const ids = async (messages: ModelMessage[]) =>
      streamed(await drain(clock, parts(model, { prompt: toLanguageModelPrompt(messages), tools: TOOLS }))).flatMap((p) => (p.type === 'tool-call' ? [p.toolCallId] : []));
    const first = await ids([user('call get_time')]);
    expect(first).toHaveLength(1);
    expect(await ids([user('call get_time')])).toEqual(first);
    const later = await ids([user('call get_time'), { role: 'assistant', content: [{ type: 'text', text: 'done' }] }, user('call get_time')]);
    expect(later).toHaveLength(1);
    expect(later).not.toEqual(first);
  });

  it('streams through streamModelStep as tool input events and a tool call with the parsed input', async () => {
    const { clock, model } = setup(1000);
    const events = await drain<ModelStepEvent>(
      clock,
      streamModelStep({
        model,
        provider: 'demo',
        call: { prompt: toLanguageModelPrompt([user('call add {"numbers":[4,5]}')]), tools: TOOLS },
        signal: new AbortController().signal,
        clock,
      }),
    );
    const got = events.map((e) => e.value);
    const id = got[0]?.type === 'tool-input-start' ? got[0].toolCallId : '';
    expect(got[0]).toEqual({ type: 'tool-input-start', toolCallId: id, toolName: 'add' });
    expect(got.flatMap((e) => (e.type === 'tool-input-delta' ? [e.delta] : [])).join('')).toBe('{"numbers":[4,5]}');
    expect(got.filter((e) => e.type === 'tool-call')).toEqual([{ type: 'tool-call', toolCallId: id, toolName: 'add', input: { numbers: [4, 5] } }]);
    expect(got.at(-1)).toMatchObject({ type: 'finish', finishReason: 'tool-calls' });
  });

  it('returns the tool calls from doGenerate too', async () => {
    const { clock, model } = setup(1000);
    const generating = model.doGenerate({ prompt: toLanguageModelPrompt([user('call get_time')]), tools: TOOLS });
    let result: Awaited<typeof generating> | undefined;
    void generating.then((r) => (result = r));
    while (!result) {
      await new Promise((resolve) => setImmediate(resolve));
      if (clock.pendingTimers().length > 0) await clock.advanceNext();
    }
    expect(result.content).toEqual([{ type: 'tool-call', toolCallId: expect.any(String), toolName: 'get_time', input: '{}' }]);
    expect(result.finishReason.unified).toBe('tool-calls');
  });
});
