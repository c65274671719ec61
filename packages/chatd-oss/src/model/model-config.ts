// Which model a chatd process talks to when the database names none, read from the environment:
// an OpenAI-compatible endpoint when OPENAI_BASE_URL or OPENAI_API_KEY is set, else the demo model.
// It only reads and checks variables; `createModelProvider` builds the provider.
import { ModelProviderError } from './model-error.js';
import { DEMO_MODEL, DEMO_PROVIDER, demoModelOptionsFromEnv } from './demo-model-provider.js';
import { OPENAI_COMPATIBLE_PROVIDER } from './openai-compatible-provider.js';

/** API root used when only OPENAI_API_KEY is set. */
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** Model used when CHATD_MODEL is not set. */
export const DEFAULT_OPENAI_MODEL = 'gpt-4o-mini';

/** Settings of the demo model. */
export type DemoModelConfig = {
  provider: typeof DEMO_PROVIDER;
  model: typeof DEMO_MODEL;
  tokensPerSecond?: number;
  replyTokens?: number;
};

/** Settings of an OpenAI-compatible endpoint. */
export type OpenAiCompatibleModelConfig = {
  provider: typeof OPENAI_COMPATIBLE_PROVIDER;
  baseUrl: string;
  /** Empty for servers that need no key. */
  apiKey: string;
  model: string;
  /** Provider name carried by errors. @default 'openai-compatible' */
  name?: string;
  idleTimeoutMs?: number;
};

/** Which model provider to build, and how. */
export type ModelProviderConfig = DemoModelConfig | OpenAiCompatibleModelConfig;

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

/**
 * Reads the model settings: `OPENAI_BASE_URL` (default `https://api.openai.com/v1`), `OPENAI_API_KEY` and
 * `CHATD_MODEL` (default `gpt-4o-mini`) when either of the first two is set; otherwise the demo model with
 * `CHATD_DEMO_TOKENS_PER_SECOND` and `CHATD_DEMO_REPLY_TOKENS`. Throws `INVALID_CONFIG` on a bad value.
 */
export function modelConfigFromEnv(env: Record<string, string | undefined>): ModelProviderConfig {
  const baseUrl = nonEmpty(env.OPENAI_BASE_URL);
  const apiKey = nonEmpty(env.OPENAI_API_KEY);
  if (baseUrl === undefined && apiKey === undefined) {
    return { provider: DEMO_PROVIDER, model: DEMO_MODEL, ...demoModelOptionsFromEnv(env) };
  }
  const root = baseUrl ?? DEFAULT_OPENAI_BASE_URL;
  if (!URL.canParse(root) || !/^https?:$/.test(new URL(root).protocol)) {
    throw new ModelProviderError('INVALID_CONFIG', `OPENAI_BASE_URL must be an http(s) URL, got "${root}"`, { provider: OPENAI_COMPATIBLE_PROVIDER });
  }
  return { provider: OPENAI_COMPATIBLE_PROVIDER, baseUrl: root, apiKey: apiKey ?? '', model: nonEmpty(env.CHATD_MODEL) ?? DEFAULT_OPENAI_MODEL };
}
