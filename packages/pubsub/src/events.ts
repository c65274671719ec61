// The four pubsub payloads of seed 001 (ChatConfigEvent, ChatEvent, ChatStreamNotifyMessage,
// InboxNotificationEvent): zod schemas, encoders that write the bytes Go's encoding/json would write
// (struct field order, `omitempty` fields left out when zero), and decoders that return typed values
// or a PubSubError MALFORMED_PAYLOAD. A ChatEvent too large for NOTIFY travels truncated (contract.md#oversized-events).
// Our own TokenRevokedEvent (issue 22) rides beside them.
import { z } from 'zod';
import {
  NIL_UUID,
  chatSchema,
  chatStatusSchema,
  chatStreamErrorSchema,
  chatStreamRetrySchema,
  inboxNotificationSchema,
  timestampSchema,
  uuidSchema,
  type Chat,
  type ChatDiffStatus,
  type ChatStreamError,
  type ChatStreamRetry,
  type InboxNotification,
} from '@chatd/protocol';
import { hotParseChatEvent, hotParseChatStreamNotify } from './hot-parse.js';
import { NOTIFY_PAYLOAD_LIMIT_BYTES } from './payload.js';
import { PubSubError } from './pubsub-error.js';

/** `null` or `""` mean absent (Go omitempty on a value or pointer field). */
function omittable<T extends z.ZodType>(schema: T, emptyString = false) {
  return z.preprocess((v) => (v === null || (emptyString && v === '') ? undefined : v), schema.optional());
}

// ---------------------------------------------------------------------------------------------
// Schemas and types

/** Kinds of `ChatConfigEvent`. */
export const chatConfigEventKindSchema = z.enum(['providers', 'model_config', 'user_prompt']);
/** Kinds of `ChatConfigEvent`. */
export type ChatConfigEventKind = z.infer<typeof chatConfigEventKindSchema>;

/**
 * Published on `chat:config_change` when chat configuration changes; subscribers drop their caches.
 * `entity_id` is the nil UUID for `providers`, the config ID for `model_config`, the user ID for `user_prompt`.
 */
export const chatConfigEventSchema = z.object({
  kind: chatConfigEventKindSchema,
  // Go reads a missing uuid.UUID as uuid.Nil.
  entity_id: z.preprocess((v) => (v === undefined ? NIL_UUID : v), uuidSchema),
});
/** Published on `chat:config_change` when chat configuration changes. */
export type ChatConfigEvent = z.infer<typeof chatConfigEventSchema>;

/** Kinds of `ChatEvent`. */
export const chatEventKindSchema = z.enum(['status_change', 'title_change', 'created', 'deleted', 'diff_status_change']);
/** Kinds of `ChatEvent`. */
export type ChatEventKind = z.infer<typeof chatEventKindSchema>;

/**
 * What a truncated `ChatEvent` keeps of its chat (contract.md#oversized-events): enough to route
 * and label it; a receiver that forwards it to clients reads the full chat from the database first.
 */
export const truncatedChatSchema = z.object({
  id: uuidSchema,
  owner_id: uuidSchema,
  status: chatStatusSchema,
  title: z.string(),
  updated_at: timestampSchema,
});
/** What a truncated `ChatEvent` keeps of its chat. */
export type TruncatedChat = z.infer<typeof truncatedChatSchema>;

/** A `ChatEvent` carrying the full chat (every event whose encoding fits a NOTIFY payload). */
export const fullChatEventSchema = z.object({
  kind: chatEventKindSchema,
  chat: chatSchema,
  // Never true here; optional so `event.truncated` narrows the union below.
  truncated: z.literal(false).optional(),
});
/** A `ChatEvent` carrying the full chat. */
export type FullChatEvent = z.infer<typeof fullChatEventSchema>;

/** A `ChatEvent` whose full encoding did not fit a NOTIFY payload: `chat` reduced, `truncated: true`. */
export const truncatedChatEventSchema = z.object({
  kind: chatEventKindSchema,
  chat: truncatedChatSchema,
  truncated: z.literal(true),
});
/** A `ChatEvent` whose full encoding did not fit a NOTIFY payload. */
export type TruncatedChatEvent = z.infer<typeof truncatedChatEventSchema>;

