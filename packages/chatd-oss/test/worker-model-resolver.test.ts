import { createMockClock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPENAI_BASE_URL } from '../src/model/create-language-model.js';
import { streamModelStep } from '../src/model/stream-model-step.js';
import { ModelProviderError } from '../src/model/model-error.js';
import type { ChatModelConfig, ProviderSettings } from '../src/store/model-config-store.js';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import { createModelConfigResolver, kindFromProviderName, type ModelConfiguration } from '../src/worker/model-config-resolver.js';

const DEFAULT_ID = '44444444-4444-4444-8444-444444444444';
const OPENAI_ID = '55555555-5555-4555-8555-555555555555';
const LOCAL_ID = '66666666-6666-4666-8666-666666666666';

function config(id: string, provider: string, model: string): ChatModelConfig {
  return { id, provider, model, display_name: model, enabled: true, is_default: id === DEFAULT_ID, context_limit: 1000, compression_threshold: 70, pricing: null, created_at: '', updated_at: '', callOptions: {}, providerOptions: null };
}

function fakeConfigs(providers: Record<string, ProviderSettings>, withDefault = true) {
  const configs = new Map([
    [DEFAULT_ID, config(DEFAULT_ID, 'demo', 'demo')],
    [OPENAI_ID, config(OPENAI_ID, 'openai', 'gpt-test')],
    [LOCAL_ID, config(LOCAL_ID, 'local-llm', 'llama')],
  ]);
  return {
    async resolveModelConfig(id?: string | null) {
      return (id ? configs.get(id) : undefined) ?? (withDefault ? configs.get(DEFAULT_ID) : undefined);
    },
    async getProviderSettings(provider: string) {
      return providers[provider];
    },
  };
}

const chatWith = (modelConfigId: string | null) => ({ last_model_config_id: modelConfigId }) as Chat;

describe('createModelConfigResolver', () => {
  it('uses the demo model for a demo config and the default config when the chat names none or a gone one', async () => {
    const resolve = createModelConfigResolver({ configs: fakeConfigs({}), clock: createMockClock() });
    const a = await resolve(chatWith(null));
    const b = await resolve(chatWith('77777777-7777-4777-8777-777777777777'));
    expect(a.provider).toBe('demo');
    expect(b.model).toBe(a.model);
  });

  it('builds an OpenAI-compatible provider from the provider settings, once per endpoint, key and model', async () => {
    const calls: string[] = [];
    const fetchSpy = (async (url: string | URL | Request) => {
      calls.push(String(url));
      return new Response('{"error":{"message":"nope"}}', { status: 401 });
    }) as typeof fetch;
    const resolve = createModelConfigResolver({
      configs: fakeConfigs({
        openai: { provider: 'openai', kind: 'openai-compatible', baseUrl: null, apiKey: 'sk-test', apiKeyEnv: null, enabled: true },
        'local-llm': { provider: 'local-llm', kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1', apiKey: null, apiKeyEnv: null, enabled: true },
      }),
      clock: createMockClock(),
      fetch: fetchSpy,
    });
    const openai = await resolve(chatWith(OPENAI_ID));
    expect(openai.provider).toBe('openai');
    expect(openai.model.modelId).toBe('gpt-test');
    expect((await resolve(chatWith(OPENAI_ID))).model).toBe(openai.model);
    const local = await resolve(chatWith(LOCAL_ID));
    expect([local.provider, local.model.modelId]).toEqual(['local-llm', 'llama']);
    const err = await (async () => {
      const step = streamModelStep({ model: openai.model, provider: openai.provider, call: { prompt: [] }, signal: new AbortController().signal, clock: createMockClock() });
      for await (const _ of step) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelProviderError);
    expect(calls).toEqual([`${DEFAULT_OPENAI_BASE_URL}/chat/completions`]);
  });

  it('rejects with INVALID_CONFIG when nothing usable is configured', async () => {
    const none = createModelConfigResolver({ configs: fakeConfigs({}, false), clock: createMockClock() });
    await expect(none(chatWith(null))).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: 'no default chat model config is available' });
    const disabled = createModelConfigResolver({
      configs: fakeConfigs({ openai: { provider: 'openai', kind: 'openai-compatible', baseUrl: null, apiKey: 'k', apiKeyEnv: null, enabled: false } }),
      clock: createMockClock(),
    });
    await expect(disabled(chatWith(OPENAI_ID))).rejects.toMatchObject({ code: 'INVALID_CONFIG', provider: 'openai' });
    const noUrl = createModelConfigResolver({
      configs: fakeConfigs({ 'local-llm': { provider: 'local-llm', kind: 'openai-compatible', baseUrl: null, apiKey: null, apiKeyEnv: null, enabled: true } }),
      clock: createMockClock(),
    });
    await expect(noUrl(chatWith(LOCAL_ID))).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringContaining('no base URL') });
  });

  it('reads the kind from the provider row (else from its name) and the key from api_key_env before the stored one', async () => {
    const clock = createMockClock();
    const configs = fakeConfigs({
      openai: { provider: 'openai', kind: 'openai', baseUrl: null, apiKey: 'stored', apiKeyEnv: 'MY_OPENAI_KEY', enabled: true } as ProviderSettings,
      'local-llm': { provider: 'local-llm', baseUrl: 'http://127.0.0.1:9/v1', apiKey: null, enabled: true } as ProviderSettings,
    });
    const seen: ModelConfiguration[] = [];
    const resolve = createModelConfigResolver({
      configs,
      clock,
      env: { MY_OPENAI_KEY: 'from-env' },
      models: {
        resolve(config) {
          seen.push(config);
          return undefined; // the built-in kind
        },
      },
    });
    const openai = await resolve(chatWith(OPENAI_ID));
    expect(openai).toMatchObject({ provider: 'openai', kind: 'openai', strictFinish: true });
    expect(openai.model.provider).toBe('openai.responses');
    const local = await resolve(chatWith(LOCAL_ID));
    expect(local.kind).toBe('openai-compatible');
    expect(seen.map((c) => [c.provider, c.kind, c.apiKey])).toEqual([
      ['openai', 'openai', 'from-env'],
      ['local-llm', 'openai-compatible', null],
    ]);
    const unset = createModelConfigResolver({ configs, clock, env: {} });
    await unset(chatWith(OPENAI_ID));
    expect(kindFromProviderName('demo')).toBe('demo');
    expect(kindFromProviderName('anthropic')).toBe('anthropic');
    expect(kindFromProviderName('openai')).toBe('openai-compatible');
  });

  it("uses an embedder's model when models.resolve returns one, with the configuration's provider name and effort", async () => {
    const custom = createDemoLanguageModel({ clock: createMockClock() });
    const resolve = createModelConfigResolver({
      configs: fakeConfigs({ 'local-llm': { provider: 'local-llm', baseUrl: null, apiKey: null, enabled: true } as ProviderSettings }),
      clock: createMockClock(),
      models: { resolve: async (config) => (config.provider === 'local-llm' ? custom : undefined) },
    });
    const got = await resolve({ last_model_config_id: LOCAL_ID, reasoning_effort: 'low' } as unknown as Chat);
    expect(got.model).toBe(custom);
    expect(got).toMatchObject({ provider: 'local-llm', kind: 'openai-compatible', callOptions: { reasoningEffort: 'low' }, providerOptions: { openaiCompatible: { reasoningEffort: 'low' } } });
    expect(got.strictFinish).toBeUndefined();
  });
});
