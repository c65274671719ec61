import { describe, expect, it } from 'vitest';
import type { ProviderKind, ReasoningEffort } from '../src/model/model-settings.js';
import { ANTHROPIC_THINKING_BUDGETS, mergeProviderOptions, reasoningEffortOptions } from '../src/model/reasoning-effort.js';

// [kind, model, effort, expected providerOptions fragment]
const TABLE: Array<[ProviderKind, string, ReasoningEffort | undefined, object]> = [
  // OpenAI Responses: reasoning models only; max is high; minimal and none depend on the family.
  ['openai', 'gpt-5', 'none', { openai: { reasoningEffort: 'minimal' } }],
  ['openai', 'gpt-5.1', 'none', { openai: { reasoningEffort: 'none' } }],
  ['openai', 'gpt-5-mini', 'minimal', { openai: { reasoningEffort: 'minimal' } }],
  ['openai', 'gpt-5-mini', 'max', { openai: { reasoningEffort: 'high' } }],
  ['openai', 'o4-mini', 'minimal', { openai: { reasoningEffort: 'low' } }],
  ['openai', 'o3', 'none', {}],
  ['openai', 'o3', 'medium', { openai: { reasoningEffort: 'medium' } }],
  ['openai', 'gpt-4o', 'high', {}],
  ['openai', 'gpt-5-chat-latest', 'high', {}],
  ['openai', 'gpt-5', undefined, {}],
  // Anthropic: a thinking budget per level; none sends no thinking.
  ['anthropic', 'claude-sonnet-4-5', 'none', {}],
  ['anthropic', 'claude-sonnet-4-5', 'minimal', { anthropic: { thinking: { type: 'enabled', budgetTokens: 1024 } } }],
  ['anthropic', 'claude-sonnet-4-5', 'low', { anthropic: { thinking: { type: 'enabled', budgetTokens: 2048 } } }],
  ['anthropic', 'claude-sonnet-4-5', 'medium', { anthropic: { thinking: { type: 'enabled', budgetTokens: 8192 } } }],
  ['anthropic', 'claude-sonnet-4-5', 'high', { anthropic: { thinking: { type: 'enabled', budgetTokens: 16384 } } }],
  ['anthropic', 'claude-sonnet-4-5', 'max', { anthropic: { thinking: { type: 'enabled', budgetTokens: 32768 } } }],
  // OpenAI-compatible: the request's reasoning_effort; max is high, none is sent as none.
  ['openai-compatible', 'llama3.2', 'none', { openaiCompatible: { reasoningEffort: 'none' } }],
  ['openai-compatible', 'qwen3', 'minimal', { openaiCompatible: { reasoningEffort: 'minimal' } }],
  ['openai-compatible', 'qwen3', 'max', { openaiCompatible: { reasoningEffort: 'high' } }],
  // The demo model takes none.
  ['demo', 'demo', 'high', {}],
];

describe('reasoning effort', () => {
  it.each(TABLE)('%s %s %s', (kind, model, effort, expected) => {
    expect(reasoningEffortOptions(kind, model, effort)).toEqual(expected);
  });

  it('documents budgets that grow with the level, from Anthropic’s 1024 minimum', () => {
    expect(Object.values(ANTHROPIC_THINKING_BUDGETS)).toEqual([1024, 2048, 8192, 16384, 32768]);
  });

  it("lets the configuration's own provider options win over the mapped effort", () => {
    expect(mergeProviderOptions({ openai: { reasoningEffort: 'high' } }, { openai: { reasoningEffort: 'low', store: false }, other: { x: 1 } })).toEqual({
      openai: { reasoningEffort: 'low', store: false },
      other: { x: 1 },
    });
    expect(mergeProviderOptions({}, null)).toBeUndefined();
  });
});
