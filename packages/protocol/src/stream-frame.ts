// Stream frames (contract.md#stream-frames, contract.md#frame-validation): a frame is a bare JSON array of events (the relay also accepts the
// `{type:"data",data:[...]}` envelope). The zod schema says which events are well formed: a known `type` and
// well-formed cursor fields (message id; part run, seq and part type); other fields pass through untouched.
// `isStreamEvent` is the same check written out by hand for the hot paths (a zod parse per relayed part cost
// ~1.1 us against ~0.05 us, on top of ~2.4 us of JSON.parse); a property test keeps the two equal. The full shape
// of each event is `chatStreamEventSchema` (stream-event.ts); this schema has exactly its types.
import { z } from 'zod';
import { withEventJson } from './encoded-event.js';
import { jsonArrayElements } from './json-array-elements.js';

/** A streamed part: its run, its seq in the run (a safe integer) and a part object with a string `type`. */
export const streamMessagePartSchema = z.looseObject({
  run_id: z.string(),
  seq: z.int(),
  part: z.looseObject({ type: z.string() }),
});

/** A well-formed stream event, by `type`; unknown fields are kept. */
export const streamEventSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('message_part'), chat_id: z.string(), message_part: streamMessagePartSchema }),
  z.looseObject({ type: z.literal('message'), message: z.looseObject({ id: z.int().positive() }) }),
  z.looseObject({ type: z.literal('status'), status: z.looseObject({ status: z.string() }) }),
  z.looseObject({ type: z.literal('discontinuity'), discontinuity: z.looseObject({ reason: z.string() }) }),
  z.looseObject({ type: z.literal('error') }),
  z.looseObject({ type: z.literal('retry') }),
  z.looseObject({ type: z.literal('queue_update') }),
  z.looseObject({ type: z.literal('action_required'), action_required: z.looseObject({ tool_calls: z.array(z.unknown()) }) }),
  z.looseObject({ type: z.literal('history_reset') }),
]);

/** A stream event as the frame decoder keeps it (`streamEventSchema`'s type). */
export type StreamEvent = z.infer<typeof streamEventSchema>;

/** A decoded frame: its well-formed events, and the JSON of the one event of a one-event bare frame. */
export type StreamFrame = {
  events: StreamEvent[];
  /** The frame's own text of its single event (`[<this>]`), also recorded as its `eventJson`, so a relay can send it on without encoding it again. */
  single: string | undefined;
};

/** Options of `decodeStreamFrame`. */
export type DecodeStreamFrameOptions = {
  /** Also accept the `{type:"data",data:[...]}` envelope. @default false */
  envelope?: boolean;
  /**
   * Record every event of a multi-event bare frame with its own text from the frame as its JSON (`eventJson`), for a
   * relay that sends the events on. Costs a scan of the frame, so a reader that only reads the events leaves it off.
   * (The event of a one-event frame always gets the frame's text, which costs nothing.) @default false
   */
  eventJson?: boolean;
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether `e` satisfies `streamEventSchema` (the same check, without building a copy). */
export function isStreamEvent(e: unknown): e is StreamEvent {
  if (!isObj(e)) return false;
  switch (e.type) {
    case 'message_part': {
      const mp = e.message_part;
      return typeof e.chat_id === 'string' && isObj(mp) && typeof mp.run_id === 'string' && Number.isSafeInteger(mp.seq) && isObj(mp.part) && typeof mp.part.type === 'string';
    }
    case 'message':
      return isObj(e.message) && Number.isSafeInteger(e.message.id) && (e.message.id as number) > 0;
    case 'status':
      return isObj(e.status) && typeof e.status.status === 'string';
    case 'discontinuity':
      return isObj(e.discontinuity) && typeof e.discontinuity.reason === 'string';
    case 'action_required':
      return isObj(e.action_required) && Array.isArray(e.action_required.tool_calls);
    case 'error':
    case 'retry':
    case 'queue_update':
    case 'history_reset':
      return true;
    default:
      return false;
  }
}

/**
 * Decodes one frame: undefined when the text is no frame (not JSON, not an array or accepted envelope); otherwise
 * its well-formed events in order, malformed or unknown entries dropped. Never throws. The event of a one-event
 * bare frame carries the frame's text as its JSON (`eventJson`); with `options.eventJson` so does every event of a
 * bare frame, so a relay sends each on as the peer wrote it.
 */
export function decodeStreamFrame(text: string, options: DecodeStreamFrameOptions = {}): StreamFrame | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const bare = Array.isArray(parsed);
  let entries: unknown[];
  if (bare) entries = parsed as unknown[];
  else if (options.envelope && isObj(parsed) && parsed.type === 'data' && Array.isArray(parsed.data)) entries = parsed.data;
  else return undefined;
  // A bare array of exactly one entry: its JSON is the text between the outer brackets. Several: each entry's text is
  // sliced out of the frame (far cheaper than JSON.stringify per event when a relay sends them on).
  const one = bare && entries.length === 1 && text.charCodeAt(0) === 0x5b && text.charCodeAt(text.length - 1) === 0x5d;
  const texts = options.eventJson && bare && !one && entries.length > 1 ? jsonArrayElements(text) : undefined;
  const events: StreamEvent[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!isStreamEvent(e)) continue;
    events.push(texts ? withEventJson(e, texts[i]!) : e);
  }
  const single = one && events.length === 1 ? text.slice(1, -1) : undefined;
  if (single !== undefined) withEventJson(events[0]!, single);
  return { events, single };
}

/** Encodes events as one frame (a bare JSON array); `json` gives each event's encoding. @default JSON.stringify */
export function encodeStreamFrame<T>(events: readonly T[], json: (event: T) => string = (e) => JSON.stringify(e)): string {
  return `[${events.map((e) => json(e)).join(',')}]`;
}
