// Our model-visible history (contract.md#chat-message, contract.md#message-parts) as the AI SDK's `LanguageModelV3Prompt`: the system
// prompt first, then each message with the parts a model can take (text, reasoning with its signature,
// tool calls and tool results). Parts a role cannot carry, and empty messages, are left out; sources are not
// sent. Files (contract.md#files): the caller reads the bytes of the MAX_MODEL_FILES newest file parts
// (`newestFileIds`); those go to the model as file inputs (images, PDFs) or text (text types), every other file
// part as a one-line mention.
import type { LanguageModelV3Message, LanguageModelV3Prompt, LanguageModelV3ToolResultOutput, JSONValue } from '@ai-sdk/provider';
import type { ChatMessage, ChatMessagePart, ChatMessagePartOf } from '@chatd/protocol';

/** File parts of a chat the model receives with their bytes, newest first; older ones are mentioned only. @default 50 */
export const MAX_MODEL_FILES = 50;

/** The file ids of the `limit` newest file parts of `messages` (newest message and last part first). */
export function newestFileIds(messages: readonly ModelMessage[], limit: number = MAX_MODEL_FILES): string[] {
  const ids: string[] = [];
  for (let m = messages.length - 1; m >= 0 && ids.length < limit; m--) {
    const content = messages[m]!.content;
    for (let p = content.length - 1; p >= 0 && ids.length < limit; p--) {
      const part = content[p]!;
      if (part.type === 'file') ids.push(part.file_id);
    }
  }
  return ids;
}

/** Whether a media type is text the model reads as text (contract.md#files: text types as text). */
export function isTextMediaType(mediaType: string): boolean {
  return mediaType.startsWith('text/') || mediaType === 'application/json';
}

type UserContent = Extract<LanguageModelV3Message, { role: 'user' }>['content'];

/** A file part as the model sees it: its bytes when `files` holds them, else a one-line mention. */
function fileInput(p: ChatMessagePartOf<'file'>, files: ReadonlyMap<string, Uint8Array> | undefined): UserContent[number] {
  const label = `${p.name ?? p.file_id} (${p.media_type})`;
  const data = files?.get(p.file_id);
  if (!data) return { type: 'text', text: `[file ${label} omitted]` };
  if (isTextMediaType(p.media_type)) return { type: 'text', text: `[file ${label}]\n${new TextDecoder().decode(data)}` };
  return { type: 'file', data, mediaType: p.media_type, ...(p.name ? { filename: p.name } : {}) };
}

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

/**
 * Builds the prompt of one step: `systemPrompt` (when not blank) first, then `messages` in order. `files` holds the
 * bytes of the file parts sent whole (by file id); without it every file part is a mention.
 */
export function toLanguageModelPrompt(messages: readonly ModelMessage[], systemPrompt?: string, files?: ReadonlyMap<string, Uint8Array>): LanguageModelV3Prompt {
  const prompt: LanguageModelV3Prompt = [];
  if (systemPrompt !== undefined && systemPrompt.trim() !== '') prompt.push({ role: 'system', content: systemPrompt });
  for (const m of messages) {
    if (m.role === 'system') {
      const text = messageText(m);
      if (text !== '') prompt.push({ role: 'system', content: text });
    } else if (m.role === 'user') {
      const content: UserContent = m.content.flatMap((p): UserContent => {
        if (p.type === 'text' && p.text) return [{ type: 'text', text: p.text }];
        if (p.type === 'file' && p.file_id) return [fileInput(p, files)];
        return [];
      });
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
