// Values the store checks itself, whoever calls it (contract.md#title-rule): ids (UUIDs, int64 text,
// range-checked and never trusted as a JS number), the initial title rule, and the size of content a run persists.
// Pure functions: no database. What users send (content, labels, client_type, system prompt) is parsed and
// checked by the routes before it reaches the store: see ../server/chat-body.ts.
import { isUuid, parseInt64Text } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { jsonByteLength } from './json-byte-length.js';

/** Largest content of a message a run persists, as UTF-8 JSON. @default 4194304 (4 MiB) */
export const MAX_PERSISTED_CONTENT_BYTES = 4 * 1024 * 1024;

/** Title of a chat whose first message has no words. */
export const DEFAULT_CHAT_TITLE = 'New Chat';

/** Words kept by the title rule. */
export const TITLE_MAX_WORDS = 6;

/** Code points kept by the title rule. */
export const TITLE_MAX_CODE_POINTS = 80;

/** Throws PAYLOAD_TOO_LARGE when `parts` as JSON is over `maxBytes` (counted in place: see json-byte-length.ts). */
export function assertContentSize(parts: unknown, maxBytes: number): void {
  if (jsonByteLength(parts, maxBytes) <= maxBytes) return;
  // Too large: the exact size for the message (the count stopped once it passed the limit).
  const size = jsonByteLength(parts);
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
  const n = parseInt64Text(text);
  if (n === undefined) throw new ChatdError('INVALID_INPUT', `Invalid ${what}.`, { detail: `${what} is out of the int64 range.` });
  return n;
}

/** Like `parseInt64` but also requires a value > 0 that fits a JS number (a stored message id). */
export function parseMessageId(value: unknown, what = 'message ID'): number {
  const n = parseInt64(value, what);
  if (n <= 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ChatdError('INVALID_INPUT', `Invalid ${what}.`, { detail: `${what} must be a positive integer.` });
  return Number(n);
}

