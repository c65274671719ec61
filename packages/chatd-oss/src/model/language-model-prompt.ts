// Our model-visible history (contract.md#chat-message, contract.md#message-parts) as the AI SDK's `LanguageModelV3Prompt`: the system
// prompt first, then each message with the parts a model can take (text, reasoning with its signature,
// tool calls and tool results). Parts a role cannot carry, and empty messages, are left out; files and
// sources are not sent (the files issue adds them).
import type { LanguageModelV3Message, LanguageModelV3Prompt, LanguageModelV3ToolResultOutput, JSONValue } from '@ai-sdk/provider';
import type { ChatMessage, ChatMessagePart, ChatMessagePartOf } from '@chatd/protocol';

/** One message of the model-visible history (contract.md#chat-message): a role and its content parts (contract.md#message-parts). */
export type ModelMessage = {
  role: ChatMessage['role'];
  content: ChatMessagePart[];
};

/** The plain text of a message: its `text` parts joined (reasoning, tool and file parts are not prompt text). */
export function messageText(message: ModelMessage): string {
  return message.content
    .map((p) => (p.type === 'text' ? p.text : ''))
    .join('');
}

type AssistantContent = Extract<LanguageModelV3Message, { role: 'assistant' }>['content'];
type ToolResultPart = Extract<Extract<LanguageModelV3Message, { role: 'tool' }>['content'][number], { type: 'tool-result' }>;

function toolResult(p: ChatMessagePartOf<'tool-result'>): ToolResultPart {
  const value = (p.result ?? null) as JSONValue;
  const output: LanguageModelV3ToolResultOutput = p.is_error
    ? typeof value === 'string'
      ? { type: 'error-text', value }
      : { type: 'error-json', value }
    : typeof value === 'string'
      ? { type: 'text', value }
      : { type: 'json', value };
  return { type: 'tool-result', toolCallId: p.tool_call_id, toolName: p.tool_name, output };
}

function assistantContent(parts: ChatMessagePart[]): AssistantContent {
  const out: AssistantContent = [];
  for (const p of parts) {
    if (p.type === 'text' && p.text) out.push({ type: 'text', text: p.text });
    else if (p.type === 'reasoning' && (p.text || p.signature)) {
      // Anthropic needs a thinking block's signature back to accept it in a later turn.
      out.push({ type: 'reasoning', text: p.text ?? '', ...(p.signature ? { providerOptions: { anthropic: { signature: p.signature } } } : {}) });
    } else if (p.type === 'tool-call' && p.tool_call_id && p.tool_name) {
      out.push({ type: 'tool-call', toolCallId: p.tool_call_id, toolName: p.tool_name, input: p.args ?? {} });
    } else if (p.type === 'tool-result' && p.tool_call_id) out.push(toolResult(p));
  }
  return out;
}

/** Builds the prompt of one step: `systemPrompt` (when not blank) first, then `messages` in order. */
export function toLanguageModelPrompt(messages: readonly ModelMessage[], systemPrompt?: string): LanguageModelV3Prompt {
  const prompt: LanguageModelV3Prompt = [];
  if (systemPrompt !== undefined && systemPrompt.trim() !== '') prompt.push({ role: 'system', content: systemPrompt });
  for (const m of messages) {
    if (m.role === 'system') {
      const text = messageText(m);
      if (text !== '') prompt.push({ role: 'system', content: text });
    } else if (m.role === 'user') {
      const content = m.content.flatMap((p) => (p.type === 'text' && p.text ? [{ type: 'text' as const, text: p.text }] : []));
      if (content.length > 0) prompt.push({ role: 'user', content });
    } else if (m.role === 'assistant') {
      const content = assistantContent(m.content);
      if (content.length > 0) prompt.push({ role: 'assistant', content });
    } else {
      const content = m.content.flatMap((p) => (p.type === 'tool-result' && p.tool_call_id ? [toolResult(p)] : []));
      if (content.length > 0) prompt.push({ role: 'tool', content });
    }
  }
  return prompt;
}
