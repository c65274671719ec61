// What a stand-in reply says, independent of the wire, and the encoder each wire format implements.
// Scripts speak in steps (text, reasoning, a tool call, a hold) and an end (finish, cut, hang, malformed chunk,
// early EOF); each wire also reads the function tools a request offered, in neutral terms.

/** The wire formats a stand-in speaks. */
export type StandInWireName = 'openai-chat' | 'openai-responses' | 'anthropic-messages';

/** Token counts a stand-in reports at the end of a stream. */
export type StandInUsage = { inputTokens: number; outputTokens: number; reasoningTokens?: number; cachedInputTokens?: number };

/**
 * A function call the stand-in makes: `input` is sent as its JSON text (a string is sent verbatim), streamed in
 * `chunks` pieces (@default STAND_IN_TOOL_INPUT_CHUNKS).
 */
export type StandInToolCall = { id: string; name: string; input: unknown; chunks?: number };

/** One piece of a streamed answer; `hold` waits for its promise before going on. */
export type StandInStep = { text: string } | { reasoning: string } | { toolCall: StandInToolCall } | { hold: Promise<unknown> };

/** A step the encoder writes (everything but `hold`). */
export type StandInWireStep = Exclude<StandInStep, { hold: Promise<unknown> }>;

/** Why the model stopped, in neutral terms; each wire spells it its own way. */
export type StandInFinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls';

/** A function tool a request offered, in neutral terms. */
export type StandInTool = { name: string; description?: string; inputSchema: unknown };

/** Pieces a tool call's input is streamed in when the script does not say. @default 3 */
export const STAND_IN_TOOL_INPUT_CHUNKS = 3;

/** A call's input as the JSON text the wire carries. */
export function toolInputText(call: StandInToolCall): string {
  return typeof call.input === 'string' ? call.input : JSON.stringify(call.input ?? {});
}

/** Splits a call's input text into its chunks (at least one, possibly empty). */
export function toolInputChunks(call: StandInToolCall): string[] {
  const text = toolInputText(call);
  const n = Math.max(1, call.chunks ?? STAND_IN_TOOL_INPUT_CHUNKS);
  const size = Math.max(1, Math.ceil(text.length / n));
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
  return chunks.length > 0 ? chunks : [''];
}

/** One scripted answer. */
export type StandInReply = {
  /** Non-200 answers a JSON error body (`body`, or the wire's own error shape). @default 200 */
  status?: number;
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
  /** Error body of a non-200 answer. */
  body?: unknown;
  steps?: StandInStep[];
  /** @default 'tool_calls' when the steps hold a tool call, else 'stop' */
  finishReason?: StandInFinishReason;
  usage?: StandInUsage;
  /**
   * How the stream ends: `finish` (finish reason, usage, terminator), `cut` (the connection is destroyed
   * mid-body), `hang` (left open), `malformed` (a chunk that is not JSON, then open), `eof` (the body ends
   * cleanly without any finish). @default 'finish'
   */
  end?: 'finish' | 'cut' | 'hang' | 'malformed' | 'eof';
};

/** Encodes one stream. */
export type StandInEncoder = {
  start(): string;
  step(step: StandInWireStep): string;
  finish(reason: StandInFinishReason, usage: StandInUsage | undefined): string;
  malformed(): string;
};

/** A wire format. */
export type StandInWire = {
  encoder(model: string): StandInEncoder;
  /** The provider's error body for a status. */
  errorBody(status: number): unknown;
  /** The function tools a request body offers, in order ([] when none). */
  requestTools(body: unknown): StandInTool[];
};

/** One SSE event: an optional `event:` line and a JSON (or verbatim string) `data:` line. */
export function sseEvent(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}
