/** Provider kinds (contract.md#models); 'openai-compat' is accepted on input as an alias of 'openai-compatible'. */
export const PROVIDER_KINDS = ['demo', 'openai', 'anthropic', 'openai-compatible'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'max'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];
/** Call options of a model configuration (wire names in snake_case on routes: max_output_tokens, temperature, top_p, reasoning_effort). */
export type ModelCallOptions = { maxOutputTokens?: number; temperature?: number; topP?: number; reasoningEffort?: ReasoningEffort };
/** Passed through to the AI SDK call as `providerOptions` (keyed by provider name, e.g. { openai: {...} }). */
export type ProviderOptions = Record<string, Record<string, unknown>>;
