// What a stand-in reply says, independent of the wire, and the encoder each wire format implements.
// Scripts speak in steps (text, reasoning, a hold) and an end (finish, cut, hang, malformed chunk, early EOF).

/** The wire formats a stand-in speaks. */
export type StandInWireName = 'openai-chat' | 'openai-responses' | 'anthropic-messages';

/** Token counts a stand-in reports at the end of a stream. */
export type StandInUsage = { inputTokens: number; outputTokens: number; reasoningTokens?: number; cachedInputTokens?: number };

/** One piece of a streamed answer; `hold` waits for its promise before going on. */
export type StandInStep = { text: string } | { reasoning: string } | { hold: Promise<unknown> };

/** Why the model stopped, in neutral terms; each wire spells it its own way. */
export type StandInFinishReason = 'stop' | 'length' | 'content_filter';

/** One scripted answer. */
export type StandInReply = {
  /** Non-200 answers a JSON error body (`body`, or the wire's own error shape). @default 200 */
  status?: number;
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
  /** Error body of a non-200 answer. */
  body?: unknown;
  steps?: StandInStep[];
  /** @default 'stop' */
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
  step(step: { text: string } | { reasoning: string }): string;
  finish(reason: StandInFinishReason, usage: StandInUsage | undefined): string;
  malformed(): string;
};

/** A wire format. */
export type StandInWire = {
  encoder(model: string): StandInEncoder;
  /** The provider's error body for a status. */
  errorBody(status: number): unknown;
};

/** One SSE event: an optional `event:` line and a JSON (or verbatim string) `data:` line. */
export function sseEvent(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}
