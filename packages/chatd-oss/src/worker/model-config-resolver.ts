// A `ModelResolver` driven by the database (contract.md#run-loop): a chat's `last_model_config_id`,
// falling back to the default configuration when that one is gone or disabled, then its provider's
// settings. `demo` is the built-in demo model; every other provider is an OpenAI-compatible endpoint
// (`openai` may omit its base URL). Reads go through the replica's config cache, so a `chat:config_change`
// takes effect on the next run; built providers are kept per (endpoint, key, model).
import type { Clock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import { createDemoModelProvider, DEMO_PROVIDER, type DemoModelOptions } from '../model/demo-model-provider.js';
import { DEFAULT_OPENAI_BASE_URL } from '../model/model-config.js';
import { ModelProviderError } from '../model/model-error.js';
import type { ModelProvider } from '../model/model-provider.js';
import { createOpenAiCompatibleProvider } from '../model/openai-compatible-provider.js';
import type { ConfigCache } from '../store/config-cache.js';
import type { ModelResolver } from './chat-run.js';

/** Provider name whose base URL defaults to OpenAI's API. */
export const OPENAI_PROVIDER_NAME = 'openai';
/** Built providers kept at most (the cache is dropped whole past it). @default 64 */
export const MAX_CACHED_MODEL_PROVIDERS = 64;
/** Provider name used on errors raised before any provider is chosen. */
const RESOLVER_PROVIDER = 'chatd';

/** Options of `createModelConfigResolver`. */
export type ModelConfigResolverOptions = {
  /** The replica's config cache (or anything with its two reads). */
  configs: Pick<ConfigCache, 'resolveModelConfig' | 'getProviderSettings'>;
  clock: Clock;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Pace of the demo model. */
  demo?: DemoModelOptions;
};

function unavailable(message: string, provider = RESOLVER_PROVIDER): ModelProviderError {
  return new ModelProviderError('INVALID_CONFIG', message, { provider });
}

/**
 * Creates the resolver. It rejects with `ModelProviderError` INVALID_CONFIG (the run then fails with it as
 * `last_error`) when no configuration is usable: `no default chat model config is available`, a provider
 * that is missing or disabled, or an endpoint without a base URL.
 */
export function createModelConfigResolver(options: ModelConfigResolverOptions): ModelResolver {
  const { configs, clock } = options;
  const built = new Map<string, ModelProvider>();
  let demo: ModelProvider | undefined;

  return async (chat: Chat) => {
    const config = await configs.resolveModelConfig(chat.last_model_config_id ?? null);
    if (!config) throw unavailable('no default chat model config is available');
    if (config.provider === DEMO_PROVIDER) {
      demo ??= createDemoModelProvider({ clock, ...options.demo });
      return demo;
    }
    const settings = await configs.getProviderSettings(config.provider);
    if (!settings || !settings.enabled) throw unavailable(`chat provider "${config.provider}" is not configured or is disabled`, config.provider);
    const baseUrl = settings.baseUrl ?? (config.provider === OPENAI_PROVIDER_NAME ? DEFAULT_OPENAI_BASE_URL : undefined);
    if (!baseUrl) throw unavailable(`chat provider "${config.provider}" has no base URL`, config.provider);
    const apiKey = settings.apiKey ?? '';
    const key = JSON.stringify([config.provider, baseUrl, apiKey, config.model]);
    let provider = built.get(key);
    if (!provider) {
      provider = createOpenAiCompatibleProvider({
        baseUrl,
        apiKey,
        model: config.model,
        name: config.provider,
        clock,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
      if (built.size >= MAX_CACHED_MODEL_PROVIDERS) built.clear();
      built.set(key, provider);
    }
    return provider;
  };
}
