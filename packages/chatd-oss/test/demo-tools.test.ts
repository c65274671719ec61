// The demo server tools (contract.md#demo-tools): `get_time` reads the injected clock, `add` sums numbers, their
// zod inputs refuse what they cannot take, and `CHATD_DEMO_TOOLS` turns them on. Called through `execute`
// (the registry that validates input belongs to the step loop).
import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { asSchema } from '@ai-sdk/provider-utils';
import type { LanguageModelV3FunctionTool } from '@ai-sdk/provider';
import type { ChatMessagePart } from '@chatd/protocol';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import { toLanguageModelPrompt, type ModelMessage } from '../src/model/language-model-prompt.js';
import { streamModelStep, type ModelStepEvent } from '../src/model/stream-model-step.js';
import { loadConfig, DEFAULT_DEMO_TOOLS } from '../src/config.js';
import { ChatdError } from '../src/chatd-error.js';
import { demoTools } from '../src/tools/demo-tools.js';
import type { ServerToolContext } from '../src/tools/server-tool.js';

const ctx: ServerToolContext = { chatId: 'c', runId: 'r', toolCallId: 't', signal: new AbortController().signal, emit: () => {} };
const URL_ = 'postgres://u@localhost/db';

describe('demo tools', () => {
  it('offers get_time and add, in that order, with zod input schemas', () => {
    const tools = demoTools(createMockClock());
    expect(tools.map((t) => t.name)).toEqual(['get_time', 'add']);
    expect(tools.every((t) => typeof t.description === 'string' && t.description.length > 0)).toBe(true);
    expect(tools.every((t) => t.idempotent === undefined)).toBe(true);
  });

  it('get_time answers the clock time as an ISO string', async () => {
    const clock = createMockClock({ now: Date.parse('2026-03-04T05:06:07.089Z') });
    const [getTime] = demoTools(clock);
    expect(await getTime!.execute({}, ctx)).toBe('2026-03-04T05:06:07.089Z');
    await clock.advance(1500);
    expect(await getTime!.execute({}, ctx)).toBe('2026-03-04T05:06:08.589Z');
  });

  it('add sums the numbers, 0 for none, and its schema refuses anything but a list of finite numbers', async () => {
    const [, add] = demoTools(createMockClock());
    expect(await add!.execute({ numbers: [1, 2, 3.5, -4] }, ctx)).toBe(2.5);
    expect(await add!.execute({ numbers: [] }, ctx)).toBe(0);
    const schema = add!.inputSchema as z.ZodType;
    expect(schema.safeParse({ numbers: [1, 2] }).success).toBe(true);
    for (const bad of [{}, { numbers: '1,2' }, { numbers: [1, 'two'] }, { numbers: [Number.POSITIVE_INFINITY] }, null]) {
      expect(schema.safeParse(bad).success).toBe(false);
    }
  });

  it('is off unless CHATD_DEMO_TOOLS says so; a bad value is a CONFIG error', () => {
    expect(DEFAULT_DEMO_TOOLS).toBe(false);
    expect(loadConfig({ DATABASE_URL: URL_ }).demoTools).toBe(false);
    expect(loadConfig({ DATABASE_URL: URL_, CHATD_DEMO_TOOLS: '1' }).demoTools).toBe(true);
    expect(loadConfig({ DATABASE_URL: URL_, CHATD_DEMO_TOOLS: '0' }).demoTools).toBe(false);
    const err = (() => {
      try {
        loadConfig({ DATABASE_URL: URL_, CHATD_DEMO_TOOLS: 'sure' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ChatdError);
    expect(err).toMatchObject({ code: 'CONFIG', message: expect.stringContaining('CHATD_DEMO_TOOLS') });
  });
});

describe('demo model with the demo tools', () => {
  it('turns "call get_time" and "call add" into calls whose results it reads back in the next step', async () => {
    const clock = createMockClock({ now: Date.parse('2026-03-04T05:06:07.089Z') });
    const tools = demoTools(clock);
    const model = createDemoLanguageModel({ clock, tokensPerSecond: 1000 });
    const offered: LanguageModelV3FunctionTool[] = await Promise.all(
      tools.map(async (t) => ({ type: 'function' as const, name: t.name, inputSchema: await asSchema(t.inputSchema as z.ZodType).jsonSchema })),
    );
    const step = async (messages: ModelMessage[]) => {
      const events: ModelStepEvent[] = [];
      const run = (async () => {
        for await (const e of streamModelStep({ model, provider: 'demo', call: { prompt: toLanguageModelPrompt(messages), tools: offered }, signal: new AbortController().signal, clock })) events.push(e);
      })();
      let done = false;
      void run.finally(() => (done = true));
      while (!done) {
        await new Promise((resolve) => setImmediate(resolve));
        if (clock.pendingTimers().length > 0) await clock.advanceNext();
      }
      await run;
      return events;
    };
    const history: ModelMessage[] = [{ role: 'user', content: [{ type: 'text', text: 'call get_time\ncall add {"numbers":[1,2,3.5]}' }] }];
    const first = await step(history);
    const calls = first.flatMap((e) => (e.type === 'tool-call' ? [e] : []));
    expect(calls.map((c) => [c.toolName, c.input])).toEqual([['get_time', {}], ['add', { numbers: [1, 2, 3.5] }]]);
    // The first step's input chunks were paced on the clock: get_time answers the time it runs at.
    const ranAt = clock.now().toISOString();
    expect(ranAt > '2026-03-04T05:06:07.089Z').toBe(true);
    const results: ChatMessagePart[] = [];
    for (const c of calls) {
      const tool = tools.find((t) => t.name === c.toolName)!;
      results.push({ type: 'tool-result', tool_call_id: c.toolCallId, tool_name: c.toolName, result: await tool.execute(c.input, { ...ctx, toolCallId: c.toolCallId }) });
    }
    history.push({ role: 'assistant', content: calls.map((c) => ({ type: 'tool-call', tool_call_id: c.toolCallId, tool_name: c.toolName, args: c.input })) }, { role: 'tool', content: results });
    const second = await step(history);
    expect(second.flatMap((e) => (e.type === 'text-delta' ? [e.text] : [])).join('')).toBe(`get_time returned "${ranAt}"\nadd returned 6.5`);
    expect(second.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
  });
});
