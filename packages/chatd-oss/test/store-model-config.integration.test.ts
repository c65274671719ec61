import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { NIL_UUID } from '@chatd/protocol';
import { CHAT_CONFIG_EVENT_CHANNEL, createMemoryPubSub, decodeChatConfigEvent, encodeChatConfigEvent, type ChatConfigEvent } from '@chatd/pubsub';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { loadConfig } from '../src/config.js';
import { createConfigCache } from '../src/store/config-cache.js';
import { createModelConfigStore } from '../src/store/model-config-store.js';
import { ensureDefaultModelConfig } from '../src/store/default-model-config.js';
import { createIdentityStore } from '../src/identity/identity-store.js';
import { countRows, createStoreFixture, expectCode, makeUser, text, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
const pubsub = createMemoryPubSub();
const events: ChatConfigEvent[] = [];
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
});

const lastEvent = () => waitFor(() => events.at(-1), { timeoutMs: 2000 });

describe('an empty database', () => {
  it('refuses to create a chat while no default model config exists', async () => {
    const u = await makeUser(f);
    await expectCode(f.chats.createChat({ ownerId: u.id, content: text('hi') }), 'INVALID_INPUT');
    expect(await countRows(f, 'chats')).toBe(0);
  });

  it('gets the default model config from the environment exactly once, even when replicas race', async () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://x/y', CHATD_MODEL_CONTEXT_LIMIT: '32000' });
    expect(config.defaultModel).toMatchObject({ provider: 'demo', model: 'demo', contextLimit: 32000 });
    const results = await Promise.all([1, 2, 3].map(() => ensureDefaultModelConfig(f.pool, f.modelConfigs, config.defaultModel)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const configs = await f.modelConfigs.listModelConfigs();
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({ provider: 'demo', model: 'demo', is_default: true, context_limit: 32000, compression_threshold: 70, enabled: true });
    expect((await f.modelConfigs.listProviders()).map((p) => p.provider)).toEqual(['demo']);
    expect((await ensureDefaultModelConfig(f.pool, f.modelConfigs, config.defaultModel)).created).toBe(false);
  });

  it('needs CHATD_MODEL for a provider other than demo', async () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://x/y', CHATD_MODEL_PROVIDER: 'openai-compatible' });
    await expectCode(ensureDefaultModelConfig(f.pool, f.modelConfigs, config.defaultModel), 'CONFIG');
  });
});

