// Test helpers of the worker tests: a test file's database, pool and workers with their hooks, seed an owner and a
// default model config with plain SQL, record what a PubSub publishes, gate a model mid-stream, and drive the demo
// model's token timers on the mock clock.
import { randomUUID } from 'node:crypto';
import type { MockClock } from '@chatd/clock';
import { decodeChatStreamNotify, type ChatStreamNotifyMessage, type PubSub } from '@chatd/pubsub';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../../src/migrate.js';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { DEMO_TOKEN_TIMER_TAG } from '../../src/model/demo-model.js';
import { ModelProviderError } from '../../src/model/model-error.js';
import type { ChatStore } from '../../src/store/chat-store.js';
import type { ChatWorker } from '../../src/worker/chat-worker.js';
import { createTestModel, finishPart, textDelta } from './test-models.js';

/** What `useWorkerTestBed` gives a test file; `pool` and `ownerId` are set once its beforeAll ran. */
export type WorkerTestBed = { readonly pool: pg.Pool; readonly ownerId: string; readonly workers: ChatWorker[] };

/**
 * A test file's own migrated database, a pool of `poolMax` clients and a seeded owner (before all), chats
 * truncated before each test, every worker pushed to `workers` stopped after each test, the pool closed after all.
 */
export function useWorkerTestBed(poolMax: number): WorkerTestBed {
  const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
  const workers: ChatWorker[] = [];
  let pool: pg.Pool | undefined;
  let ownerId: string | undefined;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: db.url, max: poolMax });
    // Dropping the file's database at the end terminates any client the pool still holds: not an error here.
    pool.on('error', () => {});
    ownerId = await seedOwner(pool);
  });
  beforeEach(async () => {
    await pool!.query('TRUNCATE chats CASCADE');
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await pool?.end();
  });
  return {
    get pool() {
      return pool!;
    },
    get ownerId() {
      return ownerId!;
    },
    workers,
  };
}

/** Creates a user in the default organization and, once, a default demo model config; returns the user id. */
export async function seedOwner(pool: pg.Pool): Promise<string> {
  const now = new Date('2026-01-01T00:00:00Z');
  const { rows } = await pool.query<{ id: string }>('INSERT INTO users (username) VALUES ($1) RETURNING id', [`u${randomUUID().slice(0, 8)}`]);
  const userId = rows[0]!.id;
  await pool.query('INSERT INTO organization_members (organization_id, user_id) SELECT id, $1 FROM organizations WHERE is_default', [userId]);
  await pool.query(
    `INSERT INTO chat_providers (provider, created_at, updated_at) VALUES ('demo', $1, $1) ON CONFLICT (provider) DO NOTHING`,
    [now],
  );
  await pool.query(
    `INSERT INTO chat_model_configs (provider, model, is_default, context_limit, created_at, updated_at)
     SELECT 'demo', 'demo', true, 100000, $1, $1 WHERE NOT EXISTS (SELECT 1 FROM chat_model_configs WHERE is_default)`,
    [now],
  );
  return userId;
}

/** One publish seen by `recordingPubSub`. */
export type Published = { channel: string; payload: string };

/** Wraps `inner`: every publish is recorded (then forwarded); `listenTo` (default `inner`) serves subscriptions. */
export function recordingPubSub(inner: PubSub, listenTo: PubSub = inner): PubSub & { published: Published[] } {
  const published: Published[] = [];
  return {
    published,
    async publish(channel, payload) {
      published.push({ channel, payload: payload.toString() });
      await inner.publish(channel, payload);
    },
    subscribe: (channel, listener, options) => listenTo.subscribe(channel, listener, options),
    close: async () => {},
  };
}

/** Records every chat stream notification of `chatId` heard on `pubsub`. */
export async function recordStream(pubsub: PubSub, channel: string) {
  const notes: ChatStreamNotifyMessage[] = [];
  const unsubscribe = await pubsub.subscribe(channel, (m) => {
    if (m) notes.push(decodeChatStreamNotify(m));
  });
  return {
    notes,
    unsubscribe,
    statuses: () => notes.filter((n) => n.status !== undefined).map((n) => n.status),
    until: (pred: (notes: ChatStreamNotifyMessage[]) => boolean, what = 'notifications') => waitFor(() => pred(notes), { what, timeoutMs: 10_000 }),
  };
}

/** Advances the mock clock past the next `count` demo-token timers (each armed after the last fired). */
export async function streamTokens(clock: MockClock, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t = await clock.waitForTimer({ tag: DEMO_TOKEN_TIMER_TAG }, { timeoutMs: 10_000 });
    await clock.advance(Math.max(0, t.dueAtMs - clock.nowMs()));
  }
}

/** A model that streams `before` deltas, then waits until `release()` (or abort), then streams `after` and finishes. */
export function createGateModel(before: string[], after: string[]) {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let reached!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  const provider = createTestModel('gate', async function* (call) {
    for (const t of before) yield textDelta(t);
    reached();
    const signal = call.abortSignal!;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new ModelProviderError('CANCELLED', 'cancelled', { provider: 'gate' }));
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      void gate.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    for (const t of after) yield textDelta(t);
    yield finishPart('stop');
  });
  return { provider, atGate, release: () => open() };
}

/** A model whose first calls fail with `errors` (thrown by `doStream`), then delegates to `then`. */
export function createFailingModel(errors: ModelProviderError[], then?: LanguageModelV3) {
  let calls = 0;
  const provider: LanguageModelV3 = {
    specificationVersion: 'v3',
    provider: 'flaky',
    modelId: 'flaky',
    supportedUrls: {},
    async doStream(call) {
      const err = errors[calls++];
      if (err) throw err;
      if (!then) throw new Error('no model after the failures');
      return then.doStream(call);
    },
    doGenerate: () => Promise.reject(new Error('unused')),
  };
  return { provider, calls: () => calls };
}

/** Wraps `store` so that its next `finishRun` waits for `release()`; `reached` resolves when it is called. */
export function pauseNextFinishRun(store: ChatStore) {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let reached!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  let used = false;
  const wrapped: ChatStore = {
    ...store,
    async finishRun(input) {
      if (!used) {
        used = true;
        reached();
        await gate;
      }
      return store.finishRun(input);
    },
  };
  return { store: wrapped, atGate, release: () => open() };
}

/** Fires `tag` timers (demo tokens by default) as they are armed until `done` settles; for several runs at once. */
export async function driveTimersUntil<T>(clock: MockClock, done: Promise<T>, tag: string = DEMO_TOKEN_TIMER_TAG, timeoutMs = 10_000): Promise<T> {
  let settled = false;
  void done.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + timeoutMs;
  while (!settled) {
    if (Date.now() > deadline) throw new Error(`driveTimersUntil: not settled within ${timeoutMs} ms`);
    // A short real wait per round, so a run that has just ended is noticed without a pending waiter left behind.
    const t = await clock.waitForTimer({ tag }, { timeoutMs: 100 }).catch(() => undefined);
    if (t) await clock.advance(Math.max(0, t.dueAtMs - clock.nowMs()));
  }
  return done;
}