/**
 * Published on `chat:owner:<owner>` when one of the owner's chats changes (`deleted` is sent on archive):
 * the full chat, or (`truncated: true`) the reduced one when the full event would exceed the NOTIFY limit.
 */
export const chatEventSchema = z.discriminatedUnion('truncated', [truncatedChatEventSchema, fullChatEventSchema]);
/** Published on `chat:owner:<owner>` when one of the owner's chats changes. */
export type ChatEvent = FullChatEvent | TruncatedChatEvent;

/**
 * Published on `chat:stream:<chat>`: a lightweight hint; durable content is read from the database,
 * transient control events (retry, error) ride along inline. Every field is omitted when empty.
 */
export const chatStreamNotifyMessageSchema = z.object({
  /** Query messages after this ID (int64; a JSON number, always below 2^53 in practice). */
  after_message_id: omittable(z.number().int()),
  /** The chat's new status. */
  status: omittable(chatStatusSchema, true),
  /** The replica running the chat. */
  worker_id: omittable(z.string()),
  /** A structured retry event for cross-replica live delivery. */
  retry: omittable(chatStreamRetrySchema),
  /** A structured error event for cross-replica live delivery. */
  error_payload: omittable(chatStreamErrorSchema),
  /** Legacy string-only error, kept for mixed-version replicas. */
  error: omittable(z.string()),
  /** The queued messages changed. */
  queue_update: omittable(z.boolean()),
  /** Re-fetch every message from the beginning (e.g. after an edit truncated history). */
  full_refresh: omittable(z.boolean()),
  /**
   * W3C trace context of the run that published a `running` status, so a relay dial joins the run's trace. A value
   * that is no string of at most 55 characters is dropped, never the notification (tracing is best effort).
   */
  traceparent: omittable(z.string().max(55)).catch(undefined),
  /**
   * The run a `running` status started (ours): a subscriber then knows that run is in flight and sends its relayed
   * parts without looking the run up first. A value that is no UUID is dropped, never the notification.
   */
  run_id: omittable(uuidSchema).catch(undefined),
});
/** Published on `chat:stream:<chat>`. */
export type ChatStreamNotifyMessage = z.infer<typeof chatStreamNotifyMessageSchema>;

/** Kinds of `InboxNotificationEvent`. */
export const inboxNotificationEventKindSchema = z.enum(['new']);
/** Kinds of `InboxNotificationEvent`. */
export type InboxNotificationEventKind = z.infer<typeof inboxNotificationEventKindSchema>;

/** Published on `inbox_notification:owner:<owner>` (chatd sends one when a run finishes or fails). */
export const inboxNotificationEventSchema = z.object({
  kind: inboxNotificationEventKindSchema,
  inbox_notification: inboxNotificationSchema,
});
/** Published on `inbox_notification:owner:<owner>`. */
export type InboxNotificationEvent = z.infer<typeof inboxNotificationEventSchema>;

/** Published on `chat:token_revoked` when a token (API token or console session) is revoked. Ours, not seed 001's. */
export const tokenRevokedEventSchema = z.object({
  token_id: uuidSchema,
});
/** Published on `chat:token_revoked` when a token is revoked. */
export type TokenRevokedEvent = z.infer<typeof tokenRevokedEventSchema>;

// ---------------------------------------------------------------------------------------------
// Encoding: Go's field order, omitempty fields dropped when zero.

type Json = Record<string, unknown>;

/** Go's omitempty "empty value": false, 0, "", nil pointer, empty slice or map. */
function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  return false;
}

/** Copies `keys` of `src` in order; `omitEmpty` keys are dropped when empty, the rest only when undefined. */
function pick(src: Json, keys: readonly string[], omitEmpty: ReadonlySet<string>): Json {
  const out: Json = {};
  for (const k of keys) {
    const v = src[k];
    if (v === undefined || (omitEmpty.has(k) && isEmpty(v))) continue;
    out[k] = v;
  }
  return out;
}

