// Token usage of one model step: the AI SDK's `LanguageModelV3Usage` (input split into cached and uncached,
// output into text and reasoning) folded into the flat `ChatMessageUsage` stored on an assistant message
// (contract.md#chat-message). Counts a provider did not report are left out, never guessed.
import type { LanguageModelV3Usage } from '@ai-sdk/provider';
import type { ChatMessageUsage } from '@chatd/protocol';

/** Converts a step's usage to the wire `ChatMessageUsage`; `undefined` when the provider reported nothing. */
export function toChatMessageUsage(usage: LanguageModelV3Usage | undefined): ChatMessageUsage | undefined {
  if (!usage) return undefined;
  const out: ChatMessageUsage = {};
  const input = usage.inputTokens.total;
  const output = usage.outputTokens.total;
  if (input !== undefined) out.input_tokens = input;
  if (output !== undefined) out.output_tokens = output;
  if (input !== undefined || output !== undefined) out.total_tokens = (input ?? 0) + (output ?? 0);
  if (usage.outputTokens.reasoning !== undefined) out.reasoning_tokens = usage.outputTokens.reasoning;
  if (usage.inputTokens.cacheRead !== undefined) out.cache_read_tokens = usage.inputTokens.cacheRead;
  if (usage.inputTokens.cacheWrite !== undefined) out.cache_creation_tokens = usage.inputTokens.cacheWrite;
  return Object.keys(out).length === 0 ? undefined : out;
}
