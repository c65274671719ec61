// Issue 25 in the store: provider kinds (backfilled by migration 0006 from the name), key variables,
// call options and provider options of model configurations, and the chat's reasoning effort, against
// real PostgreSQL. Bad input is a typed INVALID_INPUT with `validations` and writes nothing.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, useTestDatabase, waitFor, type TestDatabase } from '@chatd/testkit';
import { CHAT_CONFIG_EVENT_CHANNEL, createMemoryPubSub, decodeChatConfigEvent, type ChatConfigEvent } from '@chatd/pubsub';
import { ChatdError } from '../src/chatd-error.js';
import { loadConfig } from '../src/config.js';
import { CHATD_MIGRATION_SOURCE, MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createConfigCache } from '../src/store/config-cache.js';
import { ensureDefaultModelConfig } from '../src/store/default-model-config.js';
import { MAX_PROVIDER_OPTIONS_BYTES } from '../src/store/model-config-input.js';
import { toWireModelConfig } from '../src/store/model-config-store.js';
import { countRows, createStoreFixture, ensureModel, makeUser, text, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
const pubsub = createMemoryPubSub();
const events: ChatConfigEvent[] = [];
const extra: TestDatabase[] = [];
let f: StoreFixture;

beforeAll(async () => {
  f = createStoreFixture(db.url, { pubsub });
  await pubsub.subscribe(CHAT_CONFIG_EVENT_CHANNEL, (msg) => {
    if (msg) events.push(decodeChatConfigEvent(msg));
  });
});
afterAll(async () => {
  await f.close();
  await pubsub.close();
  for (const d of extra) await d.drop();
});

/** Resolves to the ChatdError `p` rejects with (fails when it resolves). */
async function refusal(p: Promise<unknown>): Promise<ChatdError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChatdError);
  return err as ChatdError;
}

async function expectInvalid(p: Promise<unknown>, field: string): Promise<void> {
  const err = await refusal(p);
  expect(err.code).toBe('INVALID_INPUT');
  expect(err.validations).toEqual([{ field, detail: expect.any(String) }]);
}

describe('migration 0006', () => {
  it('gives rows made before it a kind from their name, keeps their stored keys, and fills the kind of rows an older replica inserts', async () => {
    const d = await createTestDatabase(db.serverUrl);
    extra.push(d);
    const before = { name: 'chatd', migrations: CHATD_MIGRATION_SOURCE.migrations.filter((m) => m.name < '0006') };
    await migrate(d.url, { sources: [before] });
    const c = new pg.Client({ connectionString: d.url });
    await c.connect();
    try {
      for (const name of ['demo', 'anthropic', 'openai', 'local-llm', 'openai-compat']) {
        await c.query(`INSERT INTO chat_providers (provider, api_key, created_at, updated_at) VALUES ($1, $2, now(), now())`, [name, `key-${name}`]);
      }
      await migrate(d.url);
      const { rows } = await c.query<{ provider: string; kind: string; api_key: string; api_key_env: string | null }>(
        'SELECT provider, kind, api_key, api_key_env FROM chat_providers ORDER BY provider',
      );
      expect(rows).toEqual([
        { provider: 'anthropic', kind: 'anthropic', api_key: 'key-anthropic', api_key_env: null },
        { provider: 'demo', kind: 'demo', api_key: 'key-demo', api_key_env: null },
        { provider: 'local-llm', kind: 'openai-compatible', api_key: 'key-local-llm', api_key_env: null },
        // `openai` keeps today's wire (chat completions), not the Responses API.
        { provider: 'openai', kind: 'openai-compatible', api_key: 'key-openai', api_key_env: null },
        { provider: 'openai-compat', kind: 'openai-compatible', api_key: 'key-openai-compat', api_key_env: null },
      ]);
      // An insert that does not name the kind (a replica of the previous release during a rolling upgrade).
      await c.query(`INSERT INTO chat_providers (provider, created_at, updated_at) VALUES ('anthropic-eu', now(), now()), ('demo-2', now(), now())`);
      const { rows: late } = await c.query<{ kind: string }>(`SELECT kind FROM chat_providers WHERE provider IN ('anthropic-eu', 'demo-2') ORDER BY provider`);
      expect(late.map((r) => r.kind)).toEqual(['openai-compatible', 'openai-compatible']);
      await expect(c.query(`UPDATE chat_providers SET kind = 'bedrock' WHERE provider = 'demo'`)).rejects.toThrow(/check/);
      await expect(c.query(`UPDATE chat_providers SET api_key_env = 'lower_case' WHERE provider = 'demo'`)).rejects.toThrow(/check/);
    } finally {
      await c.end();
    }
  });
});

