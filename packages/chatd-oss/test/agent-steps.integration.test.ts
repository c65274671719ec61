// Issue 26, the step loop on real PostgreSQL with the mock clock: scripted test models that emit tool calls, and
// real registry tools. A turn of several steps is one run; each step's assistant message is durable before its
// tools run; results land in one `tool` message per step; interrupt, timeouts, the step limit, fencing and the
// recovery of a dead run's open calls.
import { createMockClock, type MockClock } from '@chatd/clock';
import type { ChatMessage, ChatMessagePart } from '@chatd/protocol';
import { createMemoryPubSub } from '@chatd/pubsub';
import type { LanguageModelV3CallOptions, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLiveStreams, type LiveSignal } from '../src/live/live-buffer.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { CANCELLED_TOOL_RESULT, INTERRUPTED_TOOL_RESULT, type ServerTool } from '../src/tools/server-tool.js';
import { TOOL_TIMEOUT_TIMER_TAG, createToolRegistry } from '../src/tools/tool-registry.js';
import { ModelProviderError } from '../src/model/model-error.js';
import { RETRY_BACKOFF_TIMER_TAG, STEP_LIMIT_ERROR_KIND } from '../src/worker/chat-run.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { createTestModel, finishPart, textDelta, usage } from './helpers/test-models.js';
import { useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

const text = (t: string) => ({ type: 'text' as const, text: t });

/** Stream parts of one tool call whose input is written in two chunks. */
function toolCallParts(id: string, name: string, input: unknown): LanguageModelV3StreamPart[] {
  const json = JSON.stringify(input);
  const cut = Math.floor(json.length / 2);
  return [
    { type: 'tool-input-start', id, toolName: name },
    { type: 'tool-input-delta', id, delta: json.slice(0, cut) },
    { type: 'tool-input-delta', id, delta: json.slice(cut) },
    { type: 'tool-input-end', id },
    { type: 'tool-call', toolCallId: id, toolName: name, input: json },
  ];
}

const toolsFinish = (): LanguageModelV3StreamPart => ({ type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: usage(1, 1) });

/** The tool results the last prompt message of a call carries (what the model sees of the previous step). */
function lastToolResults(call: LanguageModelV3CallOptions) {
  const last = call.prompt.at(-1);
  if (last?.role !== 'tool') return [];
  return last.content.flatMap((p) => (p.type === 'tool-result' ? [{ id: p.toolCallId, output: p.output }] : []));
}

/**
 * A model that calls tools while the last prompt message is not a tool message: `calls(n)` gives step n's
 * calls (n = 1, 2, ...); an empty list, or a tool message last, gives the reply `done`.
 */
function scriptedModel(calls: (step: number) => Array<{ id: string; name: string; input: unknown }>, options: { alwaysCall?: boolean } = {}) {
  let step = 0;
  return createTestModel('scripted', async function* (call) {
    step++;
    const wanted = options.alwaysCall || call.prompt.at(-1)?.role !== 'tool' ? calls(step) : [];
    if (wanted.length === 0) {
      yield textDelta('do');
      yield textDelta('ne');
      yield finishPart('stop', usage(2, 2));
      return;
    }
    yield textDelta(`step ${step}`);
    for (const c of wanted) yield* toolCallParts(c.id, c.name, c.input);
    yield toolsFinish();
  });
}

function setup(tools: ServerTool<any, any>[], model: ReturnType<typeof createTestModel>, extra: { maxSteps?: number; clock?: MockClock; workerId?: string } = {}) {
  const clock = extra.clock ?? createMockClock();
  const store: ChatStore = createChatStore({ pool, clock });
  const pubsub = createMemoryPubSub();
  const live = createLiveStreams();
  const publisher = createChatPublisher({ pubsub, clock });
  const registry = createToolRegistry(tools, { clock });
  const worker = createChatWorker({
    store,
    pubsub,
    live,
    clock,
    publisher,
    workerId: extra.workerId ?? 'worker-1',
    model,
    tools: registry,
    ...(extra.maxSteps !== undefined ? { maxSteps: extra.maxSteps } : {}),
  });
  bed.workers.push(worker);
  return { clock, store, pubsub, live, publisher, worker };
}

async function newChat(store: ChatStore, prompt = 'use the tools') {
  const { chat } = await store.createChat({ ownerId, content: [text(prompt)] });
  return chat.id;
}

/** Every message of the chat, ascending, as the wire has them. */
async function history(store: ChatStore, chatId: string): Promise<ChatMessage[]> {
  return (await store.messagesAfter(chatId, 0n)).messages;
}

const addTool: ServerTool<{ numbers: number[] }> = {
  name: 'add',
  description: 'Sums a list of numbers.',
  inputSchema: z.object({ numbers: z.array(z.number()) }),
  execute: ({ numbers }) => ({ sum: numbers.reduce((a, b) => a + b, 0) }),
};

/** A tool that resolves only once `n` of its calls are running at once (proves they run in parallel). */
function rendezvousTool(name: string, n: number): ServerTool<{ tag: string }> {
  let running = 0;
  let open!: () => void;
  const all = new Promise<void>((r) => (open = r));
  return {
    name,
    inputSchema: { type: 'object', properties: { tag: { type: 'string' } }, required: ['tag'] },
    async execute({ tag }) {
      if (++running === n) open();
      await all;
      return `met ${tag}`;
    },
  };
}

describe('agent steps', () => {
  it('a two-step turn with two parallel server tools: one run, the step durable before its tools, both results in one tool message, then the reply', async () => {
    const meet = rendezvousTool('meet', 2);
    // `meet` returns only once both of its calls run at once; `add` runs beside them.
    const model2 = scriptedModel((step) =>
      step === 1
        ? [
            { id: 'call-a', name: 'meet', input: { tag: 'a' } },
            { id: 'call-b', name: 'meet', input: { tag: 'b' } },
            { id: 'call-c', name: 'add', input: { numbers: [1, 2, 3] } },
          ]
        : [],
    );
    let rolesWhileToolRan: string[] = [];
    const add: ServerTool<{ numbers: number[] }> = {
      ...addTool,
      async execute(input, ctx) {
        const { rows } = await pool.query<{ role: string }>('SELECT role FROM chat_messages WHERE chat_id = $1 ORDER BY id', [ctx.chatId]);
        rolesWhileToolRan = rows.map((r) => r.role);
        return addTool.execute(input, ctx);
      },
    };
    const { store, live, worker } = setup([add, meet], model2);
    const chatId = await newChat(store);
    const signals: LiveSignal[] = [];
    live.subscribe(chatId, (s) => signals.push(s));
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const result = await ended;
    expect(result.outcome).toBe('finished');

    const messages = await history(store, chatId);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    const [, step1, tool, reply] = messages;
    expect(result.messageIds).toEqual([step1!.id, tool!.id, reply!.id]);
    expect(step1!.content).toEqual([
      text('step 1'),
      { type: 'tool-call', tool_call_id: 'call-a', tool_name: 'meet', args: { tag: 'a' } },
      { type: 'tool-call', tool_call_id: 'call-b', tool_name: 'meet', args: { tag: 'b' } },
      { type: 'tool-call', tool_call_id: 'call-c', tool_name: 'add', args: { numbers: [1, 2, 3] } },
    ]);
    expect(tool!.content).toEqual([
      { type: 'tool-result', tool_call_id: 'call-a', tool_name: 'meet', result: 'met a' },
      { type: 'tool-result', tool_call_id: 'call-b', tool_name: 'meet', result: 'met b' },
      { type: 'tool-result', tool_call_id: 'call-c', tool_name: 'add', result: { sum: 6 } },
    ]);
    expect(reply!.content).toEqual([text('done')]);
    expect(rolesWhileToolRan).toEqual(['user', 'assistant']);

    // One run, one seq sequence; every message carries the run and the last seq it covers.
    const parts = signals.flatMap((s) => (s.kind === 'part' ? [s.part] : []));
    expect(parts.map((p) => p.seq)).toEqual(parts.map((_, i) => i + 1));
    expect(new Set(parts.map((p) => p.runId))).toEqual(new Set([result.runId]));
    for (const m of [step1, tool, reply]) expect(m!.run_id).toBe(result.runId);
    const bySeq = (seq: number) => parts[seq - 1]!.event.message_part;
    // Step 1 ends with the complete third call; the tool message covers the three results; the reply the rest.
    expect(bySeq(step1!.last_seq!).part).toEqual({ type: 'tool-call', tool_call_id: 'call-c', tool_name: 'add', args: { numbers: [1, 2, 3] } });
    expect(tool!.last_seq).toBe(step1!.last_seq! + 3);
    expect(bySeq(tool!.last_seq!)).toMatchObject({ role: 'tool', part: { type: 'tool-result', tool_call_id: 'call-c', result: { sum: 6 } } });
    expect(reply!.last_seq).toBe(parts.length);
    // Inputs streamed as args_delta chunks while the model wrote them.
    const deltas = parts.filter((p) => p.event.message_part.part.type === 'tool-call' && 'args_delta' in p.event.message_part.part);
    expect(deltas).toHaveLength(6);
    expect(signals.at(-1)).toEqual({ kind: 'run_ended', runId: result.runId, persisted: true });

    // The model was offered the tools and saw the results in its second step.
    expect(model2.calls).toHaveLength(2);
    expect(model2.calls[0]!.tools?.map((t) => t.name)).toEqual(['add', 'meet']);
    expect(lastToolResults(model2.calls[1]!)).toEqual([
      { id: 'call-a', output: { type: 'text', value: 'met a' } },
      { id: 'call-b', output: { type: 'text', value: 'met b' } },
      { id: 'call-c', output: { type: 'json', value: { sum: 6 } } },
    ]);
  });

  it('invalid input becomes an is_error result that the next step sees', async () => {
    const model = scriptedModel((step) => (step === 1 ? [{ id: 'bad', name: 'add', input: { numbers: 'one, two' } }] : []));
    let executed = 0;
    const { store, worker } = setup([{ ...addTool, execute: (i: { numbers: number[] }) => (executed++, addTool.execute(i, undefined as never)) }], model);
    const chatId = await newChat(store);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    expect((await ended).outcome).toBe('finished');
    expect(executed).toBe(0);
    const tool = (await history(store, chatId)).find((m) => m.role === 'tool')!;
    const part = tool.content![0] as ChatMessagePart & { result: { error: string }; is_error: boolean };
    expect(part.is_error).toBe(true);
    expect(part.result.error).toMatch(/^invalid input: numbers: /);
    const seen = lastToolResults(model.calls[1]!);
    expect(seen).toEqual([{ id: 'bad', output: { type: 'error-json', value: part.result } }]);
  });

  it('a tool that outlives its timeout on the mock clock gets an is_error result and the turn goes on', async () => {
    let signal: AbortSignal | undefined;
    const slow: ServerTool = {
      name: 'slow',
      inputSchema: z.object({}),
      timeoutMs: 2_000,
      execute: (_input, ctx) => ((signal = ctx.signal), new Promise(() => {})),
    };
    const model = scriptedModel((step) => (step === 1 ? [{ id: 's1', name: 'slow', input: {} }] : []));
    const { clock, store, worker } = setup([slow], model);
    const chatId = await newChat(store);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const timer = await clock.waitForTimer({ tag: TOOL_TIMEOUT_TIMER_TAG }, { timeoutMs: 10_000 });
    await clock.advance(timer.dueAtMs - clock.nowMs());
    expect((await ended).outcome).toBe('finished');
    expect(signal?.aborted).toBe(true);
    const tool = (await history(store, chatId)).find((m) => m.role === 'tool')!;
    expect(tool.content).toEqual([{ type: 'tool-result', tool_call_id: 's1', tool_name: 'slow', result: { error: 'timed out after 2000 ms' }, is_error: true }]);
  });

  it('interrupt during a server tool aborts its signal, keeps the step and the finished results, and cancels the open calls', async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let signal: AbortSignal | undefined;
    const hang: ServerTool = {
      name: 'hang',
      inputSchema: z.object({}),
      execute: (_input, ctx) => {
        signal = ctx.signal;
        started();
        return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      },
    };
    const model = scriptedModel((step) => (step === 1 ? [{ id: 'quick', name: 'add', input: { numbers: [2, 2] } }, { id: 'stuck', name: 'hang', input: {} }] : []));
    const { store, publisher, worker } = setup([addTool, hang], model);
    const chatId = await newChat(store);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    await running;
    await publisher.publishChange(await store.interruptChat(chatId));
    const result = await ended;
    expect(result.outcome).toBe('interrupted');
    expect(result.status).toBe('waiting');
    expect(signal?.aborted).toBe(true);
    const messages = await history(store, chatId);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(messages[1]!.content?.filter((p) => p.type === 'tool-call').map((p) => (p as { tool_call_id: string }).tool_call_id)).toEqual(['quick', 'stuck']);
    expect(messages[2]!.content).toEqual([
      { type: 'tool-result', tool_call_id: 'quick', tool_name: 'add', result: { sum: 4 } },
      { type: 'tool-result', tool_call_id: 'stuck', tool_name: 'hang', result: CANCELLED_TOOL_RESULT, is_error: true },
    ]);
    expect(model.calls).toHaveLength(1);
  });

  it('interrupt while the model writes a tool call persists the partial step and gives the cut call the cancelled result', async () => {
    let reached!: () => void;
    const atCut = new Promise<void>((r) => (reached = r));
    const model = createTestModel('cut', async function* (call) {
      yield textDelta('let me add');
      yield { type: 'tool-input-start', id: 'half', toolName: 'add' };
      yield { type: 'tool-input-delta', id: 'half', delta: '{"numb' };
      reached();
      await new Promise((_, reject) => call.abortSignal!.addEventListener('abort', () => reject(new Error('aborted'))));
    });
    const { store, publisher, worker } = setup([addTool], model);
    const chatId = await newChat(store);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    await atCut;
    await publisher.publishChange(await store.interruptChat(chatId));
    expect((await ended).outcome).toBe('interrupted');
    const messages = await history(store, chatId);
    expect(messages.slice(1).map((m) => m.content)).toEqual([
      [text('let me add'), { type: 'tool-call', tool_call_id: 'half', tool_name: 'add', args: {} }],
      [{ type: 'tool-result', tool_call_id: 'half', tool_name: 'add', result: CANCELLED_TOOL_RESULT, is_error: true }],
    ]);
  });

  it('a provider-executed call is stored and streamed with provider_executed and never run by us', async () => {
    let executed = 0;
    const search: ServerTool = { name: 'web_search', inputSchema: z.object({}).passthrough(), execute: () => (executed++, 'ours') };
    const model = createTestModel('hosted', async function* () {
      yield { type: 'tool-call', toolCallId: 'ws-1', toolName: 'web_search', input: '{"query":"chatd"}', providerExecuted: true };
      yield textDelta('found it');
      yield finishPart('stop');
    });
    const { store, live, worker } = setup([search], model);
    const chatId = await newChat(store);
    const signals: LiveSignal[] = [];
    live.subscribe(chatId, (s) => signals.push(s));
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    expect((await ended).outcome).toBe('finished');
    expect(executed).toBe(0);
    expect(model.calls).toHaveLength(1);
    const messages = await history(store, chatId);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(messages[1]!.content).toEqual([
      { type: 'tool-call', tool_call_id: 'ws-1', tool_name: 'web_search', args: { query: 'chatd' }, provider_executed: true },
      text('found it'),
    ]);
    const streamed = signals.flatMap((s) => (s.kind === 'part' ? [s.part.event.message_part.part] : []));
    expect(streamed[0]).toEqual({ type: 'tool-call', tool_call_id: 'ws-1', tool_name: 'web_search', args: { query: 'chatd' }, provider_executed: true });
  });

  it('a retried model step repeats that step only: the persisted step and its tool results are not redone', async () => {
    let executed = 0;
    const counted: ServerTool<{ numbers: number[] }> = { ...addTool, execute: (i, ctx) => (executed++, addTool.execute(i, ctx)) };
    const inner = scriptedModel((step) => (step === 1 ? [{ id: 'once', name: 'add', input: { numbers: [1] } }] : []));
    let calls = 0;
    const model = {
      ...inner,
      async doStream(call: LanguageModelV3CallOptions) {
        // The second model call (the first attempt of step 2) fails as a retryable overload.
        if (++calls === 2) throw new ModelProviderError('OVERLOADED', 'model is overloaded', { provider: 'flaky', statusCode: 529 });
        return inner.doStream(call);
      },
    };
    const { clock, store, worker } = setup([counted], model);
    const chatId = await newChat(store);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const backoff = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG }, { timeoutMs: 10_000 });
    await clock.advance(backoff.dueAtMs - clock.nowMs());
    expect((await ended).outcome).toBe('finished');
    expect(calls).toBe(3);
    expect(executed).toBe(1);
    expect((await history(store, chatId)).map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    // The retry was given the same prompt as the failed attempt: the first step and its result, once each.
    expect(lastToolResults(inner.calls.at(-1)!).map((r) => r.id)).toEqual(['once']);
  });

  it(`the turn ends with an error of kind ${STEP_LIMIT_ERROR_KIND} after maxSteps model steps`, async () => {
    const model = scriptedModel((step) => [{ id: `call-${step}`, name: 'add', input: { numbers: [step] } }], { alwaysCall: true });
    const { store, worker } = setup([addTool], model, { maxSteps: 2 });
    const chatId = await newChat(store);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const result = await ended;
    expect(result.outcome).toBe('failed');
    expect(result.status).toBe('error');
    expect(result.error).toMatchObject({ kind: STEP_LIMIT_ERROR_KIND });
    expect(model.calls).toHaveLength(2);
    expect((await history(store, chatId)).map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'tool']);
    expect((await store.getChat(chatId))?.last_error).toMatchObject({ kind: STEP_LIMIT_ERROR_KIND });
  });

  it('a fenced run never persists its late tool results', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const late: ServerTool = { name: 'late', inputSchema: z.object({}), execute: async () => (started(), await gate, 'late result') };
    const model = scriptedModel((step) => (step === 1 ? [{ id: 'l1', name: 'late', input: {} }] : []));
    const { store, worker } = setup([late], model);
    const chatId = await newChat(store);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    await running;
    // Another party takes the chat (an edit of the prompt) without the run hearing of it: only the fence stops it.
    const prompt = (await history(store, chatId))[0]!;
    await store.editMessage({ chatId, messageId: prompt.id, content: [text('changed my mind')] });
    release();
    const result = await ended;
    expect(result.outcome).toBe('fenced');
    const { rows } = await pool.query('SELECT role FROM chat_messages WHERE run_id = $1 ORDER BY id', [result.runId]);
    expect(rows.map((r) => r.role)).toEqual(['assistant']);
    expect(model.calls).toHaveLength(1);
  });

  it('recovery: a run whose worker died after persisting a step re-runs idempotent calls with the same toolCallId, records interrupted for idempotent:false, never re-runs persisted results', async () => {
    const clock = createMockClock();
    const store = createChatStore({ pool, clock });
    const chatId = await newChat(store);
    // The dead worker: step 1 and its results persisted, step 2 persisted, then it died before its tools finished.
    const [dead] = await store.acquireChats('dead-worker', 50);
    expect(dead?.chat.id).toBe(chatId);
    const deadRun = dead!.runId;
    await store.persistMessage({ chatId, runId: deadRun, role: 'assistant', lastSeq: 3, content: [{ type: 'tool-call', tool_call_id: 'done-1', tool_name: 'count', args: { n: 1 } }] });
    await store.persistMessage({ chatId, runId: deadRun, role: 'tool', lastSeq: 4, content: [{ type: 'tool-result', tool_call_id: 'done-1', tool_name: 'count', result: 'counted 1' }] });
    await store.persistMessage({
      chatId,
      runId: deadRun,
      role: 'assistant',
      lastSeq: 9,
      content: [
        text('two more'),
        { type: 'tool-call', tool_call_id: 'again-2', tool_name: 'count', args: { n: 2 } },
        { type: 'tool-call', tool_call_id: 'once-3', tool_name: 'charge', args: { n: 3 } },
      ],
    });
    await clock.advance(10 * 60_000);

    const runsByCall = new Map<string, number>();
    const counted = (ctx: { toolCallId: string }) => runsByCall.set(ctx.toolCallId, (runsByCall.get(ctx.toolCallId) ?? 0) + 1);
    const count: ServerTool<{ n: number }> = { name: 'count', inputSchema: z.object({ n: z.number() }), execute: ({ n }, ctx) => (counted(ctx), `counted ${n}`) };
    const charge: ServerTool<{ n: number }> = { name: 'charge', idempotent: false, inputSchema: z.object({ n: z.number() }), execute: ({ n }, ctx) => (counted(ctx), `charged ${n}`) };
    const model = scriptedModel(() => []);
    const { worker } = setup([count, charge], model, { clock, workerId: 'survivor' });
    expect(await worker.recoverNow()).toBe(1);
    const ended = worker.waitForRunEnd(chatId);
    worker.start();
    const result = await ended;
    expect(result.outcome).toBe('finished');
    expect(result.runId).not.toBe(deadRun);

    expect(Object.fromEntries(runsByCall)).toEqual({ 'again-2': 1 });
    const messages = await history(store, chatId);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'tool', 'assistant']);
    expect(messages[4]!.run_id).toBe(result.runId);
    expect(messages[4]!.content).toEqual([
      { type: 'tool-result', tool_call_id: 'again-2', tool_name: 'count', result: 'counted 2' },
      { type: 'tool-result', tool_call_id: 'once-3', tool_name: 'charge', result: INTERRUPTED_TOOL_RESULT, is_error: true },
    ]);
    // The model's one step saw both results after the persisted step.
    expect(model.calls).toHaveLength(1);
    expect(lastToolResults(model.calls[0]!).map((r) => r.id)).toEqual(['again-2', 'once-3']);
    expect(messages[5]!.content).toEqual([text('done')]);
  });
});
