import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isChatdError } from '../src/chatd-error.js';
import { CANCELLED_TOOL_RESULT, MAX_PARALLEL_TOOL_CALLS, MAX_TOOL_RESULT_BYTES, type ServerTool } from '../src/tools/server-tool.js';
import { TOOL_TIMEOUT_TIMER_TAG, createToolRegistry } from '../src/tools/tool-registry.js';

const ctx = (signal = new AbortController().signal) => ({ chatId: 'c', runId: 'r', signal });
const add: ServerTool<{ numbers: number[] }> = {
  name: 'add',
  description: 'adds numbers',
  inputSchema: z.object({ numbers: z.array(z.number()) }),
  execute: ({ numbers }) => ({ sum: numbers.reduce((a, b) => a + b, 0) }),
};

function expectConfigError(fn: () => unknown, pattern: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isChatdError(caught, 'CONFIG')).toBe(true);
  expect((caught as Error).message).toMatch(pattern);
}

describe('createToolRegistry', () => {
  it('refuses bad and duplicate names and unusable schemas with CONFIG', () => {
    const clock = createMockClock();
    expectConfigError(() => createToolRegistry([{ ...add, name: 'bad name' }], { clock }), /must match/);
    expectConfigError(() => createToolRegistry([{ ...add, name: 'x'.repeat(65) }], { clock }), /must match/);
    expectConfigError(() => createToolRegistry([add, { ...add }], { clock }), /registered twice/);
    expectConfigError(() => createToolRegistry([{ ...add, inputSchema: 'nope' as never }], { clock }), /input schema/);
  });

  it('offers zod and JSON Schema tools as function tools in registration order', () => {
    const json: ServerTool = { name: 'get_time', inputSchema: { type: 'object', properties: {}, additionalProperties: false }, execute: () => 't', idempotent: false };
    const registry = createToolRegistry([add, json], { clock: createMockClock() });
    const defs = registry.definitions();
    expect(defs.map((d) => d.name)).toEqual(['add', 'get_time']);
    expect(defs[0]).toMatchObject({ type: 'function', description: 'adds numbers', inputSchema: { type: 'object', required: ['numbers'] } });
    expect(defs[0]!.inputSchema).not.toHaveProperty('$schema');
    expect(registry.has('add')).toBe(true);
    expect(registry.isIdempotent('add')).toBe(true);
    expect(registry.isIdempotent('get_time')).toBe(false);
    expect(registry.isIdempotent('missing')).toBe(false);
  });

  it('validates input (zod and JSON Schema), reports unknown tools and throws as is_error outcomes', async () => {
    const json: ServerTool<{ a: number }> = {
      name: 'double',
      inputSchema: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] },
      execute: ({ a }) => a * 2,
    };
    const boom: ServerTool = { name: 'boom', inputSchema: z.object({}), execute: () => Promise.reject(new Error('kaput')) };
    const registry = createToolRegistry([add, json, boom], { clock: createMockClock() });
    const out = await registry.runCalls(
      [
        { toolCallId: '1', toolName: 'add', input: { numbers: [1, 2] } },
        { toolCallId: '2', toolName: 'add', input: { numbers: 'x' } },
        { toolCallId: '3', toolName: 'double', input: { a: 4 } },
        { toolCallId: '4', toolName: 'double', input: { a: 'four' } },
        { toolCallId: '5', toolName: 'nope', input: {} },
        { toolCallId: '6', toolName: 'boom', input: {} },
      ],
      ctx(),
    );
    expect(out[0]).toEqual({ toolCallId: '1', toolName: 'add', result: { sum: 3 }, isError: false });
    expect(out[1]!.isError).toBe(true);
    expect((out[1]!.result as { error: string }).error).toMatch(/^invalid input: numbers: /);
    expect(out[2]).toMatchObject({ result: 8, isError: false });
    expect((out[3]!.result as { error: string }).error).toMatch(/^invalid input: a: /);
    expect(out[4]).toMatchObject({ result: { error: 'unknown tool: nope' }, isError: true });
    expect(out[5]).toMatchObject({ result: { error: 'kaput' }, isError: true });
  });

  it('times a call out on the clock and aborts its signal', async () => {
    const clock = createMockClock();
    let signal: AbortSignal | undefined;
    const slow: ServerTool = { name: 'slow', inputSchema: z.object({}), timeoutMs: 5_000, execute: (_i, c) => ((signal = c.signal), new Promise(() => {})) };
    const registry = createToolRegistry([slow], { clock });
    const done = registry.runCalls([{ toolCallId: '1', toolName: 'slow', input: {} }], ctx());
    const t = await clock.waitForTimer({ tag: TOOL_TIMEOUT_TIMER_TAG });
    await clock.advance(t.dueAtMs - clock.nowMs());
    expect(await done).toEqual([{ toolCallId: '1', toolName: 'slow', result: { error: 'timed out after 5000 ms' }, isError: true }]);
    expect(signal?.aborted).toBe(true);
  });

  it('cancels running calls when the step signal aborts, and refuses oversized results', async () => {
    const clock = createMockClock();
    const step = new AbortController();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const hang: ServerTool = { name: 'hang', inputSchema: z.object({}), execute: (_i, c) => (started(), new Promise((_, rej) => c.signal.addEventListener('abort', () => rej(new Error('aborted'))))) };
    const big: ServerTool = { name: 'big', inputSchema: z.object({}), execute: () => 'x'.repeat(MAX_TOOL_RESULT_BYTES) };
    const registry = createToolRegistry([hang, big], { clock });
    const done = registry.runCalls(
      [
        { toolCallId: '1', toolName: 'big', input: {} },
        { toolCallId: '2', toolName: 'hang', input: {} },
      ],
      ctx(step.signal),
    );
    await running;
    await new Promise((r) => setImmediate(r));
    step.abort();
    const out = await done;
    expect(out[0]!.isError).toBe(true);
    expect((out[0]!.result as { error: string }).error).toMatch(/^result too large/);
    expect(out[1]).toEqual({ toolCallId: '2', toolName: 'hang', result: CANCELLED_TOOL_RESULT, isError: true });
  });

  it(`runs at most ${MAX_PARALLEL_TOOL_CALLS} calls at once, results in call order, and streams emitted deltas`, async () => {
    let running = 0;
    let peak = 0;
    const gates: Array<() => void> = [];
    const wait: ServerTool<{ n: number }> = {
      name: 'wait',
      inputSchema: z.object({ n: z.number() }),
      async execute({ n }, c) {
        running++;
        peak = Math.max(peak, running);
        c.emit(`start ${n}`);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return n;
      },
    };
    const registry = createToolRegistry([wait], { clock: createMockClock() });
    const deltas: string[] = [];
    const calls = Array.from({ length: 7 }, (_, n) => ({ toolCallId: `c${n}`, toolName: 'wait', input: { n } }));
    const done = registry.runCalls(calls, { ...ctx(), onDelta: (id, _name, d) => deltas.push(`${id}:${d}`) });
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      await new Promise((r) => setImmediate(r));
      gates.shift()?.();
    }
    const out = await done;
    expect(peak).toBe(MAX_PARALLEL_TOOL_CALLS);
    expect(out.map((o) => o.result)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(deltas).toHaveLength(7);
    expect(deltas[0]).toBe('c0:start 0');
  });
});
