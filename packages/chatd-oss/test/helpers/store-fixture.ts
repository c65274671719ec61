// Test wiring for the store tests: a pool on the file's database, a mock clock, the stores, and helpers
// that create users, a default model configuration and chats in known states.
import pg from 'pg';
import { createMockClock, type MockClock } from '@chatd/clock';
import { createChatStore, type ChatStore, type StatusNotifier } from '../../src/store/chat-store.js';
import { createModelConfigStore, type ModelConfigStore } from '../../src/store/model-config-store.js';
import { createIdentityStore, type IdentityStore, type User } from '../../src/identity/identity-store.js';
import type { PubSub } from '@chatd/pubsub';
import type { ChatMessagePart } from '@chatd/protocol';

/** Stores on one database. */
export type StoreFixture = {
  pool: pg.Pool;
  clock: MockClock;
  chats: ChatStore;
  identity: IdentityStore;
  modelConfigs: ModelConfigStore;
  close(): Promise<void>;
};

/** Builds the stores on `url` with a mock clock set to a fixed instant. */
export function createStoreFixture(
  url: string,
  options: { maxQueueSize?: number; maxRunningPerUser?: number; poolSize?: number; pubsub?: PubSub; notifyStatusInTransaction?: StatusNotifier } = {},
): StoreFixture {
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
  pool.on('error', () => {});
  const clock = createMockClock({ now: new Date('2026-01-01T00:00:00Z') });
  const chats = createChatStore({
    pool,
    clock,
    ...(options.maxQueueSize !== undefined ? { maxQueueSize: options.maxQueueSize } : {}),
    // Store tests acquire many chats of one user and leave them running: the cap (issue 33) is lifted explicitly.
    maxRunningPerUser: options.maxRunningPerUser ?? 1_000,
    ...(options.notifyStatusInTransaction ? { notifyStatusInTransaction: options.notifyStatusInTransaction } : {}),
  });
  const identity = createIdentityStore({ pool, clock });
  const modelConfigs = createModelConfigStore({ pool, clock, ...(options.pubsub ? { pubsub: options.pubsub } : {}) });
  return { pool, clock, chats, identity, modelConfigs, close: () => pool.end() };
}

let userSeq = 0;

/** Creates a user with a unique name. */
export async function makeUser(f: StoreFixture, prefix = 'user'): Promise<User> {
  userSeq++;
  return f.identity.createUser({ username: `${prefix}${userSeq}-${Math.random().toString(36).slice(2, 8)}` });
}

/** Makes sure a `demo` provider and a default model configuration exist; returns the default's id. */
export async function ensureModel(f: StoreFixture): Promise<string> {
  const existing = await f.modelConfigs.getDefaultModelConfig();
  if (existing) return existing.id;
  if (!(await f.modelConfigs.getProviderSettings('demo'))) await f.modelConfigs.createProvider({ provider: 'demo' });
  const c = await f.modelConfigs.createModelConfig({ provider: 'demo', model: 'demo', contextLimit: 1000 });
  return c.id;
}

/** The content of a one-text-part message. */
export const text = (t: string): ChatMessagePart[] => [{ type: 'text', text: t }];

/** Counts rows of `table` (optionally for one chat). */
export async function countRows(f: StoreFixture, table: string, chatId?: string): Promise<number> {
  const { rows } = await f.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table}${chatId ? ' WHERE chat_id = $1' : ''}`,
    chatId ? [chatId] : [],
  );
  return rows[0]!.n;
}

/** Creates a chat for `user` and acquires it for `workerId`; returns the chat id and run id. */
export async function runningChat(f: StoreFixture, user: User, workerId = 'worker-a', first = 'hello'): Promise<{ chatId: string; runId: string }> {
  const { chat } = await f.chats.createChat({ ownerId: user.id, content: text(first) });
  // Acquire may pick other pending chats too; keep taking until ours is running.
  for (let i = 0; i < 100; i++) {
    const got = await f.chats.acquireChats(workerId, 10);
    const mine = got.find((a) => a.chat.id === chat.id);
    if (mine) return { chatId: chat.id, runId: mine.runId };
    if (got.length === 0) break;
  }
  throw new Error('could not acquire the chat');
}

/** Parks every pending chat as `waiting`, so one test's leftovers are not acquired by the next. */
export async function parkPendingChats(f: StoreFixture): Promise<void> {
  await f.pool.query(`UPDATE chats SET status = 'waiting', worker_id = NULL, run_id = NULL WHERE status IN ('pending', 'running')`);
}

/** Expects `p` to reject with a ChatdError of `code`. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected a ChatdError ${code}, but it resolved`);
  const got = (err as { code?: unknown; name?: unknown }).code;
  if ((err as { name?: unknown }).name !== 'ChatdError' || got !== code) {
    throw new Error(`expected ChatdError ${code}, got ${String((err as Error).name)} ${String(got)}: ${(err as Error).message}`);
  }
}
