// Compaction and generated titles in the worker (contract.md#compaction), on real PostgreSQL, the demo model and
// the mock clock: compaction happens at the first step whose estimate passes the threshold and not at the step
// before; the next step's input is the summary plus what follows it; the visible history keeps every message; a
// crash inside the compaction's transaction leaves no summary (and the retry exactly one); titles are generated once,
// fall back to the title rule when the title model fails, and never replace a title set with PATCH.
import { createMockClock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import { chatEventChannel, createMemoryPubSub, decodeChatEvent, type ChatEvent } from '@chatd/pubsub';
import { waitFor } from '@chatd/testkit';
import type { LanguageModelV3, LanguageModelV3CallOptions } from '@ai-sdk/provider';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCostStore } from '../src/cost/cost-store.js';
import { createModelCallCharger } from '../src/cost/model-call-charger.js';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import { ModelProviderError } from '../src/model/model-error.js';
import { COMPACTION_SYSTEM_PROMPT, TITLE_SYSTEM_PROMPT, demoTitleText } from '../src/model/task-prompts.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore } from '../src/store/chat-store.js';
import { createChatTitleStore } from '../src/store/chat-title-store.js';
import { createCompactionStore, type CompactionStoreHooks } from '../src/store/compaction-store.js';
import { createDeploymentConfigStore } from '../src/store/deployment-config-store.js';
import { NOOP_LOGGER } from '../src/logger.js';
import { SAVE_RETRY_TIMER_TAG, type CompactionEvent, type ResolvedModel } from '../src/worker/chat-run.js';
import { createChatTitler } from '../src/worker/chat-title.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { CHAT_SUMMARIZED_TOOL_NAME, SUMMARY_MESSAGE_PREFIX } from '../src/worker/compaction.js';
import { createTestModel, finishPart, textDelta } from './helpers/test-models.js';
import { driveTimersUntil, useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
let pool: pg.Pool;
let ownerId: string;
beforeAll(() => void ({ pool, ownerId } = bed));

const text = (t: string) => ({ type: 'text' as const, text: t });
/** Ten words each: with 5-word replies the demo's estimates before turns 1, 2, 3 are 10, 25 and 40. */
const PROMPTS = ['alpha one two three four five six seven eight nine', 'beta one two three four five six seven eight nine', 'gamma one two three four five six seven eight nine'];
const CONTEXT_LIMIT = 100;
const THRESHOLD = 30;

/** The demo model, recording every call it gets. */
function recordingDemo(clock: ReturnType<typeof createMockClock>) {
  const demo = createDemoLanguageModel({ clock, tokensPerSecond: 10, replyTokens: 5 });
  const calls: LanguageModelV3CallOptions[] = [];
  const model: LanguageModelV3 = { ...demo, doStream: (c) => (calls.push(c), demo.doStream(c)) };
  return { model, calls };
}

function setup(options: { hooks?: CompactionStoreHooks; titleModel?: LanguageModelV3; titles?: boolean; summarizer?: { configId: string; model: LanguageModelV3 }; costs?: boolean } = {}) {
  const clock = createMockClock();
  const costs = options.costs ? createCostStore({ pool, clock }) : undefined;
  const store = createChatStore({ pool, clock });
  const pubsub = createMemoryPubSub();
  const publisher = createChatPublisher({ pubsub, clock });
  const compaction = createCompactionStore({ pool, clock, ...(options.hooks ? { hooks: options.hooks } : {}) });
  const deploymentConfig = createDeploymentConfigStore({ pool, clock });
  const { model, calls } = recordingDemo(clock);
  const resolve = (chat: Chat): ResolvedModel => {
    if (chat.last_model_config_id === 'title-model' && options.titleModel) return { model: options.titleModel, provider: 'broken' };
    if (options.summarizer && chat.last_model_config_id === options.summarizer.configId) return { model: options.summarizer.model, provider: 'summarizer' };
    return { model, provider: 'demo', kind: 'demo', contextLimit: CONTEXT_LIMIT, compressionThreshold: THRESHOLD };
  };
  const events: CompactionEvent[] = [];
  const titler = createChatTitler({
    titles: createChatTitleStore({ pool, clock }),
    // A stand-in for the settings: the title model is "title-model" when the test brings one.
    deploymentConfig: { get: async () => ({ title_model_config_id: options.titleModel ? 'title-model' : null, compaction_model_config_id: null }), update: deploymentConfig.update },
    resolveModel: resolve,
    publisher,
    clock,
    logger: NOOP_LOGGER,
    ...(costs ? { charge: createModelCallCharger({ costs, logger: NOOP_LOGGER }) } : {}),
  });
  const worker = createChatWorker({
    store,
    pubsub,
    live: createLiveStreams(),
    clock,
    workerId: 'worker-1',
    model: resolve,
    publisher,
    compaction: { store: compaction, deploymentConfig, onCompaction: (e) => events.push(e) },
    ...(options.titles ? { titler } : {}),
    ...(costs ? { costs } : {}),
  });
  bed.workers.push(worker);
  return { clock, store, pubsub, worker, calls, events, compaction, titler, deploymentConfig };
}

type Bed = ReturnType<typeof setup>;

/** Posts `prompt` (or creates the chat with it) and drives the demo's timers until the run it starts has ended. */
async function turn(b: Bed, chatId: string | undefined, prompt: string): Promise<string> {
  let id = chatId;
  if (id === undefined) id = (await b.store.createChat({ ownerId, content: [text(prompt)] })).chat.id;
  const ended = b.worker.waitForRunEnd(id);
  if (chatId !== undefined) await b.store.sendMessage({ chatId: id, content: [text(prompt)] });
  b.worker.start();
  b.worker.wake();
  const result = await driveTimersUntil(b.clock, ended);
  expect(result.outcome).toBe('finished');
  await driveTimersUntil(b.clock, b.worker.idle());
  return id;
}

const summaryRows = async (chatId: string) =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages WHERE chat_id = $1 AND summary', [chatId])).rows[0]!.n;

describe('automatic compaction', () => {
  it('compacts before the first step whose estimate passes the threshold, not the step before; the next step sees summary + the rest', async () => {
    const b = setup();
    const chatId = await turn(b, undefined, PROMPTS[0]!);
    await turn(b, chatId, PROMPTS[1]!);
    // Estimate before turn 2: 10 reported + 5 (reply) + 10 (prompt) = 25, not above 30% of 100.
    expect(b.events).toEqual([]);
    expect(await summaryRows(chatId)).toBe(0);
    expect(b.calls).toHaveLength(2);

    await turn(b, chatId, PROMPTS[2]!);
    // Estimate before turn 3: 25 + 15 = 40 > 30: one compaction, then the step.
    expect(b.events.map((e) => [e.source, e.outcome])).toEqual([['automatic', 'compacted']]);
    expect(await summaryRows(chatId)).toBe(1);
    expect(b.calls).toHaveLength(4);
    const [summaryCall, step] = [b.calls[2]!, b.calls[3]!];
    expect(summaryCall.prompt[0]).toEqual({ role: 'system', content: COMPACTION_SYSTEM_PROMPT });
    // What it summarized: the first two prompts and the first reply (the newest reply and prompt fit in the 15 kept tokens).
    const transcript = (summaryCall.prompt[1] as { content: { text: string }[] }).content[0]!.text;
    expect(transcript.split('\n').map((l) => l.split(':')[0])).toEqual(['User', 'Assistant', 'User']);
    expect(transcript).toContain(PROMPTS[0]);
    expect(transcript).toContain(PROMPTS[1]);

    const visible = (await b.store.listMessages({ chatId, limit: 200 })).messages.reverse();
    const tool = visible.find((m) => m.role === 'tool')!;
    const result = (tool.content![0] as { result: Record<string, unknown> }).result;
    expect(result).toEqual({ summary: expect.stringMatching(/^Summary of \d+ words: User: alpha/), source: 'automatic', threshold_percent: 30, usage_percent: 40, context_tokens: 40, context_limit_tokens: 100 });

    // The step after the compaction got the summary, then the newest reply and prompt, and nothing older.
    const replies = visible.filter((m) => m.role === 'assistant' && m.content?.[0]?.type === 'text');
    expect(step.prompt).toEqual([
      { role: 'user', content: [{ type: 'text', text: `${SUMMARY_MESSAGE_PREFIX}\n${result.summary}` }] },
      { role: 'assistant', content: [{ type: 'text', text: (replies[1]!.content![0] as { text: string }).text }] },
      { role: 'user', content: [{ type: 'text', text: PROMPTS[2] }] },
    ]);

    // The visible history keeps every message: 3 prompts, 3 replies, and the chat_summarized call and result.
    expect(visible.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'tool', 'assistant']);
    expect(visible[5]!.content).toEqual([{ type: 'tool-call', tool_call_id: expect.stringMatching(/^chat_summarized_/), tool_name: CHAT_SUMMARIZED_TOOL_NAME, args: { source: 'automatic' } }]);
    expect(visible[6]!).toMatchObject({ content: [{ type: 'tool-result', tool_name: CHAT_SUMMARIZED_TOOL_NAME }] });
    // Both visible compaction messages carry the run cursor (contract.md#steps).
    expect(visible[5]!.run_id).toBe(visible[7]!.run_id);
    expect(visible[6]!.last_seq).toBeGreaterThan(visible[5]!.last_seq!);

    // The model's history from now on: the summary and what follows it.
    const model = await b.store.modelHistory(chatId);
    expect(model.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(model[0]!.summary).toBe(true);
  });

  it('a crash between the inserts of the compaction leaves no summary and the visible history unchanged; the retry saves exactly one', async () => {
    let crashes = 1;
    const b = setup({
      hooks: {
        afterSummaryInsert: () => {
          if (crashes-- > 0) throw new Error('replica died mid-transaction');
        },
      },
    });
    const chatId = await turn(b, undefined, PROMPTS[0]!);
    await turn(b, chatId, PROMPTS[1]!);
    const before = (await b.store.listMessages({ chatId, limit: 200 })).messages;

    const ended = b.worker.waitForRunEnd(chatId);
    await b.store.sendMessage({ chatId, content: [text(PROMPTS[2]!)] });
    b.worker.wake();
    // Drive the summary's tokens until the failed save waits to retry.
    const retry = driveTimersUntil(b.clock, b.clock.waitForTimer({ tag: SAVE_RETRY_TIMER_TAG }, { timeoutMs: 10_000 }));
    await retry;
    expect(await summaryRows(chatId)).toBe(0);
    const during = (await b.store.listMessages({ chatId, limit: 200 })).messages;
    // Only the new prompt was added: no compaction message of the rolled-back transaction is visible.
    expect(during.slice(1)).toEqual(before);
    expect(during[0]!.role).toBe('user');

    await b.clock.advance(SAVE_RETRY_TIMER_DELAY);
    expect((await driveTimersUntil(b.clock, ended)).outcome).toBe('finished');
    expect(await summaryRows(chatId)).toBe(1);
    const visible = (await b.store.listMessages({ chatId, limit: 200 })).messages;
    expect(visible.filter((m) => m.content?.some((p) => p.type === 'tool-call' && p.tool_name === CHAT_SUMMARIZED_TOOL_NAME))).toHaveLength(1);
  });

  it('the store writes all three messages or none', async () => {
    const b = setup({ hooks: { afterSummaryInsert: () => Promise.reject(new Error('killed')) } });
    const chatId = await turn(b, undefined, PROMPTS[0]!);
    const { rows } = await pool.query<{ id: string }>(`UPDATE chats SET run_id = gen_random_uuid() WHERE id = $1 RETURNING run_id AS id`, [chatId]);
    await pool.query('INSERT INTO chat_runs (id, chat_id, worker_id, started_at) VALUES ($1, $2, $3, now())', [rows[0]!.id, chatId, 'w']);
    const count = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages WHERE chat_id = $1', [chatId])).rows[0]!.n;
    const n = await count();
    await expect(
      b.compaction.persistCompaction({ chatId, runId: rows[0]!.id, summary: [text('s')], call: [], callLastSeq: 1, result: [], resultLastSeq: 2 }),
    ).rejects.toThrow('killed');
    expect(await count()).toBe(n);
    expect(await summaryRows(chatId)).toBe(0);
  });
});

const SAVE_RETRY_TIMER_DELAY = 1_000;

describe('manual compaction and the compaction model', () => {
  it('a request on a chat about to run (pending) is honoured before its next step, keeping the newest part', async () => {
    const b = setup();
    const chatId = await turn(b, undefined, PROMPTS[0]!);
    const ended = b.worker.waitForRunEnd(chatId);
    await b.store.sendMessage({ chatId, content: [text(PROMPTS[1]!)] });
    // Pending: no status is written, the run that takes the chat compacts first.
    expect(await b.compaction.requestCompaction({ chatId, ownerId })).toEqual({ request: 'next_step' });
    expect((await b.store.getChat(chatId))!.status).toBe('pending');
    b.worker.wake();
    await driveTimersUntil(b.clock, ended);
    expect(b.events.map((e) => [e.source, e.outcome])).toEqual([['manual', 'compacted']]);
    expect(await b.compaction.pendingRequest(chatId)).toBeUndefined();
    // The first prompt was summarized; the reply and the new prompt were kept (15 tokens: half the threshold).
    const step = b.calls.at(-1)!;
    expect(step.prompt.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(step.prompt[2]).toEqual({ role: 'user', content: [{ type: 'text', text: PROMPTS[1] }] });
    const tool = (await b.store.listMessages({ chatId })).messages.find((m) => m.role === 'tool')!;
    expect((tool.content![0] as { result: Record<string, unknown> }).result).toMatchObject({ source: 'manual', context_tokens: 25, usage_percent: 25 });
  });

  it("the deployment's compaction_model_config_id writes the summary", async () => {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO chat_model_configs (provider, model, context_limit, created_at, updated_at) VALUES ('demo', 'summarizer', 1000, now(), now()) RETURNING id`,
    );
    const configId = rows[0]!.id;
    const summarizer = createTestModel('summarizer', async function* () {
      yield textDelta('the short version');
      yield finishPart('stop');
    });
    const b = setup({ summarizer: { configId, model: summarizer } });
    await b.deploymentConfig.update({ compaction_model_config_id: configId });
    try {
      const chatId = await turn(b, undefined, PROMPTS[0]!);
      await turn(b, chatId, PROMPTS[1]!);
      await turn(b, chatId, PROMPTS[2]!);
      expect(summarizer.calls).toHaveLength(1);
      expect(summarizer.calls[0]!.prompt[0]).toEqual({ role: 'system', content: COMPACTION_SYSTEM_PROMPT });
      expect(b.calls.some((c) => c.prompt[0]?.role === 'system' && c.prompt[0].content === COMPACTION_SYSTEM_PROMPT)).toBe(false);
      expect(b.calls.at(-1)!.prompt[0]).toEqual({ role: 'user', content: [{ type: 'text', text: `${SUMMARY_MESSAGE_PREFIX}\nthe short version` }] });
    } finally {
      await b.deploymentConfig.update({ compaction_model_config_id: null });
    }
  });
});

describe('generated titles', () => {
  async function titleEvents(b: Bed) {
    const events: ChatEvent[] = [];
    await b.pubsub.subscribe(chatEventChannel(ownerId), (m) => {
      if (m) events.push(decodeChatEvent(m));
    });
    return events;
  }

  it('asks the model once, after the first reply, and publishes title_change', async () => {
    const b = setup({ titles: true });
    const events = await titleEvents(b);
    const chatId = await turn(b, undefined, PROMPTS[0]!);
    expect((await b.store.getChat(chatId))!.title).toBe(demoTitleText(PROMPTS[0]!));
    await waitFor(() => events.some((e) => e.kind === 'title_change'), { what: 'title_change' });
    expect(events.filter((e) => e.kind === 'title_change').map((e) => e.chat.title)).toEqual([demoTitleText(PROMPTS[0]!)]);
    await turn(b, chatId, PROMPTS[1]!);
    const titleCalls = b.calls.filter((c) => c.prompt[0]?.role === 'system' && c.prompt[0].content === TITLE_SYSTEM_PROMPT);
    expect(titleCalls).toHaveLength(1);
    expect(b.titler.metrics()).toEqual({ generated: 1, fallbacks: 0 });
    expect(events.filter((e) => e.kind === 'title_change')).toHaveLength(1);
  });

  it('falls back to the title rule when the title model fails, once', async () => {
    let failures = 0;
    const broken: LanguageModelV3 = {
      specificationVersion: 'v3',
      provider: 'broken',
      modelId: 'broken',
      supportedUrls: {},
      doStream: async () => {
        failures++;
        throw new ModelProviderError('SERVER_ERROR', 'title model down', { provider: 'broken' });
      },
      doGenerate: () => Promise.reject(new Error('unused')),
    };
    const b = setup({ titles: true, titleModel: broken });
    const chatId = await turn(b, undefined, 'plan a trip to the mountains next week please');
    expect(failures).toBe(1);
    expect((await b.store.getChat(chatId))!.title).toBe('plan a trip to the mountains\u2026');
    expect(b.titler.metrics()).toEqual({ generated: 0, fallbacks: 1 });
    await turn(b, chatId, PROMPTS[1]!);
    expect(failures).toBe(1);
  });

  it('never replaces a title set with PATCH', async () => {
    const b = setup({ titles: true });
    const events = await titleEvents(b);
    const { chat } = await b.store.createChat({ ownerId, content: [text(PROMPTS[0]!)] });
    await b.store.updateChat({ chatId: chat.id, title: 'my own title' });
    const ended = b.worker.waitForRunEnd(chat.id);
    b.worker.start();
    await driveTimersUntil(b.clock, ended);
    await driveTimersUntil(b.clock, b.worker.idle());
    expect((await b.store.getChat(chat.id))!.title).toBe('my own title');
    expect(b.calls.some((c) => c.prompt[0]?.role === 'system' && c.prompt[0].content === TITLE_SYSTEM_PROMPT)).toBe(false);
    expect(events.filter((e) => e.kind === 'title_change')).toEqual([]);
  });
});

describe("charging chatd's own model requests", () => {
  it('the compaction summary and the generated title are charged to the chat like its turns (the summary with its run)', async () => {
    const b = setup({ titles: true, costs: true });
    const chatId = await turn(b, undefined, PROMPTS[0]!);
    await turn(b, chatId, PROMPTS[1]!);
    await turn(b, chatId, PROMPTS[2]!);
    expect(b.events.map((e) => e.outcome)).toEqual(['compacted']);
    const isTask = (c: LanguageModelV3CallOptions, prompt: string) => c.prompt[0]?.role === 'system' && c.prompt[0].content === prompt;
    // Three turns, one summary request and one title request reached the model; each is one ledger row.
    expect(b.calls.filter((c) => isTask(c, TITLE_SYSTEM_PROMPT))).toHaveLength(1);
    expect(b.calls.filter((c) => isTask(c, COMPACTION_SYSTEM_PROMPT))).toHaveLength(1);
    expect(b.calls).toHaveLength(5);
    const { rows } = await pool.query<{ run_id: string | null }>('SELECT run_id FROM chat_model_calls WHERE chat_id = $1 ORDER BY id', [chatId]);
    expect(rows).toHaveLength(5);
    // The title request belongs to no run; the summary to the third turn's run, like that turn's own step.
    expect(rows.filter((r) => r.run_id === null)).toHaveLength(1);
    expect(b.events[0]!.runId).toBeDefined();
    expect(rows.filter((r) => r.run_id === b.events[0]!.runId)).toHaveLength(2);
  });
});
