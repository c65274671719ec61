// Hand-written parsers of the two hot payloads (issue 36): `ChatEvent` (encoded for every change, decoded by every
// watch) and `ChatStreamNotifyMessage` (encoded for every change, decoded by every subscription that hears it). Zod
// costs tens of microseconds per chat; these walk the same fields directly. Each returns exactly what its zod schema's
// parse returns (UUIDs lower-cased, unknown keys dropped, `null` read as absent where the schema says so, no
// `undefined`-valued keys), or `undefined` when the value is not in a form it knows: the caller then runs the zod
// schema, which gives the verdict and the typed error. So the verdict is always zod's; these only make the common,
// valid case fast. They are tested against the schemas by property (test/hot-parse.test.ts).
import { isTimestamp, isUuid, type Chat, type ChatDiffStatus, type ChatStatus, type ChatStreamError, type ChatStreamRetry } from '@chatd/protocol';
import type { ChatEvent, ChatEventKind, ChatStreamNotifyMessage, TruncatedChat } from './events.js';

const STATUSES: ReadonlySet<string> = new Set<ChatStatus>(['waiting', 'pending', 'running', 'paused', 'completed', 'error', 'requires_action', 'interrupting']);
const EVENT_KINDS: ReadonlySet<string> = new Set<ChatEventKind>(['status_change', 'title_change', 'created', 'deleted', 'diff_status_change']);
/** The longest `traceparent` a stream notification keeps (its schema's `max(55)`). */
const TRACEPARENT_MAX_LENGTH = 55;

/** Returned by a field parser for a value it does not accept (distinct from a valid `undefined`, i.e. absent). */
const MISS: unique symbol = Symbol('miss');
type Miss = typeof MISS;
type Obj = Record<string, unknown>;

/** A plain object (what JSON.parse and object literals make); anything else goes to zod. */
function isPlain(v: unknown): v is Obj {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const uuid = (v: unknown): string | Miss => (isUuid(v) ? v.toLowerCase() : MISS);
const timestamp = (v: unknown): string | Miss => (isTimestamp(v) ? v : MISS);
const str = (v: unknown): string | Miss => (typeof v === 'string' ? v : MISS);
const bool = (v: unknown): boolean | Miss => (typeof v === 'boolean' ? v : MISS);
const int = (v: unknown): number | Miss => (Number.isSafeInteger(v) ? (v as number) : MISS);
const status = (v: unknown): ChatStatus | Miss => (typeof v === 'string' && STATUSES.has(v) ? (v as ChatStatus) : MISS);

/** `optionalField(schema)` of @chatd/protocol: undefined and null are absent (undefined), anything else must parse. */
function opt<T>(v: unknown, parse: (v: unknown) => T | Miss): T | undefined | Miss {
  return v === undefined || v === null ? undefined : parse(v);
}

/** Sets `out[key]` unless `value` is absent; false when it is a miss. */
function put(out: Obj, key: string, value: unknown): boolean {
  if (value === MISS) return false;
  if (value !== undefined) out[key] = value;
  return true;
}

function streamError(v: unknown): ChatStreamError | Miss {
  if (!isPlain(v)) return MISS;
  const message = str(v.message);
  if (message === MISS) return MISS;
  const out: Obj = { message };
  const ok =
    put(out, 'detail', opt(v.detail, str)) &&
    put(out, 'kind', opt(v.kind, str)) &&
    put(out, 'provider', opt(v.provider, str)) &&
    put(out, 'retryable', opt(v.retryable, bool)) &&
    put(out, 'status_code', opt(v.status_code, int));
  return ok ? (out as ChatStreamError) : MISS;
}

function retry(v: unknown): ChatStreamRetry | Miss {
  if (!isPlain(v)) return MISS;
  const out: Obj = {};
  const ok =
    put(out, 'attempt', int(v.attempt)) &&
    put(out, 'delay_ms', int(v.delay_ms)) &&
    put(out, 'error', str(v.error)) &&
    put(out, 'retrying_at', timestamp(v.retrying_at)) &&
    put(out, 'kind', opt(v.kind, str)) &&
    put(out, 'provider', opt(v.provider, str)) &&
    put(out, 'status_code', opt(v.status_code, int));
  return ok ? (out as ChatStreamRetry) : MISS;
}

function diffStatus(v: unknown): ChatDiffStatus | Miss {
  if (!isPlain(v)) return MISS;
  const out: Obj = {};
  const ok =
    put(out, 'chat_id', uuid(v.chat_id)) &&
    put(out, 'url', opt(v.url, str)) &&
    put(out, 'pull_request_state', opt(v.pull_request_state, str)) &&
    put(out, 'changes_requested', bool(v.changes_requested)) &&
    put(out, 'additions', int(v.additions)) &&
    put(out, 'deletions', int(v.deletions)) &&
    put(out, 'changed_files', int(v.changed_files)) &&
    put(out, 'refreshed_at', opt(v.refreshed_at, timestamp)) &&
    put(out, 'stale_at', opt(v.stale_at, timestamp));
  return ok ? (out as ChatDiffStatus) : MISS;
}

/** `z.record(z.string(), z.string())` for the plain, symbol-free objects JSON and the store make. */
function labels(v: unknown): Record<string, string> | Miss {
  if (!isPlain(v) || Object.getOwnPropertySymbols(v).length > 0) return MISS;
  const out: Record<string, string> = {};
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (k === '__proto__' || typeof x !== 'string') return MISS;
    out[k] = x;
  }
  return out;
}