describe('providers: kind and api_key_env', () => {
  it('stores kind (openai-compat as an alias) and the key variable; the key is in the settings but never in what the API shows', async () => {
    const p = await f.modelConfigs.createProvider({ provider: 'vllm', kind: 'openai-compat', baseUrl: 'http://127.0.0.1:8000/v1', apiKey: 'sk-secret-1' });
    expect(p).toMatchObject({ provider: 'vllm', kind: 'openai-compatible', api_key_env: null, has_api_key: true });
    const a = await f.modelConfigs.createProvider({ provider: 'anthropic', apiKeyEnv: 'ANTHROPIC_API_KEY' });
    expect(a).toMatchObject({ kind: 'anthropic', api_key_env: 'ANTHROPIC_API_KEY', has_api_key: false, base_url: null });
    expect(await f.modelConfigs.getProviderSettings('vllm')).toEqual({
      provider: 'vllm',
      kind: 'openai-compatible',
      baseUrl: 'http://127.0.0.1:8000/v1',
      apiKey: 'sk-secret-1',
      apiKeyEnv: null,
      enabled: true,
    });
    expect(await f.modelConfigs.getProviderSettings('anthropic')).toMatchObject({ kind: 'anthropic', apiKeyEnv: 'ANTHROPIC_API_KEY', apiKey: null });
    expect(JSON.stringify(await f.modelConfigs.listProviders())).not.toContain('sk-secret-1');

    const changed = await f.modelConfigs.updateProvider(p.id, { kind: 'openai', apiKeyEnv: 'OPENAI_API_KEY' });
    expect(changed).toMatchObject({ kind: 'openai', api_key_env: 'OPENAI_API_KEY', has_api_key: true, base_url: 'http://127.0.0.1:8000/v1' });
    const cleared = await f.modelConfigs.updateProvider(p.id, { apiKeyEnv: null, apiKey: null });
    expect(cleared).toMatchObject({ kind: 'openai', api_key_env: null, has_api_key: false });
  });

  it('refuses an unknown kind, a bad key variable or a non-string key, with validations, and writes nothing', async () => {
    const before = await f.modelConfigs.listProviders();
    await expectInvalid(f.modelConfigs.createProvider({ provider: 'bedrock', kind: 'bedrock' as never }), 'kind');
    await expectInvalid(f.modelConfigs.createProvider({ provider: 'x1', apiKeyEnv: 'lower' }), 'api_key_env');
    await expectInvalid(f.modelConfigs.createProvider({ provider: 'x2', apiKeyEnv: '1ABC' }), 'api_key_env');
    await expectInvalid(f.modelConfigs.createProvider({ provider: 'x3', apiKeyEnv: `A${'B'.repeat(128)}` }), 'api_key_env');
    expect((await refusal(f.modelConfigs.createProvider({ provider: 'x4', apiKey: 42 as never }))).code).toBe('INVALID_INPUT');
    await expectInvalid(f.modelConfigs.updateProvider(before[0]!.id, { kind: 'google' as never }), 'kind');
    expect(await f.modelConfigs.listProviders()).toEqual(before);
  });
});