const STREAM_ERROR_KEYS = ['message', 'detail', 'kind', 'provider', 'retryable', 'status_code'] as const;
const STREAM_ERROR_OMIT = new Set(['detail', 'kind', 'provider', 'retryable', 'status_code']);
const RETRY_KEYS = ['attempt', 'delay_ms', 'error', 'retrying_at', 'kind', 'provider', 'status_code'] as const;
const RETRY_OMIT = new Set(['kind', 'provider', 'status_code']);
const DIFF_KEYS = ['chat_id', 'url', 'pull_request_state', 'changes_requested', 'additions', 'deletions', 'changed_files', 'refreshed_at', 'stale_at'] as const;
const DIFF_OMIT = new Set(['url', 'pull_request_state', 'refreshed_at', 'stale_at']);
const CHAT_KEYS = Object.keys(chatSchema.shape);
const TRUNCATED_CHAT_KEYS = Object.keys(truncatedChatSchema.shape);
const NO_OMIT: ReadonlySet<string> = new Set();
// `*uuid.UUID ... omitempty` in Go: a null pointer is left out.
const CHAT_OMIT = new Set(['workspace_id', 'parent_chat_id', 'diff_status', 'client_type']);
const NOTIFY_KEYS = Object.keys(chatStreamNotifyMessageSchema.shape);
const NOTIFY_OMIT = new Set(NOTIFY_KEYS);

const wireStreamError = (e: ChatStreamError): Json => pick(e, STREAM_ERROR_KEYS, STREAM_ERROR_OMIT);
const wireRetry = (r: ChatStreamRetry): Json => pick(r, RETRY_KEYS, RETRY_OMIT);
const wireDiff = (d: ChatDiffStatus): Json => pick(d, DIFF_KEYS, DIFF_OMIT);

function wireChat(c: Chat): Json {
  const out = pick(c, CHAT_KEYS, CHAT_OMIT);
  if (c.last_error) out.last_error = wireStreamError(c.last_error);
  if (c.diff_status) out.diff_status = wireDiff(c.diff_status);
  return out;
}

function wireInbox(n: InboxNotification): Json {
  return { ...n, actions: n.actions.map((a) => ({ label: a.label, url: a.url })) };
}

function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new PubSubError('MALFORMED_PAYLOAD', `invalid ${what}: ${summarize(r.error)}`, { cause: r.error });
  }
  return r.data;
}

