// Builds the ModelProvider a `ModelProviderConfig` names. The one place that knows every implementation;
// callers (the worker, the CLI) hold only the port. It reads no environment (see `modelConfigFromEnv`).
import type { Clock } from '@chatd/clock';
import { createDemoModelProvider } from './demo-model-provider.js';
import type { ModelProviderConfig } from './model-config.js';
import type { ModelProvider } from './model-provider.js';
import { createOpenAiCompatibleProvider } from './openai-compatible-provider.js';

/** What the providers need from their host. */
export type ModelProviderDeps = {
  /** Paces the demo model; times the OpenAI-compatible idle timeout. */
  clock: Clock;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
};

/** Creates the provider `config` names. Throws `ModelProviderError` `INVALID_CONFIG` on unusable settings. */
export function createModelProvider(config: ModelProviderConfig, deps: ModelProviderDeps): ModelProvider {
  switch (config.provider) {
    case 'demo':
      return createDemoModelProvider({
        clock: deps.clock,
        ...(config.tokensPerSecond === undefined ? {} : { tokensPerSecond: config.tokensPerSecond }),
        ...(config.replyTokens === undefined ? {} : { replyTokens: config.replyTokens }),
      });
    case 'openai-compatible':
      return createOpenAiCompatibleProvider({
        baseUrl: config.baseUrl,
        apiKey: config.apiKey,
        model: config.model,
        clock: deps.clock,
        ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
        ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
        ...(config.name === undefined ? {} : { name: config.name }),
      });
  }
}
