// JSON wire form of MsgEntry and Channel with the original's field names (processid, senderid,
// inreplyto, base64 payload, RFC 3339 timestamps), so entries cross a process boundary unchanged.
// Parsing validates with zod and is as lenient as Go's decoder about missing fields (Go zero values),
// strict about types. Timestamps keep millisecond precision (finer digits from Go are truncated).
import { z } from 'zod';
import type { Channel } from './channel.js';
import { ChannelsError } from './channels-error.js';
import type { MsgEntry } from './msg-entry.js';
import { ZERO_TIMESTAMP_MS } from './msg-entry.js';

/** MsgEntry on the wire. `inreplyto`, `type` and `error` are left out when zero/empty, as in Go. */
export type MsgEntryJSON = {
  sequence: number;
  inreplyto?: number;
  timestamp: string;
  senderid: string;
  /** Base64 (standard alphabet, padded); null for a nil payload, '' for an empty one. */
  payload: string | null;
  type?: string;
  error?: string;
};

/** Channel on the wire. */
export type ChannelJSON = {
  id: string;
  processid: string;
  name: string;
  submitterid: string;
  executorid: string;
  sequence: number;
  log: MsgEntryJSON[] | null;
};

const msgEntrySchema = z.object({
  sequence: z.number().int().default(0),
  inreplyto: z.number().int().default(0),
  timestamp: z.iso.datetime({ offset: true }).optional(),
  senderid: z.string().default(''),
  payload: z.base64().nullable().default(null),
  type: z.string().default(''),
  error: z.string().default(''),
});

const channelSchema = z.object({
  id: z.string().default(''),
  processid: z.string().default(''),
  name: z.string().default(''),
  submitterid: z.string().default(''),
  executorid: z.string().default(''),
  sequence: z.number().int().default(0),
  log: z.array(msgEntrySchema).nullable().default(null),
});

/** Formats epoch milliseconds like Go's RFC3339Nano in UTC: fraction trimmed of trailing zeros. */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  // toISOString always prints ".sss"; Go prints the shortest fraction (none for whole seconds).
  const dot = iso.lastIndexOf('.');
  const fraction = iso.slice(dot + 1, -1).replace(/0+$/, '');
  return fraction === '' ? `${iso.slice(0, dot)}Z` : `${iso.slice(0, dot)}.${fraction}Z`;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Converts an entry to its wire JSON object (pass the result to JSON.stringify). */
export function msgEntryToJSON(entry: MsgEntry): MsgEntryJSON {
  const out: MsgEntryJSON = {
    sequence: entry.sequence,
    timestamp: formatTimestamp(entry.timestampMs),
    senderid: entry.senderId,
    payload: entry.payload === null ? null : toBase64(entry.payload),
  };
  if (entry.inReplyTo !== 0) out.inreplyto = entry.inReplyTo;
  if (entry.type !== '') out.type = entry.type;
  if (entry.error !== '') out.error = entry.error;
  return out;
}

function entryFromParsed(p: z.infer<typeof msgEntrySchema>): MsgEntry {
  return {
    sequence: p.sequence,
    inReplyTo: p.inreplyto,
    timestampMs: p.timestamp === undefined ? ZERO_TIMESTAMP_MS : Date.parse(p.timestamp),
    senderId: p.senderid,
    payload: p.payload === null ? null : new Uint8Array(Buffer.from(p.payload, 'base64')),
    type: p.type,
    error: p.error,
  };
}

function invalid(what: string, error: z.ZodError): ChannelsError {
  return new ChannelsError('INVALID_JSON', `invalid ${what} JSON: ${z.prettifyError(error)}`, { cause: error });
}

/**
 * Parses a wire entry (an already-decoded JSON value). Missing fields take Go's zero values.
 * @throws ChannelsError INVALID_JSON when a field has the wrong type or the payload is not base64.
 */
export function msgEntryFromJSON(value: unknown): MsgEntry {
  const parsed = msgEntrySchema.safeParse(value);
  if (!parsed.success) throw invalid('MsgEntry', parsed.error);
  return entryFromParsed(parsed.data);
}

/** Converts a channel (with its whole log) to its wire JSON object. */
export function channelToJSON(channel: Channel): ChannelJSON {
  return {
    id: channel.id,
    processid: channel.processId,
    name: channel.name,
    submitterid: channel.submitterId,
    executorid: channel.executorId,
    sequence: channel.sequence,
    log: channel.log.map(msgEntryToJSON),
  };
}

/**
 * Parses a wire channel (an already-decoded JSON value); a null or missing log becomes [].
 * @throws ChannelsError INVALID_JSON when a field has the wrong type.
 */
export function channelFromJSON(value: unknown): Channel {
  const parsed = channelSchema.safeParse(value);
  if (!parsed.success) throw invalid('Channel', parsed.error);
  const p = parsed.data;
  return {
    id: p.id,
    processId: p.processid,
    name: p.name,
    submitterId: p.submitterid,
    executorId: p.executorid,
    sequence: p.sequence,
    log: (p.log ?? []).map(entryFromParsed),
  };
}