function summarize(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

const toBuffer = (obj: Json): Buffer => Buffer.from(JSON.stringify(obj), 'utf8');

/** Encodes a `ChatConfigEvent`. Throws PubSubError MALFORMED_PAYLOAD when it does not validate. */
export function encodeChatConfigEvent(event: ChatConfigEvent): Buffer {
  const e = validate(chatConfigEventSchema, event, 'ChatConfigEvent');
  return toBuffer({ kind: e.kind, entity_id: e.entity_id });
}

/** Encodes a `ChatEvent` (full or truncated). Throws PubSubError MALFORMED_PAYLOAD when it does not validate. */
export function encodeChatEvent(event: ChatEvent): Buffer {
  // The hand-written parse takes the valid, plain values the server builds; zod decides the rest (hot-parse.ts).
  const e = hotParseChatEvent(event) ?? validate(chatEventSchema, event, 'ChatEvent');
  if (e.truncated) return toBuffer({ kind: e.kind, chat: pick(e.chat, TRUNCATED_CHAT_KEYS, NO_OMIT), truncated: true });
  return toBuffer({ kind: e.kind, chat: wireChat(e.chat) });
}

/** The truncated form of a `ChatEvent`: the same kind, the chat reduced to `TruncatedChat`. */
export function truncateChatEvent(event: ChatEvent): TruncatedChatEvent {
  const { id, owner_id, status, title, updated_at } = event.chat;
  return { kind: event.kind, chat: { id, owner_id, status, title, updated_at }, truncated: true };
}

/**
 * Encodes a `ChatEvent` for NOTIFY (contract.md#oversized-events): the full event when its
 * encoding is under NOTIFY_PAYLOAD_LIMIT_BYTES, otherwise the truncated one, so no event is lost for its
 * size. Throws PubSubError MALFORMED_PAYLOAD when it does not validate.
 */
export function encodeChatEventForNotify(event: ChatEvent): Buffer {
  const full = encodeChatEvent(event);
  return full.byteLength < NOTIFY_PAYLOAD_LIMIT_BYTES ? full : encodeChatEvent(truncateChatEvent(event));
}

/** Encodes a `ChatStreamNotifyMessage`, leaving out every empty field (`{}` when all are). Throws PubSubError MALFORMED_PAYLOAD. */
export function encodeChatStreamNotify(message: ChatStreamNotifyMessage): Buffer {
  const m = hotParseChatStreamNotify(message) ?? validate(chatStreamNotifyMessageSchema, message, 'ChatStreamNotifyMessage');
  const out = pick(m, NOTIFY_KEYS, NOTIFY_OMIT);
  if (m.retry) out.retry = wireRetry(m.retry);
  if (m.error_payload) out.error_payload = wireStreamError(m.error_payload);
  return toBuffer(out);
}

/** Encodes an `InboxNotificationEvent`. Throws PubSubError MALFORMED_PAYLOAD when it does not validate. */
export function encodeInboxNotificationEvent(event: InboxNotificationEvent): Buffer {
  const e = validate(inboxNotificationEventSchema, event, 'InboxNotificationEvent');
  return toBuffer({ kind: e.kind, inbox_notification: wireInbox(e.inbox_notification) });
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Removes keys whose value is undefined (left by optional preprocessed fields), recursively. */
function stripUndefined<T>(v: T): T {
  if (Array.isArray(v)) return v.map(stripUndefined) as T;
  if (v && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) if (x !== undefined) out[k] = stripUndefined(x);
    return out as T;
  }
  return v;
}

/**
 * JSON.parse, then `hot` (a hand-written parse of a hot shape, hot-parse.ts) when given and it accepts the value,
 * else the schema, which gives the verdict and the error.
 */
function decode<S extends z.ZodType>(schema: S, message: Buffer | Uint8Array | string, what: string, hot?: (v: unknown) => z.infer<S> | undefined): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(typeof message === 'string' ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('utf8'));
  } catch (cause) {
    throw new PubSubError('MALFORMED_PAYLOAD', `${what} payload is not valid JSON`, { cause });
  }
  return hot?.(json) ?? stripUndefined(validate(schema, json, what));
}

/** Decodes a `ChatConfigEvent`. Throws PubSubError MALFORMED_PAYLOAD. */
export function decodeChatConfigEvent(message: Buffer | Uint8Array | string): ChatConfigEvent {
  return decode(chatConfigEventSchema, message, 'ChatConfigEvent');
}

/** Decodes a `ChatEvent`. Throws PubSubError MALFORMED_PAYLOAD. */
export function decodeChatEvent(message: Buffer | Uint8Array | string): ChatEvent {
  return decode(chatEventSchema, message, 'ChatEvent', hotParseChatEvent);
}

/** Decodes a `ChatStreamNotifyMessage`. Throws PubSubError MALFORMED_PAYLOAD. */
export function decodeChatStreamNotify(message: Buffer | Uint8Array | string): ChatStreamNotifyMessage {
  return decode(chatStreamNotifyMessageSchema, message, 'ChatStreamNotifyMessage', hotParseChatStreamNotify);
}

/** Decodes an `InboxNotificationEvent`. Throws PubSubError MALFORMED_PAYLOAD. */
export function decodeInboxNotificationEvent(message: Buffer | Uint8Array | string): InboxNotificationEvent {
  return decode(inboxNotificationEventSchema, message, 'InboxNotificationEvent');
}

/** Encodes a `TokenRevokedEvent`. Throws PubSubError MALFORMED_PAYLOAD for a token id that is no UUID. */
export function encodeTokenRevokedEvent(event: TokenRevokedEvent): Buffer {
  const e = validate(tokenRevokedEventSchema, event, 'TokenRevokedEvent');
  return toBuffer({ token_id: e.token_id.toLowerCase() });
}

/** Decodes a `TokenRevokedEvent`. Throws PubSubError MALFORMED_PAYLOAD. */
export function decodeTokenRevokedEvent(message: Buffer | Uint8Array | string): TokenRevokedEvent {
  return decode(tokenRevokedEventSchema, message, 'TokenRevokedEvent');
}
