// The replica link (contract.md#replica-link): one WebSocket per replica pair carrying every relayed chat. The
// subscribing replica B sends control frames, one JSON object each: `{op:"sub", sid, chat_id, run_id?, after_seq?,
// traceparent?}` opens chat `chat_id` as stream `sid` (live parts after the cursor; `traceparent`, the W3C trace
// context of B's relay dial, plays the part a relay leg's upgrade header plays), `{op:"unsub", sid}` closes it. The generating
// replica A sends data frames: a JSON array of records, `{sid, events:[...]}` (a stream's events of one turn, in
// order) or `{sid, end:{reason}}` (the stream is over; no more records for that sid). One data frame carries the
// records of every stream that had events in one event-loop turn.
// Decoding a data frame gives each event its own JSON text, sliced from the frame (recorded as its `eventJson`),
// so B forwards the bytes A wrote without encoding them again.
import { z } from 'zod';
import { withEventJson } from './encoded-event.js';
import { closingQuote, isJsonWhitespace, jsonArrayElements } from './json-array-elements.js';
import { isStreamEvent, type StreamEvent } from './stream-frame.js';

/** Path of the replica link's WebSocket, under the API base. */
export const REPLICA_LINK_PATH = '/api/experimental/replica-link';

/** Why A ended a stream of the link. */
export const REPLICA_LINK_END_REASONS = ['ended', 'too_slow', 'not_found', 'invalid', 'failed'] as const;
export type ReplicaLinkEndReason = (typeof REPLICA_LINK_END_REASONS)[number];

/** A stream id on a link: chosen by B, unique among its open streams on that link. */
const sidSchema = z.int().positive();

/** B -> A: open or close one stream. */
export const replicaLinkControlSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('sub'),
    sid: sidSchema,
    chat_id: z.string().min(1).max(64),
    run_id: z.string().min(1).max(256).optional(),
    after_seq: z.int().nonnegative().optional(),
    // Only the length is checked here: the serving replica parses it as any `traceparent` header (invalid: ignored).
    traceparent: z.string().min(1).max(256).optional(),
  }),
  z.strictObject({ op: z.literal('unsub'), sid: sidSchema }),
]);
export type ReplicaLinkControl = z.infer<typeof replicaLinkControlSchema>;

/** A -> B: one record of a data frame (its events are checked with `isStreamEvent` when decoded). */
export const replicaLinkRecordSchema = z.union([
  z.strictObject({ sid: sidSchema, events: z.array(z.unknown()) }),
  z.strictObject({ sid: sidSchema, end: z.looseObject({ reason: z.string() }) }),
]);
/** A -> B: a data frame. */
export const replicaLinkFrameSchema = z.array(replicaLinkRecordSchema);

/** A decoded record: a stream's well-formed events (each with its own JSON recorded), or its end. */
export type ReplicaLinkRecord = { sid: number; events: StreamEvent[]; end?: undefined } | { sid: number; events?: undefined; end: { reason: string } };

/**
 * Decodes a control frame; undefined when it is not one (bad JSON, unknown op, a cursor with only one of
 * `run_id` and `after_seq`). Never throws.
 */
export function decodeReplicaLinkControl(text: string): ReplicaLinkControl | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const got = replicaLinkControlSchema.safeParse(parsed);
  if (!got.success) return undefined;
  if (got.data.op === 'sub' && (got.data.run_id === undefined) !== (got.data.after_seq === undefined)) return undefined;
  return got.data;
}

/** Encodes a control frame. */
export function encodeReplicaLinkControl(control: ReplicaLinkControl): string {
  return JSON.stringify(control);
}

/** Encodes an events record from the stream's frame text (a bare JSON array of its events, as sent to a socket). */
export function encodeReplicaLinkEvents(sid: number, eventsFrame: string): string {
  return `{"sid":${sid},"events":${eventsFrame}}`;
}

/** Encodes an end record. */
export function encodeReplicaLinkEnd(sid: number, reason: ReplicaLinkEndReason): string {
  return `{"sid":${sid},"end":{"reason":"${reason}"}}`;
}

/** Encodes a data frame from encoded records. */
export function encodeReplicaLinkFrame(records: readonly string[]): string {
  return `[${records.join(',')}]`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSid = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/**
 * Where the array that is the value of the top-level key `"events"` of `record` (an object's JSON text) opens, or
 * -1: one pass over the object's own keys, jumping over strings and nested values.
 */
function eventsArrayAt(record: string): number {
  let depth = 0;
  for (let i = 0; i < record.length; i++) {
    const c = record.charCodeAt(i);
    if (c === 0x22) {
      const end = closingQuote(record, i);
      if (depth === 1 && end - i === 7 && record.startsWith('"events"', i)) {
        let k = end + 1;
        while (isJsonWhitespace(record.charCodeAt(k))) k++;
        if (record.charCodeAt(k) === 0x3a) {
          k++;
          while (isJsonWhitespace(record.charCodeAt(k))) k++;
          if (record.charCodeAt(k) === 0x5b) return k;
        }
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return -1;
}

/** The text of every element of every record's `events` array in a valid data frame, one list per record in order. */
function eventSpans(text: string): string[][] {
  return jsonArrayElements(text).map((record) => {
    const at = eventsArrayAt(record);
    return at < 0 ? [] : jsonArrayElements(record.slice(at));
  });
}

/**
 * Decodes a data frame: its records in order, undefined when the text is no data frame (not JSON, not an array
 * of records). Malformed records and events are dropped. Never throws. Each kept event carries its own JSON as
 * sent (`eventJson`).
 */
export function decodeReplicaLinkFrame(text: string): ReplicaLinkRecord[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  let spans: string[][] | undefined;
  const records: ReplicaLinkRecord[] = [];
  for (let r = 0; r < parsed.length; r++) {
    const rec: unknown = parsed[r];
    if (!isObj(rec) || !isSid(rec.sid)) continue;
    if (Array.isArray(rec.events)) {
      spans ??= eventSpans(text);
      const texts = spans[r];
      const aligned = texts !== undefined && texts.length === rec.events.length;
      const events: StreamEvent[] = [];
      for (let i = 0; i < rec.events.length; i++) {
        const e: unknown = rec.events[i];
        if (!isStreamEvent(e)) continue;
        // The slice is the event's own text; a frame the scanner could not align (never from a chatd encoder) is re-encoded.
        events.push(withEventJson(e, aligned ? texts[i]! : JSON.stringify(e)));
      }
      records.push({ sid: rec.sid, events });
    } else if (isObj(rec.end) && typeof rec.end.reason === 'string') {
      records.push({ sid: rec.sid, end: { reason: rec.end.reason } });
    }
  }
  return records;
}
