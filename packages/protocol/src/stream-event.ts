// The events of the chat stream socket (contract.md#events, contract.md#extensions, contract.md#second-edition): `ChatStreamEvent`, one member per `type`, as zod
// schemas whose inferred types are what servers build and clients read. Parsing keeps only the fields of the
// event's type. The frame decoder (stream-frame.ts) checks less, on purpose: the type and cursor fields only.
import { z } from 'zod';
import { chatStatusSchema, chatStreamErrorSchema, chatStreamRetrySchema, uuidSchema } from './chat-types.js';
import { chatMessageSchema, chatQueuedMessageSchema } from './chat-message.js';
import { chatMessagePartSchema } from './message-part.js';

/** A streamed, not stored, part with our cursor (contract.md#part-cursor): `seq` is 1, 2, 3... within run `run_id`. */
export const chatStreamMessagePartSchema = z.object({
  role: z.string().optional(),
  part: chatMessagePartSchema,
  seq: z.int().positive(),
  run_id: z.string(),
});
/** A streamed, not stored, part with our cursor (contract.md#part-cursor). */
export type ChatStreamMessagePart = z.infer<typeof chatStreamMessagePartSchema>;

/** Why gapless delivery cannot be promised (contract.md#discontinuity). */
export const discontinuityReasonSchema = z.enum(['run_lost', 'too_slow', 'relay_failed']);
/** Why gapless delivery cannot be promised (contract.md#discontinuity). */
export type DiscontinuityReason = z.infer<typeof discontinuityReasonSchema>;

/** A call the client must answer (0.4 client-executed tools); `args` is the input as a JSON *string* here. */
export const actionRequiredToolCallSchema = z.object({ tool_call_id: z.string(), tool_name: z.string(), args: z.string() });
/** A call the client must answer (0.4). */
export type ActionRequiredToolCall = z.infer<typeof actionRequiredToolCallSchema>;

const event = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) => z.object({ type: z.literal(type), chat_id: uuidSchema, ...shape });

/** One event of the stream socket, by `type`. */
export const chatStreamEventSchema = z.discriminatedUnion('type', [
  event('message_part', { message_part: chatStreamMessagePartSchema }),
  event('message', { message: chatMessageSchema }),
  event('status', { status: z.object({ status: chatStatusSchema }) }),
  event('error', { error: chatStreamErrorSchema }),
  event('retry', { retry: chatStreamRetrySchema }),
  // Omitted when the queue is empty (Go's omitempty): read a missing field as [].
  event('queue_update', { queued_messages: z.array(chatQueuedMessageSchema).optional() }),
  event('discontinuity', { discontinuity: z.object({ reason: discontinuityReasonSchema, resync_after_id: z.int().nonnegative() }) }),
  // 0.4: the chat waits for the client's results of these calls (status `requires_action`).
  event('action_required', { action_required: z.object({ tool_calls: z.array(actionRequiredToolCallSchema) }) }),
  // 0.4: drop what you hold; the whole visible history follows as `message` events.
  event('history_reset', {}),
]);
/** One event of the stream socket, by `type`. */
export type ChatStreamEvent = z.infer<typeof chatStreamEventSchema>;
/** The `type` of a stream event. */
export type ChatStreamEventType = ChatStreamEvent['type'];
/** The event of type `T`. */
export type ChatStreamEventOf<T extends ChatStreamEventType> = Extract<ChatStreamEvent, { type: T }>;

/** The event types, in the order of the union. */
export const CHAT_STREAM_EVENT_TYPES: readonly ChatStreamEventType[] = chatStreamEventSchema.options.map((o) => o.shape.type.value);
