// The chat domain on the wire (seed 001, contract.md#chat), as zod schemas: carried in pubsub payloads and stream events.
// JSON field names are exactly the original's. Each schema validates at the boundary and its
// z.infer is the plain type other packages import (`Chat`, `ChatStatus`, ...). Decoding follows Go's
// encoding/json where that is harmless: unknown fields are dropped, `null` for an optional field
// means absent, UUIDs are normalised to lower case (uuid.UUID's text form).
import { z } from 'zod';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Go's time.Time marshals as RFC 3339 with up to 9 fractional digits; its decoder accepts only that.
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The nil UUID (Go's `uuid.Nil`), e.g. the `entity_id` of a `providers` config event. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** True when `value` is a UUID in the canonical 8-4-4-4-12 hex form (any case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** A UUID string in 8-4-4-4-12 form; decoded to lower case. */
export const uuidSchema = z
  .string()
  .regex(UUID_RE, 'expected a UUID')
  .transform((s) => s.toLowerCase());

/** An RFC 3339 timestamp string (what Go's time.Time marshals to). */
export const timestampSchema = z.string().regex(RFC3339_RE, 'expected an RFC 3339 timestamp');

/** Whether `v` is a timestamp `timestampSchema` accepts (RFC 3339, up to 9 fractional digits), without zod. */
export function isTimestamp(v: unknown): v is string {
  return typeof v === 'string' && RFC3339_RE.test(v);
}

/** `schema`, optional, where a JSON `null` also means absent (Go's pointer + omitempty). */
function optionalField<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === null ? undefined : v), schema.optional());
}

/** Chat status values (contract.md#statuses): the original's set; we write `waiting`, `pending`, `running`, `error`. */
export const chatStatusSchema = z.enum(['waiting', 'pending', 'running', 'paused', 'completed', 'error', 'requires_action', 'interrupting']);
/** Chat status values (contract.md#statuses); the original's others may be read. */
export type ChatStatus = z.infer<typeof chatStatusSchema>;

/** Structured error (`ChatStreamError` in the seed, `ChatErrorPayload` in the TS client; also `Chat.last_error`). */
export const chatStreamErrorSchema = z.object({
  message: z.string(),
  detail: optionalField(z.string()),
  kind: optionalField(z.string()),
  provider: optionalField(z.string()),
  retryable: optionalField(z.boolean()),
  status_code: optionalField(z.number().int()),
});
/** Structured error (`ChatStreamError` in the seed, `ChatErrorPayload` in the TS client; also `Chat.last_error`). */
export type ChatStreamError = z.infer<typeof chatStreamErrorSchema>;

/** A retry announcement (`ChatStreamRetry`). */
export const chatStreamRetrySchema = z.object({
  attempt: z.number().int(),
  delay_ms: z.number().int(),
  error: z.string(),
  retrying_at: timestampSchema,
  kind: optionalField(z.string()),
  provider: optionalField(z.string()),
  status_code: optionalField(z.number().int()),
});
/** A retry announcement (`ChatStreamRetry`). */
export type ChatStreamRetry = z.infer<typeof chatStreamRetrySchema>;

/** Git diff status of a chat (contract.md#diff-status). */
export const chatDiffStatusSchema = z.object({
  chat_id: uuidSchema,
  url: optionalField(z.string()),
  pull_request_state: optionalField(z.string()),
  changes_requested: z.boolean(),
  additions: z.number().int(),
  deletions: z.number().int(),
  changed_files: z.number().int(),
  refreshed_at: optionalField(timestampSchema),
  stale_at: optionalField(timestampSchema),
});
/** Git diff status of a chat (contract.md#diff-status). */
export type ChatDiffStatus = z.infer<typeof chatDiffStatusSchema>;

// `last_error` is a structured error or null; absent means null (the newest SDK omits it when empty),
// and B's plain string is read as `{message}` so mixed-version replicas still decode.
const lastErrorSchema = z.preprocess(
  (v) => (v === undefined || v === '' ? null : typeof v === 'string' ? { message: v } : v),
  chatStreamErrorSchema.nullable(),
);

/** The `Chat` of the API and of `ChatEvent` (contract.md#chat). */
export const chatSchema = z.object({
  id: uuidSchema,
  organization_id: uuidSchema,
  owner_id: uuidSchema,
  workspace_id: uuidSchema.nullish(),
  parent_chat_id: uuidSchema.nullish(),
  root_chat_id: uuidSchema,
  last_model_config_id: uuidSchema.nullish(),
  title: z.string(),
  status: chatStatusSchema,
  last_error: lastErrorSchema,
  created_at: timestampSchema,
  updated_at: timestampSchema,
  archived: z.boolean(),
  diff_status: optionalField(chatDiffStatusSchema),
  // Ours (additive): the replica generating the chat, or null. Absent (an original replica) means null.
  worker_id: z.string().nullable().default(null),
  labels: optionalField(z.record(z.string(), z.string())),
  client_type: optionalField(z.string()),
  // Ours (contract.md#cost): pending and waiting for its owner's concurrency slot. Present only when true.
  queued_for_capacity: optionalField(z.boolean()),
});
/** The `Chat` of the API and of `ChatEvent` (contract.md#chat). */
export type Chat = z.infer<typeof chatSchema>;

/** An action button of an inbox notification. */
export const inboxNotificationActionSchema = z.object({ label: z.string(), url: z.string() });

// Go marshals a nil slice as `null`; read it as empty.
const uuidList = z.preprocess((v) => (v === null ? [] : v), z.array(uuidSchema));
const actionList = z.preprocess((v) => (v === null ? [] : v), z.array(inboxNotificationActionSchema));

/** An inbox notification (contract.md#pubsub). */
export const inboxNotificationSchema = z.object({
  id: uuidSchema,
  user_id: uuidSchema,
  template_id: uuidSchema,
  targets: uuidList,
  title: z.string(),
  content: z.string(),
  icon: z.string(),
  actions: actionList,
  read_at: z.preprocess((v) => (v === undefined ? null : v), timestampSchema.nullable()),
  created_at: timestampSchema,
});
/** An inbox notification (contract.md#pubsub). */
export type InboxNotification = z.infer<typeof inboxNotificationSchema>;
