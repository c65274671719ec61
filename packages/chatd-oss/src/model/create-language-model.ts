// Builds the AI SDK `LanguageModelV3` a provider kind names (contract.md#models): the deterministic demo model,
// OpenAI's Responses API, Anthropic's messages API, or any OpenAI-compatible chat completions server. The one
// place that knows the provider packages; the run loop holds only the port. It reads no environment: keys and
// base URLs come from the caller (the resolver reads `api_key_env`).
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import type { Clock } from '@chatd/clock';
import { createDemoLanguageModel, type DemoModelOptions } from './demo-model.js';
import { ModelProviderError } from './model-error.js';
import type { ProviderKind } from './model-settings.js';

/** API root of the `openai` kind when its provider row names none. */
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** API root of the `anthropic` kind when its provider row names none. */
export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com/v1';

/** Options of `createLanguageModel`. */
export type CreateLanguageModelOptions = {
  kind: ProviderKind;
  /** The provider row's name: carried by errors, and the chat completions client's name. */
  name: string;
  /** Model id sent to the provider. */
  model: string;
  /** API root (ends in `/v1` for the three HTTP kinds); required for `openai-compatible`. */
  baseUrl?: string | null;
  /** Sent as the provider's credential; required for `openai` and `anthropic`, optional for local servers. */
  apiKey?: string | null;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Paces the demo model. */
  clock: Clock;
  /** Pace and length of the demo model. */
  demo?: DemoModelOptions;
};

function invalid(name: string, message: string): ModelProviderError {
  return new ModelProviderError('INVALID_CONFIG', message, { provider: name });
}

function httpRoot(name: string, url: string): string {
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw invalid(name, `provider "${name}" has a base URL that is not http(s)`);
  return url.replace(/\/+$/, '');
}

/**
 * Creates the language model. Throws `ModelProviderError` INVALID_CONFIG on unusable settings (no model id,
 * an `openai-compatible` provider without a base URL, a base URL that is not http(s)) and AUTH when an `openai`
 * or `anthropic` provider has no API key.
 */
export function createLanguageModel(options: CreateLanguageModelOptions): LanguageModelV3 {
  const { kind, name } = options;
  if (kind === 'demo') return createDemoLanguageModel({ clock: options.clock, ...options.demo });
  if (!options.model.trim()) throw invalid(name, `provider "${name}" needs a model id`);
  const apiKey = options.apiKey ?? undefined;
  const fetchOption = options.fetch ? { fetch: options.fetch } : {};
  switch (kind) {
    case 'openai':
    case 'anthropic': {
      // Without a key the SDK would read OPENAI_API_KEY / ANTHROPIC_API_KEY itself; keys come only from us.
      if (!apiKey) throw new ModelProviderError('AUTH', `provider "${name}" has no API key`, { provider: name });
      if (kind === 'openai') {
        const baseURL = httpRoot(name, options.baseUrl ?? DEFAULT_OPENAI_BASE_URL);
        return createOpenAI({ baseURL, apiKey, ...fetchOption }).responses(options.model);
      }
      const baseURL = httpRoot(name, options.baseUrl ?? DEFAULT_ANTHROPIC_BASE_URL);
      return createAnthropic({ baseURL, apiKey, ...fetchOption })(options.model);
    }
    case 'openai-compatible': {
      if (!options.baseUrl) throw invalid(name, `provider "${name}" has no base URL`);
      const baseURL = httpRoot(name, options.baseUrl);
      return createOpenAICompatible({ name, baseURL, ...(apiKey ? { apiKey } : {}), includeUsage: true, ...fetchOption }).chatModel(options.model);
    }
  }
}