describe('model configurations: call options and provider options', () => {
  it('stores them, answers them in the wire form, and the config cache hands them to the worker', async () => {
    if (!(await f.modelConfigs.getProviderSettings('demo'))) await f.modelConfigs.createProvider({ provider: 'demo' });
    const c = await f.modelConfigs.createModelConfig({
      provider: 'demo',
      model: 'with-options',
      contextLimit: 1000,
      callOptions: { maxOutputTokens: 4096, temperature: 0.5, topP: 1, reasoningEffort: 'high' },
      providerOptions: { openai: { parallelToolCalls: false }, anthropic: {} },
    });
    expect(c).toMatchObject({
      callOptions: { maxOutputTokens: 4096, temperature: 0.5, topP: 1, reasoningEffort: 'high' },
      providerOptions: { openai: { parallelToolCalls: false }, anthropic: {} },
    });
    expect(toWireModelConfig(c, true)).toMatchObject({
      call_options: { max_output_tokens: 4096, temperature: 0.5, top_p: 1, reasoning_effort: 'high' },
      provider_options: { openai: { parallelToolCalls: false }, anthropic: {} },
    });
    expect(toWireModelConfig(c, true)).not.toHaveProperty('callOptions');
    expect(toWireModelConfig(c, false)).not.toHaveProperty('provider_options');

    const cache = createConfigCache({ store: f.modelConfigs, pool: f.pool, pubsub });
    await cache.start();
    try {
      expect((await cache.resolveModelConfig(c.id))!.callOptions).toEqual({ maxOutputTokens: 4096, temperature: 0.5, topP: 1, reasoningEffort: 'high' });
      expect((await cache.getProviderSettings('demo'))!.kind).toBe('demo');
      const seen = events.length;
      // call options are replaced whole; unset provider options stay.
      const updated = await f.modelConfigs.updateModelConfig(c.id, { callOptions: { temperature: 0 } });
      expect(updated.callOptions).toEqual({ temperature: 0 });
      expect(updated.providerOptions).toEqual({ openai: { parallelToolCalls: false }, anthropic: {} });
      await waitFor(() => events.length > seen, { what: 'the config change event', timeoutMs: 2000 });
      expect(events.at(-1)).toEqual({ kind: 'model_config', entity_id: c.id });
      await waitFor(async () => ((await cache.resolveModelConfig(c.id))!.callOptions.temperature === 0 ? true : undefined), { what: 'the cache to drop the old row', timeoutMs: 2000 });
      const none = await f.modelConfigs.updateModelConfig(c.id, { providerOptions: null, callOptions: {} });
      expect([none.callOptions, none.providerOptions]).toEqual([{}, null]);
    } finally {
      await cache.close();
    }
  });

  it('refuses out-of-range call options and malformed provider options, with validations naming the field, and writes nothing', async () => {
    const base = { provider: 'demo', model: 'bad-options', contextLimit: 1000 };
    const before = await countRows(f, 'chat_model_configs');
    const cases: [Record<string, unknown>, string][] = [
      [{ temperature: 2.01 }, 'call_options.temperature'],
      [{ temperature: -0.1 }, 'call_options.temperature'],
      [{ temperature: Number.NaN }, 'call_options.temperature'],
      [{ topP: 1.5 }, 'call_options.top_p'],
      [{ maxOutputTokens: 0 }, 'call_options.max_output_tokens'],
      [{ maxOutputTokens: 1.5 }, 'call_options.max_output_tokens'],
      [{ maxOutputTokens: 1_000_001 }, 'call_options.max_output_tokens'],
      [{ reasoningEffort: 'extreme' }, 'call_options.reasoning_effort'],
    ];
    for (const [callOptions, field] of cases) await expectInvalid(f.modelConfigs.createModelConfig({ ...base, callOptions: callOptions as never }), field);
    const big = { openai: { blob: 'x'.repeat(MAX_PROVIDER_OPTIONS_BYTES) } };
    for (const providerOptions of [[], 'openai', { openai: 'x' }, { openai: [] }, { openai: null }, big]) {
      await expectInvalid(f.modelConfigs.createModelConfig({ ...base, providerOptions: providerOptions as never }), 'provider_options');
    }
    expect(await countRows(f, 'chat_model_configs')).toBe(before);
    const existing = (await f.modelConfigs.getDefaultModelConfig())!;
    await expectInvalid(f.modelConfigs.updateModelConfig(existing.id, { callOptions: { topP: -1 } }), 'call_options.top_p');
    expect(await f.modelConfigs.getModelConfig(existing.id)).toEqual(existing);
  });
});