/** `uuidSchema.nullish()`: undefined stays absent, null stays null. */
const nullishUuid = (v: unknown): string | null | undefined | Miss => (v === undefined || v === null ? v : uuid(v));

/** `last_error`: absent or "" is null, a string is `{message}` (an older replica's form), else a structured error or null. */
function lastError(v: unknown): ChatStreamError | null | Miss {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return { message: v };
  return streamError(v);
}

/** The full `Chat` (`chatSchema`), or undefined. */
export function hotParseChat(v: unknown): Chat | undefined {
  if (!isPlain(v)) return undefined;
  const out: Obj = {};
  const workerId = v.worker_id === undefined || v.worker_id === null ? null : str(v.worker_id);
  const ok =
    put(out, 'id', uuid(v.id)) &&
    put(out, 'organization_id', uuid(v.organization_id)) &&
    put(out, 'owner_id', uuid(v.owner_id)) &&
    put(out, 'workspace_id', nullishUuid(v.workspace_id)) &&
    put(out, 'parent_chat_id', nullishUuid(v.parent_chat_id)) &&
    put(out, 'root_chat_id', uuid(v.root_chat_id)) &&
    put(out, 'last_model_config_id', nullishUuid(v.last_model_config_id)) &&
    put(out, 'title', str(v.title)) &&
    put(out, 'status', status(v.status)) &&
    put(out, 'last_error', lastError(v.last_error)) &&
    put(out, 'created_at', timestamp(v.created_at)) &&
    put(out, 'updated_at', timestamp(v.updated_at)) &&
    put(out, 'archived', bool(v.archived)) &&
    put(out, 'diff_status', opt(v.diff_status, diffStatus)) &&
    put(out, 'worker_id', workerId) &&
    put(out, 'labels', opt(v.labels, labels)) &&
    put(out, 'client_type', opt(v.client_type, str)) &&
    put(out, 'queued_for_capacity', opt(v.queued_for_capacity, bool));
  return ok ? (out as Chat) : undefined;
}

function truncatedChat(v: unknown): TruncatedChat | undefined {
  if (!isPlain(v)) return undefined;
  const out: Obj = {};
  const ok =
    put(out, 'id', uuid(v.id)) &&
    put(out, 'owner_id', uuid(v.owner_id)) &&
    put(out, 'status', status(v.status)) &&
    put(out, 'title', str(v.title)) &&
    put(out, 'updated_at', timestamp(v.updated_at));
  return ok ? (out as TruncatedChat) : undefined;
}

/** A `ChatEvent` (`chatEventSchema`: full or truncated), or undefined when zod must decide. */
export function hotParseChatEvent(v: unknown): ChatEvent | undefined {
  if (!isPlain(v)) return undefined;
  const kind = v.kind;
  if (typeof kind !== 'string' || !EVENT_KINDS.has(kind)) return undefined;
  if (v.truncated === true) {
    const chat = truncatedChat(v.chat);
    return chat ? { kind: kind as ChatEventKind, chat, truncated: true } : undefined;
  }
  if (v.truncated !== undefined && v.truncated !== false) return undefined;
  const chat = hotParseChat(v.chat);
  if (!chat) return undefined;
  return v.truncated === false ? { kind: kind as ChatEventKind, chat, truncated: false } : { kind: kind as ChatEventKind, chat };
}

/** `omittable(schema)` of events.ts: undefined and null are absent (and "" too where `emptyString`). */
function omit<T>(v: unknown, parse: (v: unknown) => T | Miss, emptyString = false): T | undefined | Miss {
  return v === undefined || v === null || (emptyString && v === '') ? undefined : parse(v);
}

/** A `ChatStreamNotifyMessage` (`chatStreamNotifyMessageSchema`), or undefined when zod must decide. */
export function hotParseChatStreamNotify(v: unknown): ChatStreamNotifyMessage | undefined {
  if (!isPlain(v)) return undefined;
  const out: Obj = {};
  const ok =
    put(out, 'after_message_id', omit(v.after_message_id, int)) &&
    put(out, 'status', omit(v.status, status, true)) &&
    put(out, 'worker_id', omit(v.worker_id, str)) &&
    put(out, 'retry', omit(v.retry, retry)) &&
    put(out, 'error_payload', omit(v.error_payload, streamError)) &&
    put(out, 'error', omit(v.error, str)) &&
    put(out, 'queue_update', omit(v.queue_update, bool)) &&
    put(out, 'full_refresh', omit(v.full_refresh, bool));
  if (!ok) return undefined;
  // Best effort, as in the schema (`.catch(undefined)`): a bad value is dropped, never the message.
  const tp = v.traceparent;
  if (typeof tp === 'string' && tp.length <= TRACEPARENT_MAX_LENGTH) out.traceparent = tp;
  const runId = v.run_id;
  if (isUuid(runId)) out.run_id = runId.toLowerCase();
  return out as ChatStreamNotifyMessage;
}
