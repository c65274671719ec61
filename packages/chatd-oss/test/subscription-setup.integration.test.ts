// The subscription setup's one statement (issue 36) answers exactly what the separate reads it replaces answer:
// the chat, the cursor check, the first page (count and byte caps, from the start after a hidden cursor), the
// queue and the runs (with their steps' last_seq), on real PostgreSQL.
import { createMockClock } from '@chatd/clock';
import { INT64_MAX } from '@chatd/protocol';
import { useTestDatabase } from '@chatd/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore } from '../src/identity/identity-store.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { createPool } from '../src/store/db.js';
import { SUBSCRIPTION_SETUP_STATEMENT } from '../src/store/subscription-setup.js';
import { createModelConfigStore } from '../src/store/model-config-store.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const clock = createMockClock({ now: new Date('2026-05-01T00:00:00.123Z') });
let pool: pg.Pool;
let store: ChatStore;
let ownerId: string;

beforeAll(async () => {
  pool = createPool(db.url, 4);
  store = createChatStore({ pool, clock, maxRunningPerUser: 1_000 });
  ownerId = (await createIdentityStore({ pool, clock }).createUser({ username: 'setup' })).id;
  const models = createModelConfigStore({ pool, clock });
  if (!(await models.getProviderSettings('demo'))) await models.createProvider({ provider: 'demo' });
  await models.createModelConfig({ provider: 'demo', model: 'demo', isDefault: true, contextLimit: 100_000 });
});
afterAll(async () => {
  await pool.end();
});

const text = (t: string) => ({ type: 'text' as const, text: t });

/** What the separate reads answer for the same query. */
async function separately(chatId: string, afterId: bigint, runIds: string[], limit: number, maxBytes: number) {
  const chat = await store.getChat(chatId);
  const hidden = afterId > 0n && afterId < INT64_MAX && (await store.cursorHidden(chatId, afterId));
  const page = afterId < INT64_MAX ? await store.messagesAfter(chatId, hidden ? 0n : afterId, { limit, maxBytes }) : undefined;
  const runs = new Map();
  for (const id of runIds) {
    const run = await store.getRun(id);
    if (run) runs.set(id, run);
  }
  return { chat, runId: (await store.getChatRunState(chatId))?.runId ?? null, cursorHidden: hidden, page, queue: await store.getQueue(chatId), runs };
}

describe('subscription setup read', () => {
  it('equals the separate reads: a running chat with steps, a queue, a page cut by count and by bytes, a hidden cursor, no page at INT64_MAX', async () => {
    const { chat, message: first } = await store.createChat({ ownerId, content: [text('hello')] });
    const runId = (await store.acquireChats('setup-worker', 100)).find((a) => a.chat.id === chat.id)!.runId;
    const step = await store.persistMessage({ chatId: chat.id, runId, role: 'assistant', content: [text('x'.repeat(2_000))], lastSeq: 7 });
    await store.persistMessage({ chatId: chat.id, runId, role: 'assistant', content: [text('y'.repeat(2_000))], lastSeq: 9 });
    await store.sendMessage({ chatId: chat.id, content: [text('queued one')] });
    await store.sendMessage({ chatId: chat.id, content: [text('queued two')] });
    const unknownRun = '00000000-0000-4000-8000-0000000000ab';
    for (const [afterId, limit, maxBytes] of [
      [0n, 10_000, 1024 * 1024],
      [0n, 2, 1024 * 1024],
      [0n, 10_000, 2_500],
      [BigInt(first.id), 10_000, 1024 * 1024],
      [INT64_MAX, 10_000, 1024 * 1024],
    ] as const) {
      const got = await store.subscriptionSetup({ chatId: chat.id, afterId, limit, maxBytes, runIds: [runId, unknownRun], queue: true });
      const want = await separately(chat.id, afterId, [runId, unknownRun], limit, maxBytes);
      expect(got).toEqual(want);
    }
    const setup = await store.subscriptionSetup({ chatId: chat.id, afterId: 0n, limit: 10_000, maxBytes: 1024 * 1024, runIds: [runId], queue: false });
    expect(setup?.runId).toBe(runId);
    expect(setup?.runs.get(runId)?.lastSeq).toBe(9);
    expect(setup?.queue).toBeUndefined();
    expect(setup?.page?.messages.map((m) => m.id)).toContain(step.message.id);

    // An edit hides the cursor's message: the setup says so and reads the page from the start.
    const { messages } = await store.messagesAfter(chat.id, 0n);
    const last = messages.at(-1)!;
    await store.editMessage({ chatId: chat.id, messageId: first.id, content: [text('edited')] });
    const afterEdit = await store.subscriptionSetup({ chatId: chat.id, afterId: BigInt(last.id), limit: 10_000, maxBytes: 1024 * 1024, runIds: [runId], queue: true });
    expect(afterEdit?.cursorHidden).toBe(true);
    expect(afterEdit).toEqual(await separately(chat.id, BigInt(last.id), [runId], 10_000, 1024 * 1024));
  });

  it('an unknown chat reads as undefined; a malformed id is INVALID_INPUT', async () => {
    const q = { afterId: 0n, limit: 10, maxBytes: 1_000, runIds: [], queue: true };
    expect(await store.subscriptionSetup({ ...q, chatId: '00000000-0000-4000-8000-0000000000cd' })).toBeUndefined();
    await expect(store.subscriptionSetup({ ...q, chatId: 'nope' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(store.subscriptionSetup({ ...q, chatId: '00000000-0000-4000-8000-0000000000cd', runIds: ['nope'] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('is planned once per connection on the setup pool (force_generic_plan), not on every open', async () => {
    // One connection, so the session that ran the setups is the one asked about its prepared statements.
    const setupPool = createPool(db.url, 1, { genericPlans: true });
    try {
      const planned = createChatStore({ pool, clock, maxRunningPerUser: 1_000, setupPool });
      const { chat } = await store.createChat({ ownerId, content: [text('planned once')] });
      for (let i = 0; i < 8; i++) expect((await planned.subscriptionSetup({ chatId: chat.id, afterId: 0n, limit: 10_000, maxBytes: 1024 * 1024, runIds: [], queue: true }))?.chat.id).toBe(chat.id);
      const { rows } = await setupPool.query<{ generic_plans: string; custom_plans: string }>('SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1', [SUBSCRIPTION_SETUP_STATEMENT]);
      // PostgreSQL estimates a custom plan cheaper for this statement, so without the session setting it plans all 8.
      expect(rows.map((r) => ({ generic: Number(r.generic_plans), custom: Number(r.custom_plans) }))).toEqual([{ generic: 8, custom: 0 }]);
    } finally {
      await setupPool.end();
    }
  });
});
