// Wire types of the chat stream (contract.md#messages, contract.md#events): messages, parts and the
// `ChatStreamEvent` union sent to clients in bare-array frames. Types only; validation lives at the boundaries.
import type { ChatStatus, ChatStreamError, ChatStreamRetry } from '@chatd/pubsub';

/** One content part of a message (contract.md#message-parts); every field but `type` is omitted when empty. */
export type ChatMessagePart = {
  type: 'text' | 'reasoning' | 'tool-call' | 'tool-result' | 'source' | 'file';
  text?: string;
  signature?: string;
  tool_call_id?: string;
  tool_name?: string;
  args?: unknown;
  args_delta?: string;
  result?: unknown;
  result_delta?: string;
  is_error?: boolean;
  source_id?: string;
  url?: string;
  title?: string;
  media_type?: string;
  data?: string;
};

/** Token usage of a message (contract.md#chat-message). */
export type ChatMessageUsage = {
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  reasoning_tokens?: number;
  cache_creation_tokens?: number;
  cache_read_tokens?: number;
  context_limit?: number;
};

/** A durable message. `id` is a global bigserial, below 2^53 in practice and sent as a JSON number like the original. */
export type ChatMessage = {
  id: number;
  chat_id: string;
  model_config_id?: string;
  created_at: string;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content?: ChatMessagePart[];
  usage?: ChatMessageUsage;
};

/** A queued user message (contract.md#queued-message). */
export type ChatQueuedMessage = {
  id: number;
  chat_id: string;
  content: ChatMessagePart[];
  created_at: string;
};

/** A streamed, not stored, part with our cursor (contract.md#part-cursor). */
export type ChatStreamMessagePart = {
  role?: string;
  part: ChatMessagePart;
  /** 1, 2, 3... within one generation run. */
  seq: number;
  /** Opaque id of the run (its fencing token). */
  run_id: string;
};

/** Why gapless delivery cannot be promised (contract.md#discontinuity). */
export type DiscontinuityReason = 'run_lost' | 'too_slow' | 'relay_failed';

/** One event of the stream socket. */
export type ChatStreamEvent =
  | { type: 'message_part'; chat_id: string; message_part: ChatStreamMessagePart }
  | { type: 'message'; chat_id: string; message: ChatMessage }
  | { type: 'status'; chat_id: string; status: { status: ChatStatus } }
  | { type: 'error'; chat_id: string; error: ChatStreamError }
  | { type: 'retry'; chat_id: string; retry: ChatStreamRetry }
  | { type: 'queue_update'; chat_id: string; queued_messages?: ChatQueuedMessage[] }
  | { type: 'discontinuity'; chat_id: string; discontinuity: { reason: DiscontinuityReason; resync_after_id: number } };

/** The `type` of a stream event. */
export type ChatStreamEventType = ChatStreamEvent['type'];
