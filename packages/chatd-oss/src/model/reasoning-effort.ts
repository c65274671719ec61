// A turn's reasoning effort (`none|minimal|low|medium|high|max`, contract.md#model-behaviour), clamped to what the
// model takes and turned into that provider's own option, merged into the call's `providerOptions`:
//   openai (Responses)  `openai.reasoningEffort`; reasoning models only (o-series, gpt-5 family). `max` is
//                       `high`; `minimal` is `low` on o-series; `none` is `none` on gpt-5.1+, `minimal` on gpt-5,
//                       and left out (the model's default) elsewhere.
//   anthropic           `anthropic.thinking = {type:'enabled', budgetTokens}` with ANTHROPIC_THINKING_BUDGETS;
//                       `none` sends no thinking.
//   openai-compatible   `openaiCompatible.reasoningEffort` (the request's `reasoning_effort`); `max` is `high`,
//                       `none` is sent as `none` (servers such as Ollama turn thinking off with it).
//   demo                ignored.
// An option the configuration's own `providerOptions` already sets for that provider wins over the mapping.
import type { SharedV3ProviderOptions } from '@ai-sdk/provider';
import type { ProviderKind, ProviderOptions, ReasoningEffort } from './model-settings.js';

/**
 * Anthropic thinking budget (tokens) per effort. 1024 is Anthropic's minimum; each level roughly doubles or
 * quadruples the last. The SDK adds the budget to `max_tokens`, so the reply itself is not shortened.
 */
export const ANTHROPIC_THINKING_BUDGETS: Readonly<Record<Exclude<ReasoningEffort, 'none'>, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  max: 32768,
};

/** The OpenAI reasoning efforts a model id takes, or `undefined` for a model that does not reason. */
function openAiEfforts(modelId: string): { none: 'none' | 'minimal' | undefined; minimal: 'minimal' | 'low' } | undefined {
  if (/^o\d+(-|$)/.test(modelId)) return { none: undefined, minimal: 'low' };
  const gpt = /^gpt-(\d+)(?:\.(\d+))?(?:-([a-z]+))?/.exec(modelId);
  if (!gpt) return undefined;
  const major = Number(gpt[1]);
  const minor = gpt[2] === undefined ? undefined : Number(gpt[2]);
  if (major < 5 || (minor === undefined && gpt[3]?.startsWith('chat'))) return undefined;
  const noneWorks = major > 5 || (minor ?? 0) >= 1;
  return { none: noneWorks ? 'none' : 'minimal', minimal: 'minimal' };
}

/**
 * The provider option one effort becomes for `kind` and `modelId` (see the module comment), as a
 * `providerOptions` fragment; `{}` when the model takes none (or `effort` is undefined).
 */
export function reasoningEffortOptions(kind: ProviderKind, modelId: string, effort: ReasoningEffort | undefined): ProviderOptions {
  if (effort === undefined) return {};
  switch (kind) {
    case 'demo':
      return {};
    case 'openai': {
      const efforts = openAiEfforts(modelId);
      if (!efforts) return {};
      const value = effort === 'none' ? efforts.none : effort === 'minimal' ? efforts.minimal : effort === 'max' ? 'high' : effort;
      return value === undefined ? {} : { openai: { reasoningEffort: value } };
    }
    case 'anthropic':
      return effort === 'none' ? {} : { anthropic: { thinking: { type: 'enabled', budgetTokens: ANTHROPIC_THINKING_BUDGETS[effort] } } };
    case 'openai-compatible':
      return { openaiCompatible: { reasoningEffort: effort === 'max' ? 'high' : effort } };
  }
}

/** Merges `base` (the configuration's `providerOptions`) over `mapped` (from the effort): explicit settings win. */
export function mergeProviderOptions(mapped: ProviderOptions, base: ProviderOptions | null | undefined): SharedV3ProviderOptions | undefined {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, opts] of Object.entries(mapped)) out[name] = { ...opts };
  for (const [name, opts] of Object.entries(base ?? {})) out[name] = { ...out[name], ...opts };
  return Object.keys(out).length === 0 ? undefined : (out as SharedV3ProviderOptions);
}
