// What users send on create, send and edit (contract.md#chat-input): the routes parse request bodies with these into
// the typed values the store takes (content as parsed parts, labels, client_type, system prompt). Pure functions:
// no database. Content is parsed by @chatd/protocol's input schema; its issues become the original's error texts
// here. Ids and the title rule are the store's own business (../store/chat-input.ts).
import { chatInputContentSchema, chatInputPartSchema, type ChatInputPart } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { assertContentSize } from '../store/chat-input.js';

/** Largest total size of one message's content, as UTF-8 JSON. @default 262144 (256 KiB) */
export const MAX_INPUT_CONTENT_BYTES = 256 * 1024;

/** Longest `system_prompt` of a new chat, in characters (code points). @default 10000 */
export const MAX_SYSTEM_PROMPT_CHARS = 10_000;

/** Longest `client_type`, in code points (printable characters only). @default 64 */
export const MAX_CLIENT_TYPE_CHARS = 64;

/** Most labels on one chat. @default 32 */
export const MAX_LABELS = 32;

/** Longest label key, in code points (1 or more printable characters). @default 64 */
export const MAX_LABEL_KEY_CHARS = 64;

/** Longest label value, in code points (printable characters). @default 256 */
export const MAX_LABEL_VALUE_CHARS = 256;

/** Largest labels object as UTF-8 JSON: keeps a chat, its list pages and its events small. @default 4096 */
export const MAX_LABELS_BYTES = 4096;

function unsupported(i: number, raw: unknown): ChatdError {
  const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
  return new ChatdError('INVALID_INPUT', 'Invalid input part.', { detail: `content[${i}].type "${String(type ?? '')}" is not supported.` });
}

/**
 * Validates user input parts: non-empty, every part `text` (compared trimmed and lowercased) with a
 * non-empty trimmed text, or `file` with a `file_id` (contract.md#files; whose file it is the routes check against
 * the database). Returns the parts and the title source (trimmed texts joined by a space).
 * The first bad part, in order, names the error, as the original's loop does.
 */
export function validateInputContent(content: unknown): { parts: ChatInputPart[]; titleSource: string } {
  const parsed = chatInputContentSchema.safeParse(content);
  // Issues of the content itself (not an array, empty) have an empty path; a part's start with its index.
  const partIssues = new Map<number, PropertyKey | undefined>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [index, field] = issue.path;
      if (typeof index !== 'number') throw new ChatdError('INVALID_INPUT', 'Content is required.', { detail: 'Content cannot be empty.' });
      if (!partIssues.has(index)) partIssues.set(index, field);
    }
  }
  const raws = content as unknown[];
  const parts: ChatInputPart[] = [];
  for (let i = 0; i < raws.length; i++) {
    if (partIssues.has(i)) {
      // A text part whose text is missing or blank, a file part without its id; every other problem is a type we do not take.
      if (partIssues.get(i) === 'text') throw new ChatdError('INVALID_INPUT', 'Invalid input part.', { detail: `content[${i}].text cannot be empty.` });
      if (partIssues.get(i) === 'file_id') throw new ChatdError('INVALID_INPUT', 'Invalid input part.', { detail: `content[${i}].file_id is required.` });
      throw unsupported(i, raws[i]);
    }
    // A good part beside a bad one: the content's parse kept no data, so read this part on its own.
    const part = parsed.success ? parsed.data[i]! : chatInputPartSchema.parse(raws[i]);
    parts.push(part);
  }
  assertContentSize(parts, MAX_INPUT_CONTENT_BYTES);
  return { parts, titleSource: parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(' ') };
}

/**
 * Validates `system_prompt`: a string of at most 10000 characters (code points). Returns it, or undefined when
 * absent; throws INVALID_INPUT otherwise.
 */
export function validateSystemPrompt(systemPrompt: unknown): string | undefined {
  if (systemPrompt === undefined) return undefined;
  if (typeof systemPrompt !== 'string' || Array.from(systemPrompt).length > MAX_SYSTEM_PROMPT_CHARS) {
    throw new ChatdError('INVALID_INPUT', 'Invalid system prompt.', { detail: `system_prompt must be a string of at most ${MAX_SYSTEM_PROMPT_CHARS} characters.` });
  }
  return systemPrompt;
}

// C0 controls, DEL and C1 controls; lone surrogates are caught separately (they are no text at all and
// PostgreSQL refuses them in jsonb).
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether `s` is well-formed text without control characters (C0, DEL, C1). */
export function isPrintable(s: string): boolean {
  return !CONTROL_RE.test(s) && !LONE_SURROGATE_RE.test(s);
}

/** Whether `s` has at most `max` code points (not UTF-16 units); a long string is refused without splitting it. */
function atMostCodePoints(s: string, max: number): boolean {
  if (s.length <= max) return true;
  return s.length <= 2 * max && Array.from(s).length <= max;
}

function invalid(field: 'labels' | 'client_type', detail: string): ChatdError {
  return new ChatdError('INVALID_INPUT', `Invalid ${field}.`, { detail, validations: [{ field, detail }] });
}

/**
 * Validates `client_type`: a string of at most 64 printable characters (code points). Returns it, or
 * undefined when absent; throws INVALID_INPUT with a `client_type` validation otherwise.
 */
export function validateClientType(clientType: unknown): string | undefined {
  if (clientType === undefined || clientType === null) return undefined;
  if (typeof clientType !== 'string') throw invalid('client_type', 'must be a string');
  if (!atMostCodePoints(clientType, MAX_CLIENT_TYPE_CHARS)) throw invalid('client_type', `must be at most ${MAX_CLIENT_TYPE_CHARS} characters`);
  if (!isPrintable(clientType)) throw invalid('client_type', 'must contain printable characters only');
  return clientType;
}

/**
 * Validates `labels`: an object of at most 32 string entries, keys 1-64 and values at most 256 printable
 * characters (code points), at most 4096 bytes as UTF-8 JSON in all. Returns a copy (`{}` when absent);
 * throws INVALID_INPUT with a `labels` validation otherwise.
 */
export function validateLabels(labels: unknown): Record<string, string> {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== 'object' || Array.isArray(labels)) throw invalid('labels', 'must be an object of strings');
  const entries = Object.entries(labels);
  // Counted first, so a 3,000-key object is refused before any per-key work.
  if (entries.length > MAX_LABELS) throw invalid('labels', `at most ${MAX_LABELS} labels (got ${entries.length})`);
  for (const [k, v] of entries) {
    // A key is shown in messages only once it is known to be short and printable.
    if (k === '' || !atMostCodePoints(k, MAX_LABEL_KEY_CHARS) || !isPrintable(k)) throw invalid('labels', `keys must be 1-${MAX_LABEL_KEY_CHARS} printable characters`);
    if (typeof v !== 'string') throw invalid('labels', `label "${k}" must be a string`);
    if (!atMostCodePoints(v, MAX_LABEL_VALUE_CHARS) || !isPrintable(v)) throw invalid('labels', `label "${k}" must be at most ${MAX_LABEL_VALUE_CHARS} printable characters`);
  }
  // fromEntries defines each key as its own property, so a `__proto__` label is kept like any other.
  const out = Object.fromEntries(entries) as Record<string, string>;
  const bytes = Buffer.byteLength(JSON.stringify(out), 'utf8');
  if (bytes > MAX_LABELS_BYTES) throw invalid('labels', `must be at most ${MAX_LABELS_BYTES} bytes as JSON (got ${bytes})`);
  return out;
}
