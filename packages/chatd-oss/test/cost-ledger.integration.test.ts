// Cost accounting (issue 33, contract.md#cost) on real PostgreSQL with the mock clock: a two-step turn whose second
// step is retried after an attempt that reported usage. Every call is in the ledger, priced with the configuration's
// table (uncached and cached input, text output and reasoning each at their own price, rounded up per call); each
// step's message carries the sum of its attempts; the chat's total is the sum of all three to the micro-unit. A turn
// that passes the owner's spend limit ends after its current step with an error of kind `spend_limit`.
import { createMockClock } from '@chatd/clock';
import type { LanguageModelV3StreamPart, LanguageModelV3Usage } from '@ai-sdk/provider';
import { createMemoryPubSub } from '@chatd/pubsub';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCostStore } from '../src/cost/cost-store.js';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { createChatPublisher } from '../src/publish/chat-publisher.js';
import { createChatStore } from '../src/store/chat-store.js';
import type { ServerTool } from '../src/tools/server-tool.js';
import { createToolRegistry } from '../src/tools/tool-registry.js';
import { RETRY_BACKOFF_TIMER_TAG, SPEND_LIMIT_ERROR_KIND } from '../src/worker/chat-run.js';
import { createChatWorker } from '../src/worker/chat-worker.js';
import { createServerMetrics } from '../src/server/server-metrics.js';
import { createTestModel, textDelta } from './helpers/test-models.js';
import { useWorkerTestBed } from './helpers/worker-harness.js';

const bed = useWorkerTestBed(10);
let pool: pg.Pool;
let ownerId: string;
let modelConfigId: string;
beforeAll(async () => {
  ({ pool, ownerId } = bed);
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM chat_model_configs WHERE is_default');
  modelConfigId = rows[0]!.id;
});

/** Micro-units per million tokens. */
const PRICES = { input: 3_000_000, output: 15_000_000, cached_input: 300_000, reasoning: 20_000_000 };

function billed(input: number, cacheRead: number, output: number, reasoning: number): LanguageModelV3Usage {
  return {
    inputTokens: { total: input, noCache: input - cacheRead, cacheRead, cacheWrite: undefined },
    outputTokens: { total: output, text: output - reasoning, reasoning },
  };
}

// Step 1: 600 uncached x 3 + 400 cached x 0.3 + 150 text x 15 + 50 reasoning x 20 = 1800 + 120 + 2250 + 1000.
const STEP1 = billed(1000, 400, 200, 50);
const STEP1_COST = 5170;
// Step 2, attempt 1 (a finish without a reason from a strict provider: a cut stream, retried, but billed):
// 1300 x 3 + 7 x 15 = 3900 + 105.
const STEP2_FAILED = billed(1300, 0, 7, 0);
const STEP2_FAILED_COST = 4005;
// Step 2, attempt 2: 300 x 3 + 1001 x 0.3 + 33 x 15 = 900 + 300.3 + 495 = 1695.3, rounded up.
const STEP2 = billed(1301, 1001, 33, 0);
const STEP2_COST = 1696;

const addTool: ServerTool<{ numbers: number[] }> = {
  name: 'add',
  inputSchema: z.object({ numbers: z.array(z.number()) }),
  execute: ({ numbers }) => ({ sum: numbers.reduce((a, b) => a + b, 0) }),
};

/** Step 1 calls `add`; step 2 fails once after reporting usage, then answers. */
function billingModel() {
  let call = 0;
  return createTestModel('billing', async function* (): AsyncGenerator<LanguageModelV3StreamPart> {
    call++;
    if (call === 1) {
      yield { type: 'tool-call', toolCallId: 'c1', toolName: 'add', input: JSON.stringify({ numbers: [1, 2] }) };
      yield { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: STEP1 };
      return;
    }
    if (call === 2) {
      yield textDelta('cut');
      yield { type: 'finish', finishReason: { unified: 'other', raw: undefined }, usage: STEP2_FAILED };
      return;
    }
    yield textDelta('three');
    yield { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: STEP2 };
  });
}

function setup(model: ReturnType<typeof createTestModel>) {
  const clock = createMockClock();
  const metrics = createServerMetrics({ processMetrics: false });
  const store = createChatStore({ pool, clock });
  const costs = createCostStore({ pool, clock });
  const pubsub = createMemoryPubSub();
  const worker = createChatWorker({
    store,
    pubsub,
    live: createLiveStreams(),
    clock,
    publisher: createChatPublisher({ pubsub, clock }),
    workerId: 'cost-worker',
    // A strict provider: a finish without a reason is a cut stream (retryable CONNECTION).
    model: () => ({ model, provider: 'billing', strictFinish: true, modelConfigId }),
    tools: createToolRegistry([addTool], { clock }),
    costs,
    metrics,
  });
  bed.workers.push(worker);
  return { clock, store, costs, worker, metrics };
}

