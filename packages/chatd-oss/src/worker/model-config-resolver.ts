// A `ModelResolver` driven by the database (contract.md#run-loop, contract.md#models): a chat's
// `last_model_config_id`, falling back to the default configuration when that one is gone or disabled, then
// its provider row (kind, base URL, key from `api_key_env` or the stored key). An embedder's
// `models.resolve(config)` is asked first and may return any AI SDK `LanguageModelV3`; otherwise the built-in
// kinds are built by `createLanguageModel` and kept per (kind, name, endpoint, key, model). The effective
// reasoning effort (the chat's, else the configuration's) becomes the provider's own option here. Reads go
// through the replica's config cache, so a `chat:config_change` takes effect on the next run.
import type { LanguageModelV3 } from '@ai-sdk/provider';
import type { Clock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import { createLanguageModel, DEFAULT_OPENAI_BASE_URL } from '../model/create-language-model.js';
import type { DemoModelOptions } from '../model/demo-model.js';
import { ModelProviderError } from '../model/model-error.js';
import type { ModelCallOptions, ProviderKind, ProviderOptions, ReasoningEffort } from '../model/model-settings.js';
import { mergeProviderOptions, reasoningEffortOptions } from '../model/reasoning-effort.js';
import { DEFAULT_MODEL_IDLE_TIMEOUT_MS } from '../model/stream-model-step.js';
import type { ChatModelConfig, ProviderSettings } from '../store/model-config-store.js';
import type { ModelResolver, ResolvedModel } from './chat-run.js';

/** Provider name whose base URL defaults to OpenAI's API. */
export const OPENAI_PROVIDER_NAME = 'openai';
/** Built models kept at most (the cache is dropped whole past it). @default 64 */
export const MAX_CACHED_LANGUAGE_MODELS = 64;
/** Provider name used on errors raised before any provider is chosen. */
const RESOLVER_PROVIDER = 'chatd';

/** A model configuration as an embedder's `models.resolve` receives it (the key already resolved). */
export type ModelConfiguration = {
  /** The model configuration's id. */
  id: string;
  /** The provider row's name. */
  provider: string;
  kind: ProviderKind;
  /** Model id, as the configuration names it. */
  model: string;
  baseUrl: string | null;
  /** From `api_key_env` when set, else the stored key; null when there is none. */
  apiKey: string | null;
  callOptions: ModelCallOptions;
  providerOptions: ProviderOptions | null;
};

/** The embedder's model factory (`startChatdServer({ models })`). */
export type ModelsOption = {
  /**
   * Returns the model for a configuration, or `undefined` to use the built-in provider of its kind. Called at
   * the start of every run that uses the configuration (cache your models if building them costs anything).
   * A throw fails the run with it (classified like any model error).
   */
  resolve(config: ModelConfiguration): LanguageModelV3 | undefined | Promise<LanguageModelV3 | undefined>;
};

/** What the resolver reads of a configuration; the call option fields may be absent on older rows. */
export type ResolverModelConfig = Pick<ChatModelConfig, 'id' | 'provider' | 'model'> & {
  /** Tokens; with `compression_threshold` it sets when a run compacts (contract.md#compaction). */
  context_limit?: number;
  compression_threshold?: number;
  callOptions?: ModelCallOptions;
  providerOptions?: ProviderOptions | null;
};

/** What the resolver reads of a provider row; `kind` falls back to one derived from the name when absent. */
export type ResolverProviderSettings = ProviderSettings & { kind?: ProviderKind; apiKeyEnv?: string | null };

/** Options of `createModelConfigResolver`. */
export type ModelConfigResolverOptions = {
  /** The replica's config cache (or anything with its two reads). */
  configs: {
    resolveModelConfig(id?: string | null): Promise<ResolverModelConfig | undefined>;
    getProviderSettings(provider: string): Promise<ResolverProviderSettings | undefined>;
  };
  clock: Clock;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Pace of the demo model. */
  demo?: DemoModelOptions;
  /** The embedder's models, asked before the built-in kinds. */
  models?: ModelsOption;
  /** Where `api_key_env` names are read. @default process.env */
  env?: Record<string, string | undefined>;
  /** Silence from a built-in HTTP provider that fails an attempt as `TIMEOUT`. @default DEFAULT_MODEL_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number;
};

/** The kind of a provider row that has none (rows older than kinds): by its name, as the migration does. */
export function kindFromProviderName(name: string): ProviderKind {
  if (name === 'demo') return 'demo';
  if (name === 'anthropic') return 'anthropic';
  return 'openai-compatible';
}

function unavailable(message: string, provider = RESOLVER_PROVIDER): ModelProviderError {
  return new ModelProviderError('INVALID_CONFIG', message, { provider });
}

/**
 * Creates the resolver. It rejects with `ModelProviderError` INVALID_CONFIG (the run then fails with it as
 * `last_error`) when no configuration is usable: `no default chat model config is available`, a provider
 * that is missing or disabled, or an endpoint without a base URL; AUTH when a hosted kind has no key.
 */
export function createModelConfigResolver(options: ModelConfigResolverOptions): ModelResolver {
  const { configs, clock } = options;
  const env = options.env ?? process.env;
  const built = new Map<string, LanguageModelV3>();

  return async (chat: Chat): Promise<ResolvedModel> => {
    const config = await configs.resolveModelConfig(chat.last_model_config_id ?? null);
    if (!config) throw unavailable('no default chat model config is available');
    const settings = await configs.getProviderSettings(config.provider);
    const kind = settings?.kind ?? kindFromProviderName(config.provider);
    // The demo model needs no provider row (as before kinds existed).
    if (kind !== 'demo' && (!settings || !settings.enabled)) {
      throw unavailable(`chat provider "${config.provider}" is not configured or is disabled`, config.provider);
    }
    const fromEnv = settings?.apiKeyEnv ? env[settings.apiKeyEnv] : undefined;
    const apiKey = fromEnv !== undefined && fromEnv !== '' ? fromEnv : (settings?.apiKey ?? null);
    const baseUrl = settings?.baseUrl ?? (kind === 'openai-compatible' && config.provider === OPENAI_PROVIDER_NAME ? DEFAULT_OPENAI_BASE_URL : null);
    const configured = config.callOptions ?? {};
    const chatEffort = (chat as Chat & { reasoning_effort?: ReasoningEffort | null }).reasoning_effort;
    const effort = chatEffort ?? configured.reasoningEffort;
    const callOptions: ModelCallOptions = { ...configured, ...(effort === undefined ? {} : { reasoningEffort: effort }) };
    const providerOptions = config.providerOptions ?? null;
    const limits = {
      // The configuration whose prices the run's calls are charged at (contract.md#cost).
      ...(config.id ? { modelConfigId: config.id } : {}),
      ...(config.context_limit === undefined ? {} : { contextLimit: config.context_limit }),
      ...(config.compression_threshold === undefined ? {} : { compressionThreshold: config.compression_threshold }),
    };

    const custom = await options.models?.resolve({ id: config.id, provider: config.provider, kind, model: config.model, baseUrl, apiKey, callOptions, providerOptions });
    if (custom) {
      // An embedder's model gets the configuration's own provider options; efforts map by the configured kind.
      const merged = mergeProviderOptions(reasoningEffortOptions(kind, custom.modelId, effort), providerOptions);
      return { model: custom, provider: config.provider, kind, callOptions, ...limits, ...(merged ? { providerOptions: merged as ProviderOptions } : {}) };
    }

    const key = JSON.stringify([kind, config.provider, baseUrl, apiKey, config.model]);
    let model = built.get(key);
    if (!model) {
      model = createLanguageModel({
        kind,
        name: config.provider,
        model: config.model,
        baseUrl,
        apiKey,
        clock,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.demo ? { demo: options.demo } : {}),
      });
      if (built.size >= MAX_CACHED_LANGUAGE_MODELS) built.clear();
      built.set(key, model);
    }
    const merged = mergeProviderOptions(reasoningEffortOptions(kind, config.model, effort), providerOptions);
    return {
      model,
      provider: config.provider,
      kind,
      callOptions,
      ...limits,
      ...(merged ? { providerOptions: merged as ProviderOptions } : {}),
      ...(kind === 'demo' ? {} : { strictFinish: true, idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_MODEL_IDLE_TIMEOUT_MS }),
    };
  };
}
