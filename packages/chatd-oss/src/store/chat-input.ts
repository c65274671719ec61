// Validation of what users send (chatd.md section 1.3 step 1) and the initial title rule (section 0.1).
// Pure functions: no database. Ids in URLs and queries are validated here too, so a malformed value is a
// typed INVALID_INPUT before any SQL runs; int64 text is range-checked, never trusted as a JS number.
import { ChatdError } from '../chatd-error.js';
import type { ChatMessagePart } from '../stream-event.js';

/** Largest total size of one message's content, as UTF-8 JSON. @default 262144 (256 KiB) */
export const MAX_INPUT_CONTENT_BYTES = 256 * 1024;

/** Largest content of a message a run persists, as UTF-8 JSON. @default 4194304 (4 MiB) */
export const MAX_PERSISTED_CONTENT_BYTES = 4 * 1024 * 1024;

/** Title of a chat whose first message has no words. */
export const DEFAULT_CHAT_TITLE = 'New Chat';

/** Words kept by the title rule. */
export const TITLE_MAX_WORDS = 6;

/** Code points kept by the title rule. */
export const TITLE_MAX_CODE_POINTS = 80;

/** Largest int64, which `after_id` may carry to mean "after everything". */
export const INT64_MAX = 9223372036854775807n;

/** A text part as users send it. */
export type ChatInputPart = { type: string; text?: string };

/**
 * Validates user input parts: non-empty, every part `text` (compared trimmed and lowercased) with a
 * non-empty trimmed text. Returns the parts to store and the title source (trimmed texts joined by a space).
 */
export function validateInputContent(content: unknown): { parts: ChatMessagePart[]; titleSource: string } {
  if (!Array.isArray(content) || content.length === 0) {
    throw new ChatdError('INVALID_INPUT', 'Content is required.', { detail: 'Content cannot be empty.' });
  }
  const parts: ChatMessagePart[] = [];
  const texts: string[] = [];
  content.forEach((raw: unknown, i) => {
    const part = (typeof raw === 'object' && raw !== null ? raw : {}) as { type?: unknown; text?: unknown };
    const type = typeof part.type === 'string' ? part.type.trim().toLowerCase() : '';
    if (type !== 'text') {
      throw new ChatdError('INVALID_INPUT', 'Invalid input part.', { detail: `content[${i}].type "${String(part.type ?? '')}" is not supported.` });
    }
    const text = typeof part.text === 'string' ? part.text.trim() : '';
    if (text === '') throw new ChatdError('INVALID_INPUT', 'Invalid input part.', { detail: `content[${i}].text cannot be empty.` });
    parts.push({ type: 'text', text });
    texts.push(text);
  });
  assertContentSize(parts, MAX_INPUT_CONTENT_BYTES);
  return { parts, titleSource: texts.join(' ') };
}

/** Throws PAYLOAD_TOO_LARGE when `parts` as JSON is over `maxBytes`. */
export function assertContentSize(parts: unknown, maxBytes: number): void {
  const size = Buffer.byteLength(JSON.stringify(parts ?? null), 'utf8');
  if (size > maxBytes) {
    throw new ChatdError('PAYLOAD_TOO_LARGE', 'Message content is too large.', { detail: `Content is ${size} bytes; the limit is ${maxBytes}.` });
  }
}

/**
 * The initial title: the first 6 whitespace-separated words joined by one space, `…` appended when there
 * were more, cut to 80 code points; `New Chat` when there are no words.
 */
export function titleFromText(text: string): string {
  const words = text.trim().split(/\s+/u).filter((w) => w !== '');
  if (words.length === 0) return DEFAULT_CHAT_TITLE;
  let title = words.slice(0, TITLE_MAX_WORDS).join(' ');
  if (words.length > TITLE_MAX_WORDS) title += '\u2026';
  return Array.from(title).slice(0, TITLE_MAX_CODE_POINTS).join('');
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` is a UUID in canonical text form. */
export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}

/** Returns `id` lowercased, or throws INVALID_INPUT naming `what`. */
export function requireUuid(id: unknown, what: string): string {
  if (!isUuid(id)) throw new ChatdError('INVALID_INPUT', `Invalid ${what}.`, { detail: `${what} must be a UUID.` });
  return id.toLowerCase();
}

/**
 * Parses a non-negative int64 given as text or number. Returns a bigint (so `9223372036854775807` survives);
 * throws INVALID_INPUT for anything else, including values above the int64 range.
 */
export function parseInt64(value: unknown, what: string): bigint {
  let text: string;
  if (typeof value === 'bigint') text = value.toString();
  else if (typeof value === 'number' && Number.isSafeInteger(value)) text = String(value);
  else if (typeof value === 'string') text = value;
  else throw new ChatdError('INVALID_INPUT', `Invalid ${what}.`, { detail: `${what} must be an integer.` });
  if (!/^(0|[1-9][0-9]{0,18})$/.test(text)) throw new ChatdError('INVALID_INPUT', `Invalid ${what}.`, { detail: `${what} must be a non-negative integer.` });
  const n = BigInt(text);
  if (n > INT64_MAX) throw new ChatdError('INVALID_INPUT', `Invalid ${what}.`, { detail: `${what} is out of the int64 range.` });
  return n;
}

/** Like `parseInt64` but also requires a value > 0 that fits a JS number (a stored message id). */
export function parseMessageId(value: unknown, what = 'message ID'): number {
  const n = parseInt64(value, what);
  if (n <= 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ChatdError('INVALID_INPUT', `Invalid ${what}.`, { detail: `${what} must be a positive integer.` });
  return Number(n);
}
