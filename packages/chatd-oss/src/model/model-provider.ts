// The ModelProvider port: what the run loop (contract.md#run-loop) asks of a language model. One call
// streams one model step as a small typed union of deltas and a final `finish`; failures are thrown as
// `ModelProviderError` so the loop can retry or fail the run (contract.md#run-retries). It does not retry, persist
// or publish anything itself, and knows nothing about tools (planned: contract.md#server-tools).
import type { ChatMessage, ChatMessagePart, ChatMessageUsage } from '@chatd/protocol';

/** One message of the model-visible history (contract.md#chat-message): a role and its content parts (contract.md#message-parts). */
export type ModelMessage = {
  role: ChatMessage['role'];
  content: ChatMessagePart[];
};

/** Per-request model settings; every field is optional and falls back to the provider's own. */
export type ModelRequestConfig = {
  /** Model name sent to the provider; overrides the provider's configured model. */
  model?: string;
  /** Sampling temperature, passed through when set. */
  temperature?: number;
  /** Upper bound on generated tokens; a reply cut by it finishes with reason `length`. */
  maxOutputTokens?: number;
};

/** One model step to generate. */
export type ModelRequest = {
  /** History in chronological order; `system` messages are sent after `systemPrompt`. */
  messages: ModelMessage[];
  /** The chat's system prompt, sent first when set. */
  systemPrompt?: string;
  config?: ModelRequestConfig;
  /** Aborting it stops the stream at once with a `CANCELLED` error and releases every socket and timer. */
  signal: AbortSignal;
};

/** Token counts of one step, as the provider reported them. */
export type ModelUsage = {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /** Reasoning tokens, when the provider reports them (they are part of `outputTokens`). */
  reasoningTokens?: number;
};

/** Why the model stopped: `stop` (natural end), `length` (token limit), `content-filter`, `tool-calls`, `other`. */
export type ModelFinishReason = 'stop' | 'length' | 'content-filter' | 'tool-calls' | 'other';

/** One event of a model stream. A successful stream ends with exactly one `finish`. */
export type ModelStreamEvent =
  | { type: 'text-delta'; text: string }
  | { type: 'reasoning-delta'; text: string }
  | {
      type: 'finish';
      finishReason: ModelFinishReason;
      /** Absent when the provider reported no usage. */
      usage?: ModelUsage;
    };

/** The `type` of a model stream event. */
export type ModelStreamEventType = ModelStreamEvent['type'];

/** A language model behind one endpoint. */
export interface ModelProvider {
  /** Provider name carried by errors and `ChatStreamError.provider` (`demo`, `openai-compatible`). */
  readonly provider: string;
  /** The model used when a request does not name one. */
  readonly model: string;
  /**
   * Streams one step. The iterable yields deltas then one `finish`, or throws a `ModelProviderError`
   * (`CANCELLED` once `request.signal` aborts). Breaking out of the loop early also releases the request.
   */
  stream(request: ModelRequest): AsyncIterable<ModelStreamEvent>;
}

/** Converts port usage to the wire `ChatMessageUsage` (contract.md#chat-message) stored on the assistant message. */
export function toChatMessageUsage(usage: ModelUsage): ChatMessageUsage {
  const out: ChatMessageUsage = {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    total_tokens: usage.totalTokens,
  };
  if (usage.reasoningTokens !== undefined) out.reasoning_tokens = usage.reasoningTokens;
  return out;
}

/** The plain text of a message: its `text` parts joined (reasoning, tool and file parts are not prompt text). */
export function messageText(message: ModelMessage): string {
  return message.content
    .flatMap((p) => (p.type === 'text' ? [p.text] : []))
    .join('');
}
