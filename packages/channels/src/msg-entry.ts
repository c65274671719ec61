// The data carried by a channel: one MsgEntry per append, plus the message-type conventions.
// Plain data only; the JSON wire form (the original's field names, base64 payload) is in wire-json.ts.

/** Regular data message. */
export const MSG_TYPE_DATA = 'data';
/** End-of-stream marker: streaming is complete. */
export const MSG_TYPE_END = 'end';
/** Error message; the payload usually carries the text. */
export const MSG_TYPE_ERROR = 'error';

/** The three conventional message types; `appendWithType` stores any string, these are conventions only. */
export type MsgType = typeof MSG_TYPE_DATA | typeof MSG_TYPE_END | typeof MSG_TYPE_ERROR;

/** Go's zero `time.Time` (0001-01-01T00:00:00Z) as epoch milliseconds: the timestamp of a terminal entry. */
export const ZERO_TIMESTAMP_MS = -62_135_596_800_000;

/** One message in a channel log (wire names: sequence, inreplyto, timestamp, senderid, payload, type, error). */
export type MsgEntry = {
  /** Client-assigned, per-sender sequence number; never checked for uniqueness, order or gaps. */
  sequence: number;
  /** The other party's sequence this entry answers; 0 when none (left out of the JSON). */
  inReplyTo: number;
  /** Router clock time at append, epoch milliseconds. */
  timestampMs: number;
  /** Who appended it; '' on a terminal (disconnect) entry. */
  senderId: string;
  /** The caller's bytes, stored without copying; null for a nil payload (JSON null). */
  payload: Uint8Array | null;
  /** `data`, `end`, `error` or any string given to `appendWithType`; '' on a terminal entry. */
  type: string;
  /** Error text; set on the terminal entry of a subscriber cut for being slow. */
  error: string;
};