describe('providers and model configs', () => {
  it('keeps exactly one default and publishes a ChatConfigEvent for each change', async () => {
    const p = await f.modelConfigs.createProvider({ provider: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-test' });
    expect(p).toMatchObject({ provider: 'openai-compatible', has_api_key: true, base_url: 'http://127.0.0.1:9/v1' });
    expect(JSON.stringify(await f.modelConfigs.listProviders())).not.toContain('sk-test');
    expect((await f.modelConfigs.getProviderSettings('openai-compatible'))!.apiKey).toBe('sk-test');
    expect(await lastEvent()).toEqual({ kind: 'providers', entity_id: NIL_UUID });

    const first = (await f.modelConfigs.getDefaultModelConfig())!;
    const big = await f.modelConfigs.createModelConfig({ provider: 'openai-compatible', model: 'gpt-x', contextLimit: 200_000, compressionThreshold: 80 });
    expect(big.is_default).toBe(false);
    expect(await lastEvent()).toEqual({ kind: 'model_config', entity_id: big.id });

    const moved = await f.modelConfigs.updateModelConfig(big.id, { isDefault: true, displayName: 'GPT X' });
    expect(moved).toMatchObject({ is_default: true, display_name: 'GPT X', context_limit: 200_000 });
    expect((await f.modelConfigs.getModelConfig(first.id))!.is_default).toBe(false);

    await f.modelConfigs.deleteModelConfig(big.id);
    expect(await lastEvent()).toEqual({ kind: 'model_config', entity_id: big.id });
    expect((await f.modelConfigs.getDefaultModelConfig())!.id).toBe(first.id);
    const { rows } = await f.pool.query('SELECT count(*)::int AS n FROM chat_model_configs WHERE is_default');
    expect(rows[0].n).toBe(1);
  });

  it('refuses bad input with typed errors and changes nothing', async () => {
    const before = await f.modelConfigs.listModelConfigs();
    const n = events.length;
    await expectCode(f.modelConfigs.createModelConfig({ provider: 'demo', model: 'm', contextLimit: 0 }), 'INVALID_INPUT');
    await expectCode(f.modelConfigs.createModelConfig({ provider: 'demo', model: 'm', contextLimit: 10, compressionThreshold: 101 }), 'INVALID_INPUT');
    await expectCode(f.modelConfigs.createModelConfig({ provider: 'nobody', model: 'm', contextLimit: 10, isDefault: true }), 'INVALID_INPUT');
    await expectCode(f.modelConfigs.createModelConfig({ provider: 'demo', model: ' ', contextLimit: 10 }), 'INVALID_INPUT');
    await expectCode(f.modelConfigs.updateModelConfig('3b241101-e2bb-4255-8caf-4136c566a962', { model: 'x' }), 'NOT_FOUND');
    await expectCode(f.modelConfigs.createProvider({ provider: 'demo' }), 'CONFLICT');
    await expectCode(f.modelConfigs.createProvider({ provider: 'Bad!' }), 'INVALID_INPUT');
    await expectCode(f.modelConfigs.createProvider({ provider: 'x', baseUrl: 'ftp://nope' }), 'INVALID_INPUT');
    const demo = (await f.modelConfigs.listProviders()).find((p) => p.provider === 'demo')!;
    await expectCode(f.modelConfigs.deleteProvider(demo.id), 'CONFLICT');
    expect(await f.modelConfigs.listModelConfigs()).toEqual(before);
    expect(events.length).toBe(n);
  });

  it('a chat keeps working when its model config is deleted (last_model_config_id becomes null)', async () => {
    const u = await makeUser(f);
    const extra = await f.modelConfigs.createModelConfig({ provider: 'demo', model: 'other', contextLimit: 100 });
    const { chat } = await f.chats.createChat({ ownerId: u.id, content: text('hi'), modelConfigId: extra.id });
    expect(chat.last_model_config_id).toBe(extra.id);
    await f.modelConfigs.deleteModelConfig(extra.id);
    expect((await f.chats.getChat(chat.id))!.last_model_config_id).toBeNull();
  });
});

describe('the per-replica config cache', () => {
  it('serves from memory until a ChatConfigEvent from any replica invalidates it', async () => {
    const replicaB = createModelConfigStore({ pool: f.pool, clock: f.clock, pubsub });
    const cacheA = createConfigCache({ store: f.modelConfigs, pool: f.pool, pubsub });
    await cacheA.start();
    try {
      const def = (await cacheA.getDefaultModelConfig())!;
      await cacheA.getModelConfig(def.id);
      // A change behind the cache's back (no event) is not seen...
      await f.pool.query(`UPDATE chat_model_configs SET display_name = 'sneaky' WHERE id = $1`, [def.id]);
      expect((await cacheA.getModelConfig(def.id))!.display_name).not.toBe('sneaky');
      expect((await cacheA.getDefaultModelConfig())!.display_name).not.toBe('sneaky');
      // ...until another replica changes it and publishes.
      await replicaB.updateModelConfig(def.id, { displayName: 'Renamed' });
      await waitFor(async () => (await cacheA.getModelConfig(def.id))!.display_name === 'Renamed', { timeoutMs: 2000 });
      expect((await cacheA.getDefaultModelConfig())!.display_name).toBe('Renamed');
    } finally {
      await cacheA.close();
    }
  });

  it('resolves disabled or unknown configs to the default', async () => {
    const cache = createConfigCache({ store: f.modelConfigs, pool: f.pool });
    const def = (await f.modelConfigs.getDefaultModelConfig())!;
    const off = await f.modelConfigs.createModelConfig({ provider: 'demo', model: 'off', contextLimit: 10, enabled: false });
    expect((await cache.resolveModelConfig(off.id))!.id).toBe(def.id);
    expect((await cache.resolveModelConfig('3b241101-e2bb-4255-8caf-4136c566a962'))!.id).toBe(def.id);
    expect((await cache.resolveModelConfig(null))!.id).toBe(def.id);
    expect((await cache.resolveModelConfig(def.id))!.id).toBe(def.id);
  });

  it('drops a user prompt on a user_prompt event, and everything when messages were lost', async () => {
    const u = await makeUser(f);
    const cache = createConfigCache({ store: f.modelConfigs, pool: f.pool, pubsub });
    await cache.start();
    try {
      expect(await cache.userSystemPrompt(u.id)).toBe('');
      // Set behind the cache's back: not seen until the event.
      await f.pool.query('UPDATE users SET system_prompt = $2 WHERE id = $1', [u.id, 'Be terse.']);
      expect(await cache.userSystemPrompt(u.id)).toBe('');
      await pubsub.publish(CHAT_CONFIG_EVENT_CHANNEL, encodeChatConfigEvent({ kind: 'user_prompt', entity_id: u.id }));
      await waitFor(async () => (await cache.userSystemPrompt(u.id)) === 'Be terse.', { timeoutMs: 2000 });
      await f.pool.query('UPDATE users SET system_prompt = $2 WHERE id = $1', [u.id, 'Be verbose.']);
      pubsub.simulateConnectionLoss(CHAT_CONFIG_EVENT_CHANNEL);
      await waitFor(async () => (await cache.userSystemPrompt(u.id)) === 'Be verbose.', { timeoutMs: 2000 });
      // The identity store announces its own prompt changes.
      const identity = createIdentityStore({ pool: f.pool, clock: f.clock, pubsub });
      await identity.setUserSystemPrompt(u.id, 'Be kind.');
      expect(await lastEvent()).toEqual({ kind: 'user_prompt', entity_id: u.id });
      await waitFor(async () => (await cache.userSystemPrompt(u.id)) === 'Be kind.', { timeoutMs: 2000 });
    } finally {
      await cache.close();
    }
  });
});
