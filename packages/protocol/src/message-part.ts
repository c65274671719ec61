// Message parts (contract.md#message-parts, contract.md#tool-parts): what a stored message's `content` and a streamed `message_part` carry. Each
// part is a flat object with a `type`; the schema is a union on `type`, one member per part type, and parsing
// keeps only the fields of that type (unknown fields are kept out of the wire). Every field but `type` and the
// ids a part cannot do without is omitted when empty. This module does not say which parts a user may send
// (see chat-input-part.ts) nor how parts stream (stream-event.ts).
import { z } from 'zod';

/** `text`: visible text (a whole text in a message, a delta in a streamed part). */
export const textPartSchema = z.object({ type: z.literal('text'), text: z.string() });

/** `reasoning`: the model's reasoning text; `signature` is the provider's proof of it, when it gives one. */
export const reasoningPartSchema = z.object({ type: z.literal('reasoning'), text: z.string(), signature: z.string().optional() });

/**
 * `tool-call`: a call of tool `tool_name`; `tool_call_id` is unique in the chat. `args` is the complete input (a JSON
 * value, in durable messages); `args_delta` a chunk of the input's JSON text while the model still writes it (streamed
 * parts only); `provider_executed` marks a tool the model provider ran itself.
 */
export const toolCallPartSchema = z.object({
  type: z.literal('tool-call'),
  tool_call_id: z.string(),
  tool_name: z.string(),
  args: z.unknown().optional(),
  args_delta: z.string().optional(),
  provider_executed: z.boolean().optional(),
});

/** `tool-result`: the result (a JSON value) of call `tool_call_id`; `result_delta` may stream a long tool's output first. */
export const toolResultPartSchema = z.object({
  type: z.literal('tool-result'),
  tool_call_id: z.string(),
  tool_name: z.string(),
  result: z.unknown().optional(),
  result_delta: z.string().optional(),
  is_error: z.boolean().optional(),
});

/** `source`: a source the model cites. */
export const sourcePartSchema = z.object({ type: z.literal('source'), source_id: z.string(), url: z.string(), title: z.string().optional() });

/** `file`: an uploaded file by id (never its bytes), with its media type and, when known, its name. */
export const filePartSchema = z.object({ type: z.literal('file'), file_id: z.string(), media_type: z.string(), name: z.string().optional() });

/** One content part of a message or of a streamed `message_part`, by `type`. */
export const chatMessagePartSchema = z.discriminatedUnion('type', [
  textPartSchema,
  reasoningPartSchema,
  toolCallPartSchema,
  toolResultPartSchema,
  sourcePartSchema,
  filePartSchema,
]);
/** One content part of a message or of a streamed `message_part`, by `type`. */
export type ChatMessagePart = z.infer<typeof chatMessagePartSchema>;
/** The `type` of a message part. */
export type ChatMessagePartType = ChatMessagePart['type'];
/** The part of type `T`. */
export type ChatMessagePartOf<T extends ChatMessagePartType> = Extract<ChatMessagePart, { type: T }>;

/** The part types, in the contract's order (contract.md#message-parts). */
export const CHAT_MESSAGE_PART_TYPES: readonly ChatMessagePartType[] = chatMessagePartSchema.options.map((o) => o.shape.type.value);

/** The text of a `text` or `reasoning` part; undefined for other parts (and for no part), which carry none. */
export function partText(part: ChatMessagePart | undefined): string | undefined {
  return part?.type === 'text' || part?.type === 'reasoning' ? part.text : undefined;
}
