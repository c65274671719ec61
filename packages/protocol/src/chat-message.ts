// Durable messages (contract.md#chat-message, contract.md#queued-message, contract.md#steps): a stored message, its token usage, and a queued user message.
// `id` is the global bigserial, sent as a JSON number as the original does (ids stay below 2^53 in practice).
import { z } from 'zod';
import { timestampSchema, uuidSchema } from './chat-types.js';
import { chatMessagePartSchema } from './message-part.js';

const tokens = z.number().int().nonnegative().optional();

/** Token usage of a message (contract.md#chat-message), plus the cost and runtime of contract.md#cost once prices are configured. */
export const chatMessageUsageSchema = z.object({
  input_tokens: tokens,
  output_tokens: tokens,
  total_tokens: tokens,
  reasoning_tokens: tokens,
  cache_creation_tokens: tokens,
  cache_read_tokens: tokens,
  context_limit: tokens,
  /** Cost of the message in millionths of the currency unit (0.4 "Cost and limits"). */
  total_cost_micros: tokens,
  /** Time the model took for it, in milliseconds (0.4). */
  total_runtime_ms: tokens,
});
/** Token usage of a message (contract.md#chat-message). */
export type ChatMessageUsage = z.infer<typeof chatMessageUsageSchema>;

/** Message roles; `tool` messages hold the `tool-result` parts of one step (0.4). */
export const chatMessageRoleSchema = z.enum(['system', 'user', 'assistant', 'tool']);
/** Message roles (contract.md#chat-message). */
export type ChatMessageRole = z.infer<typeof chatMessageRoleSchema>;

/** A positive message id that a JS number holds exactly. */
const messageIdSchema = z.int().positive();

/**
 * A durable message (contract.md#chat-message). `run_id` and `last_seq` (contract.md#steps) name the run that persisted it and the `seq`
 * of the last streamed part it covers: a client replaces that run's in-flight parts with `seq <= last_seq` by it.
 */
export const chatMessageSchema = z.object({
  id: messageIdSchema,
  chat_id: uuidSchema,
  model_config_id: uuidSchema.optional(),
  created_at: timestampSchema,
  role: chatMessageRoleSchema,
  content: z.array(chatMessagePartSchema).optional(),
  usage: chatMessageUsageSchema.optional(),
  run_id: uuidSchema.optional(),
  last_seq: z.int().nonnegative().optional(),
});
/** A durable message (contract.md#chat-message). */
export type ChatMessage = z.infer<typeof chatMessageSchema>;

/** A queued user message (contract.md#queued-message); the queue is in ascending `id` order. */
export const chatQueuedMessageSchema = z.object({
  id: messageIdSchema,
  chat_id: uuidSchema,
  content: z.array(chatMessagePartSchema),
  created_at: timestampSchema,
});
/** A queued user message (contract.md#queued-message). */
export type ChatQueuedMessage = z.infer<typeof chatQueuedMessageSchema>;