describe("a chat's reasoning effort", () => {
  it('create sets it; send sets it for its turn and later ones (null: back to the configuration); the worker sees it, the wire chat does not', async () => {
    await ensureModel(f);
    const u = await makeUser(f);
    const effort = async (chatId: string) => (await f.pool.query<{ e: string | null }>('SELECT reasoning_effort AS e FROM chats WHERE id = $1', [chatId])).rows[0]!.e;
    const { chat } = await f.chats.createChat({ ownerId: u.id, content: text('think hard'), reasoningEffort: 'high' });
    expect(chat).not.toHaveProperty('reasoning_effort');
    expect(await effort(chat.id)).toBe('high');
    const acquired = (await f.chats.acquireChats('worker-a', 100)).find((a) => a.chat.id === chat.id)!;
    expect(acquired.chat.reasoning_effort).toBe('high');
    expect(acquired.change.chat).not.toHaveProperty('reasoning_effort');

    // Queued while running: stored at once (the run already resolved its model; the next one uses it).
    const queued = await f.chats.sendMessage({ chatId: chat.id, ownerId: u.id, content: text('less'), reasoningEffort: 'low' });
    expect(queued.queued).toBe(true);
    expect(await effort(chat.id)).toBe('low');
    await f.chats.finishRun({ chatId: chat.id, runId: acquired.runId, outcome: 'finished' });
    const next = (await f.chats.acquireChats('worker-a', 100)).find((a) => a.chat.id === chat.id)!;
    expect(next.chat.reasoning_effort).toBe('low');
    await f.chats.finishRun({ chatId: chat.id, runId: next.runId, outcome: 'finished' });

    await f.chats.sendMessage({ chatId: chat.id, ownerId: u.id, content: text('same again') });
    expect(await effort(chat.id)).toBe('low');
    const third = (await f.chats.acquireChats('worker-a', 100)).find((a) => a.chat.id === chat.id)!;
    await f.chats.finishRun({ chatId: chat.id, runId: third.runId, outcome: 'finished' });
    await f.chats.sendMessage({ chatId: chat.id, ownerId: u.id, content: text('defaults'), reasoningEffort: null });
    expect(await effort(chat.id)).toBeNull();
    const plain = await f.chats.createChat({ ownerId: u.id, content: text('no effort') });
    expect(await effort(plain.chat.id)).toBeNull();
  });

  it('refuses an unknown effort on create and send with a reasoning_effort validation, and writes nothing', async () => {
    await ensureModel(f);
    const u = await makeUser(f);
    const chats = await countRows(f, 'chats');
    await expectInvalid(f.chats.createChat({ ownerId: u.id, content: text('x'), reasoningEffort: 'extreme' as never }), 'reasoning_effort');
    expect(await countRows(f, 'chats')).toBe(chats);
    const { chat } = await f.chats.createChat({ ownerId: u.id, content: text('y'), reasoningEffort: 'minimal' });
    const messages = await countRows(f, 'chat_messages', chat.id);
    await expectInvalid(f.chats.sendMessage({ chatId: chat.id, ownerId: u.id, content: text('z'), reasoningEffort: 'HIGH' as never }), 'reasoning_effort');
    expect(await countRows(f, 'chat_messages', chat.id)).toBe(messages);
    expect(await countRows(f, 'chat_queued_messages', chat.id)).toBe(0);
    expect((await f.pool.query('SELECT reasoning_effort FROM chats WHERE id = $1', [chat.id])).rows[0].reasoning_effort).toBe('minimal');
  });
});

describe('the default model from the environment', () => {
  it('ANTHROPIC_API_KEY gives an empty database an anthropic provider that reads its key from the variable (the key is not stored)', async () => {
    const d = await createTestDatabase(db.serverUrl, { key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
    extra.push(d);
    const g = createStoreFixture(d.url);
    try {
      const config = loadConfig({ DATABASE_URL: d.url, ANTHROPIC_API_KEY: 'sk-ant-never-stored', CHATD_MODEL: 'claude-test' });
      const { created, config: def } = await ensureDefaultModelConfig(g.pool, g.modelConfigs, config.defaultModel);
      expect(created).toBe(true);
      expect(def).toMatchObject({ provider: 'anthropic', model: 'claude-test', is_default: true });
      expect(await g.modelConfigs.getProviderSettings('anthropic')).toMatchObject({ kind: 'anthropic', apiKeyEnv: 'ANTHROPIC_API_KEY', apiKey: null });
      const dump = await g.pool.query('SELECT row_to_json(p)::text AS j FROM chat_providers p');
      expect(dump.rows.map((r) => r.j).join('')).not.toContain('sk-ant-never-stored');
    } finally {
      await g.close();
    }
  });

  it('OPENAI_BASE_URL alone (Ollama, vLLM) gives an openai-compatible provider with that base URL and no key', async () => {
    const d = await createTestDatabase(db.serverUrl, { key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
    extra.push(d);
    const g = createStoreFixture(d.url);
    try {
      const config = loadConfig({ DATABASE_URL: d.url, OPENAI_BASE_URL: 'http://localhost:11434/v1', CHATD_MODEL: 'llama3.2' });
      await ensureDefaultModelConfig(g.pool, g.modelConfigs, config.defaultModel);
      expect(await g.modelConfigs.getProviderSettings('openai-compatible')).toEqual({
        provider: 'openai-compatible',
        kind: 'openai-compatible',
        baseUrl: 'http://localhost:11434/v1',
        apiKey: null,
        apiKeyEnv: null,
        enabled: true,
      });
    } finally {
      await g.close();
    }
  });
});
