import { describe, expect, it } from 'vitest';
import { INT64_MAX } from '@chatd/protocol';
import { ChatdError } from '../src/chatd-error.js';
import { parseListChatsQuery, parseMessagesQuery, parseQueuedIdToDelete, parseQueuedIdToPromote } from '../src/server/chat-query.js';

const q = (s: string) => new URLSearchParams(s);

/** The typed error a parser throws, or undefined when it parsed. */
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ChatdError)) throw err;
    return { code: err.code, message: err.message, ...(err.validations ? { validations: err.validations } : {}) };
  }
  return undefined;
};

describe('parseMessagesQuery (the routes parse; the store takes bigint cursors and a number)', () => {
  it('gives typed values, int64 ids as bigint so the int64 maximum survives', () => {
    expect(parseMessagesQuery(q(''))).toEqual({});
    expect(parseMessagesQuery(q('before_id=12&after_id=3&limit=200'))).toEqual({ beforeId: 12n, afterId: 3n, limit: 200 });
    expect(parseMessagesQuery(q(`after_id=${INT64_MAX}`))).toEqual({ afterId: INT64_MAX });
    // 0 means "no bound", so it never conflicts with the other cursor.
    expect(parseMessagesQuery(q('before_id=0&after_id=5'))).toEqual({ beforeId: 0n, afterId: 5n });
  });

  it('refuses malformed values with the error texts the API has always given', () => {
    expect(errorOf(() => parseMessagesQuery(q('before_id=-1')))).toMatchObject({ code: 'INVALID_INPUT', message: 'Invalid before_id.' });
    expect(errorOf(() => parseMessagesQuery(q('after_id=abc')))).toMatchObject({ code: 'INVALID_INPUT', message: 'Invalid after_id.' });
    expect(errorOf(() => parseMessagesQuery(q('after_id=9223372036854775808')))).toMatchObject({ code: 'INVALID_INPUT', message: 'Invalid after_id.' });
    expect(errorOf(() => parseMessagesQuery(q('after_id=1.5')))).toMatchObject({ code: 'INVALID_INPUT', message: 'Invalid after_id.' });
    expect(errorOf(() => parseMessagesQuery(q('after_id=')))).toMatchObject({ code: 'INVALID_INPUT', message: 'Invalid after_id.' });
    for (const limit of ['0', '201', '500', 'x', '', '00001']) {
      expect(errorOf(() => parseMessagesQuery(q(`limit=${limit}`)))).toEqual({ code: 'INVALID_INPUT', message: 'Invalid limit parameter (1-200).' });
    }
    expect(errorOf(() => parseMessagesQuery(q('after_id=5&before_id=5')))).toEqual({ code: 'INVALID_INPUT', message: 'after_id must be less than before_id.' });
  });
});

describe('parseListChatsQuery', () => {
  it('gives the page with its defaults', () => {
    expect(parseListChatsQuery(q(''))).toEqual({ archived: false, limit: 50, offset: 0 });
    expect(parseListChatsQuery(q('archived=true&limit=1&offset=7'))).toEqual({ archived: true, limit: 1, offset: 7 });
  });

  it('refuses malformed values with a validation naming the field', () => {
    expect(errorOf(() => parseListChatsQuery(q('archived=yes')))).toEqual({
      code: 'INVALID_INPUT',
      message: 'Invalid archived parameter.',
      validations: [{ field: 'archived', detail: 'must be true or false' }],
    });
    expect(errorOf(() => parseListChatsQuery(q('limit=201')))).toEqual({
      code: 'INVALID_INPUT',
      message: 'Invalid limit parameter (1-200).',
      validations: [{ field: 'limit', detail: 'must be an integer from 1 to 200' }],
    });
    expect(errorOf(() => parseListChatsQuery(q('offset=-1')))).toMatchObject({ code: 'INVALID_INPUT', message: 'Invalid offset parameter (0-1000000000).' });
  });
});

describe('queued message ids in paths', () => {
  it('delete takes any non-negative int64 (an absent one is no error); promote a positive safe integer', () => {
    expect(parseQueuedIdToDelete('9223372036854775807')).toBe(INT64_MAX);
    expect(parseQueuedIdToDelete('0')).toBe(0n);
    expect(errorOf(() => parseQueuedIdToDelete('x'))).toMatchObject({ code: 'INVALID_INPUT', message: 'Invalid queued message ID.' });
    expect(parseQueuedIdToPromote('17')).toBe(17);
    expect(errorOf(() => parseQueuedIdToPromote('0'))).toMatchObject({ code: 'INVALID_INPUT', message: 'Invalid queued message ID.' });
    expect(errorOf(() => parseQueuedIdToPromote('9007199254740993'))).toMatchObject({ code: 'INVALID_INPUT' });
  });
});
