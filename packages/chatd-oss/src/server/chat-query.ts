// Parsing of the chat routes' query strings and path ids into the typed values the store takes (the store
// parses nothing). A malformed value is INVALID_INPUT (400) before any SQL runs; int64 ids stay bigint, so
// `9223372036854775807` survives. It does not check ownership or existence: the store does.
import { ChatdError } from '../chatd-error.js';
import { parseInt64, parseMessageId } from '../store/chat-input.js';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, type ListMessagesInput } from '../store/chat-store.js';

/** Highest `offset` of `GET /` (a deeper page is no use and only costs the database). @default 1000000000 */
export const MAX_LIST_OFFSET = 1_000_000_000;

/** The query of `GET /`: which chats, and the page. */
export type ListChatsQuery = { archived: boolean; limit: number; offset: number };

/** The query of `GET /{chat}/messages`: the cursors and the page size. */
export type MessagesQuery = Pick<ListMessagesInput, 'beforeId' | 'afterId' | 'limit'>;

function intParam(query: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ChatdError('INVALID_INPUT', `Invalid ${name} parameter (${min}-${max}).`, { validations: [{ field: name, detail: `must be an integer from ${min} to ${max}` }] });
  }
  return Number(raw);
}

/** Parses `archived`, `limit` and `offset` of `GET /`. */
export function parseListChatsQuery(query: URLSearchParams): ListChatsQuery {
  const archivedRaw = query.get('archived');
  if (archivedRaw !== null && archivedRaw !== 'true' && archivedRaw !== 'false') {
    throw new ChatdError('INVALID_INPUT', 'Invalid archived parameter.', { validations: [{ field: 'archived', detail: 'must be true or false' }] });
  }
  return {
    archived: archivedRaw === 'true',
    limit: intParam(query, 'limit', 1, MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT),
    offset: intParam(query, 'offset', 0, MAX_LIST_OFFSET, 0),
  };
}

/** Parses `before_id`, `after_id` (non-negative int64; 0 means no bound) and `limit` (1-200) of `GET /{chat}/messages`. */
export function parseMessagesQuery(query: URLSearchParams): MessagesQuery {
  const beforeRaw = query.get('before_id');
  const afterRaw = query.get('after_id');
  const limitRaw = query.get('limit');
  const beforeId = beforeRaw === null ? undefined : parseInt64(beforeRaw, 'before_id');
  const afterId = afterRaw === null ? undefined : parseInt64(afterRaw, 'after_id');
  let limit: number | undefined;
  if (limitRaw !== null) {
    if (!/^[0-9]{1,4}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > MAX_PAGE_LIMIT) {
      throw new ChatdError('INVALID_INPUT', `Invalid limit parameter (1-${MAX_PAGE_LIMIT}).`);
    }
    limit = Number(limitRaw);
  }
  if (beforeId !== undefined && afterId !== undefined && beforeId > 0n && afterId > 0n && afterId >= beforeId) {
    throw new ChatdError('INVALID_INPUT', 'after_id must be less than before_id.');
  }
  return { ...(beforeId !== undefined ? { beforeId } : {}), ...(afterId !== undefined ? { afterId } : {}), ...(limit !== undefined ? { limit } : {}) };
}

/** Parses the queued message id of `DELETE /{chat}/queue/{id}`: any non-negative int64 (an absent one is no error). */
export function parseQueuedIdToDelete(raw: string | undefined): bigint {
  return parseInt64(raw, 'queued message ID');
}

/** Parses the queued message id of `POST /{chat}/queue/{id}/promote`: a positive id that fits a JS number. */
export function parseQueuedIdToPromote(raw: string | undefined): number {
  return parseMessageId(raw, 'queued message ID');
}
