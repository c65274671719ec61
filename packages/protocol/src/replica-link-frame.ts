// The replica link (contract.md#replica-link): one WebSocket per replica pair carrying every relayed chat. The
// subscribing replica B sends control frames, one JSON object each: `{op:"sub", sid, chat_id, run_id?, after_seq?}`
// opens chat `chat_id` as stream `sid` (live parts after the cursor), `{op:"unsub", sid}` closes it. The generating
// replica A sends data frames: a JSON array of records, `{sid, events:[...]}` (a stream's events of one turn, in
// order) or `{sid, end:{reason}}` (the stream is over; no more records for that sid). One data frame carries the
// records of every stream that had events in one event-loop turn.
// Decoding a data frame gives each event its own JSON text, sliced from the frame (recorded as its `eventJson`),
// so B forwards the bytes A wrote without encoding them again.
import { z } from 'zod';
import { withEventJson } from './encoded-event.js';
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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index just past the string starting at `at` (a quote) in valid JSON. */
function skipString(text: string, at: number): number {
  let i = at + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return text.length;
    let slashes = 0;
    for (let k = q - 1; k > at && text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** Whether the array opening at `at` is the value of a key `"events"`. */
function isEventsValue(text: string, at: number): boolean {
  let k = at - 1;
  while (k >= 0 && isSpace(text.charCodeAt(k))) k--;
  if (text.charCodeAt(k) !== COLON) return false;
  k--;
  while (k >= 0 && isSpace(text.charCodeAt(k))) k--;
  return k >= 7 && text.startsWith('"events"', k - 7);
}

/**
 * The text of every element of every record's `events` array in a valid data frame, one list per record in
 * order: one pass over the text that jumps over strings, tracking only bracket depth.
 */
function eventSpans(text: string): string[][] {
  const out: string[][] = [];
  let depth = 0;
  let current: string[] = [];
  /** Set where the frame's next element begins (after its `[` and after each top-level comma). */
  let needRecord = false;
  /** Depth 3 is inside an `events` array (frame array, record object, events array). */
  let inEvents = false;
  let start = -1;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (needRecord && depth === 1 && c !== CLOSE_ARRAY) {
      out.push((current = []));
      needRecord = false;
    }
    if (c === QUOTE) {
      if (inEvents && depth === 3 && start < 0) start = i;
      i = skipString(text, i);
      continue;
    }
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (depth === 0) needRecord = true;
      else if (depth === 2 && c === OPEN_ARRAY && isEventsValue(text, i)) inEvents = true;
      else if (inEvents && depth === 3 && start < 0) start = i;
      depth++;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
      if (inEvents && depth === 2) {
        if (start >= 0) current.push(text.slice(start, trimEnd(text, i)));
        start = -1;
        inEvents = false;
      }
    } else if (c === COMMA) {
      if (depth === 1) needRecord = true;
      else if (inEvents && depth === 3 && start >= 0) {
        current.push(text.slice(start, trimEnd(text, i)));
        start = -1;
      }
    } else if (inEvents && depth === 3 && start < 0) {
      start = i;
    }
    i++;
  }
  return out;
}

/** End of the value that ends before `i`, without trailing whitespace. */
function trimEnd(text: string, i: number): number {
  let e = i;
  while (e > 0 && isSpace(text.charCodeAt(e - 1))) e--;
  return e;
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