describe('cost ledger', () => {
  it('charges every call that reported usage, retries included; step messages carry their sums and the chat total is exact', async () => {
    await pool.query('UPDATE chat_model_configs SET pricing = $2 WHERE id = $1', [modelConfigId, JSON.stringify(PRICES)]);
    try {
      const { clock, store, costs, worker, metrics } = setup(billingModel());
      const { chat } = await store.createChat({ ownerId, content: [{ type: 'text', text: 'add 1 and 2' }] });
      const ended = worker.waitForRunEnd(chat.id);
      worker.start();
      const backoff = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG }, { timeoutMs: 10_000 });
      await clock.advance(backoff.dueAtMs - clock.nowMs());
      expect((await ended).outcome).toBe('finished');
      expect(metrics.get('chatd_model_calls_total', { priced: 'yes' })).toBe(3);
      expect(metrics.get('chatd_model_cost_micros_total')).toBe(STEP1_COST + STEP2_FAILED_COST + STEP2_COST);
      metrics.close();

      const { rows } = await pool.query<{ cost_micros: string; input_tokens: string; cached_input_tokens: string; output_tokens: string; reasoning_tokens: string }>(
        'SELECT cost_micros, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens FROM chat_model_calls WHERE chat_id = $1 ORDER BY id',
        [chat.id],
      );
      expect(rows.map((r) => Number(r.cost_micros))).toEqual([STEP1_COST, STEP2_FAILED_COST, STEP2_COST]);
      expect(rows[0]).toMatchObject({ input_tokens: '1000', cached_input_tokens: '400', output_tokens: '200', reasoning_tokens: '50' });

      const assistant = (await store.messagesAfter(chat.id, 0n)).messages.filter((m) => m.role === 'assistant');
      expect(assistant.map((m) => m.usage?.total_cost_micros)).toEqual([STEP1_COST, STEP2_FAILED_COST + STEP2_COST]);
      expect(assistant.every((m) => typeof m.usage?.total_runtime_ms === 'number')).toBe(true);

      expect(await costs.chatCost(chat.id, ownerId)).toEqual({
        chat_id: chat.id,
        total_cost_micros: STEP1_COST + STEP2_FAILED_COST + STEP2_COST,
        request_count: 3,
        unpriced_request_count: 0,
      });
    } finally {
      await pool.query('UPDATE chat_model_configs SET pricing = NULL WHERE id = $1', [modelConfigId]);
    }
  });

  it('unpriced calls are counted apart and carry no cost on their message', async () => {
    const { clock, store, costs, worker } = setup(billingModel());
    const { chat } = await store.createChat({ ownerId, content: [{ type: 'text', text: 'add 1 and 2' }] });
    const ended = worker.waitForRunEnd(chat.id);
    worker.start();
    const backoff = await clock.waitForTimer({ tag: RETRY_BACKOFF_TIMER_TAG }, { timeoutMs: 10_000 });
    await clock.advance(backoff.dueAtMs - clock.nowMs());
    expect((await ended).outcome).toBe('finished');
    expect(await costs.chatCost(chat.id, ownerId)).toEqual({ chat_id: chat.id, total_cost_micros: 0, request_count: 3, unpriced_request_count: 3 });
    const assistant = (await store.messagesAfter(chat.id, 0n)).messages.filter((m) => m.role === 'assistant');
    expect(assistant.every((m) => m.usage?.total_cost_micros === undefined)).toBe(true);
  });

  it(`a turn that passes the spend limit ends after its current step with an error of kind ${SPEND_LIMIT_ERROR_KIND}, its queue kept`, async () => {
    await pool.query('UPDATE chat_model_configs SET pricing = $2 WHERE id = $1', [modelConfigId, JSON.stringify(PRICES)]);
    try {
      const { store, costs, worker } = setup(billingModel());
      // Step 1 alone (5170) passes a limit of 5000: the turn ends after step 1's tool results.
      await costs.setSpendLimit(ownerId, 'day', 5000);
      const { chat } = await store.createChat({ ownerId, content: [{ type: 'text', text: 'add 1 and 2' }] });
      await store.sendMessage({ chatId: chat.id, content: [{ type: 'text', text: 'queued' }] });
      const ended = worker.waitForRunEnd(chat.id);
      worker.start();
      const result = await ended;
      expect(result.outcome).toBe('failed');
      expect(result.error).toMatchObject({ kind: SPEND_LIMIT_ERROR_KIND, retryable: false });
      expect((await store.messagesAfter(chat.id, 0n)).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
      expect((await store.getQueue(chat.id)).map((q) => q.content)).toEqual([[{ type: 'text', text: 'queued' }]]);
      expect((await store.getChat(chat.id))?.status).toBe('error');
      expect((await costs.spendState(ownerId))?.spent_micros).toBe(STEP1_COST);
    } finally {
      await pool.query('UPDATE chat_model_configs SET pricing = NULL WHERE id = $1', [modelConfigId]);
      await pool.query('DELETE FROM chat_spend_limits');
    }
  });
});
