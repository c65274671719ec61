import { describe, expect, it } from 'vitest';
import { INT64_MAX, parseInt64, parseMessageId, titleFromText, validateInputContent } from '../src/store/chat-input.js';
import { ChatdError } from '../src/chatd-error.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ChatdError ? { code: err.code, message: err.message, detail: err.detail } : err;
  }
  return undefined;
};

describe('titleFromText', () => {
  it('keeps up to six words joined by one space', () => {
    expect(titleFromText('  a\tb\n c  ')).toBe('a b c');
    expect(titleFromText('one two three four five six')).toBe('one two three four five six');
  });
  it('appends an ellipsis with no space when there were more words', () => {
    expect(titleFromText('one two three four five six seven')).toBe('one two three four five six\u2026');
  });
  it('cuts to 80 code points, not UTF-16 units', () => {
    const emoji = '\u{1F600}'.repeat(100);
    const t = titleFromText(emoji);
    expect(Array.from(t)).toHaveLength(80);
    expect(t).toBe('\u{1F600}'.repeat(80));
    expect(Array.from(titleFromText(`${'x'.repeat(79)} more words`))).toHaveLength(80);
  });
  it('is New Chat without words', () => {
    expect(titleFromText('   \n ')).toBe('New Chat');
  });
});

describe('validateInputContent', () => {
  it('accepts text parts (type trimmed and lowercased) and trims their text', () => {
    expect(validateInputContent([{ type: ' TEXT ', text: ' hi ' }, { type: 'text', text: 'there' }])).toEqual({
      parts: [
        { type: 'text', text: 'hi' },
        { type: 'text', text: 'there' },
      ],
      titleSource: 'hi there',
    });
  });
  it('gives the original messages and details', () => {
    expect(codeOf(() => validateInputContent([]))).toEqual({ code: 'INVALID_INPUT', message: 'Content is required.', detail: 'Content cannot be empty.' });
    expect(codeOf(() => validateInputContent([{ type: 'image' }]))).toEqual({ code: 'INVALID_INPUT', message: 'Invalid input part.', detail: 'content[0].type "image" is not supported.' });
    expect(codeOf(() => validateInputContent([{ type: 'text', text: 'a' }, { type: 'text', text: ' ' }]))).toMatchObject({ detail: 'content[1].text cannot be empty.' });
    expect(codeOf(() => validateInputContent('nope'))).toMatchObject({ code: 'INVALID_INPUT' });
    expect(codeOf(() => validateInputContent([null]))).toMatchObject({ code: 'INVALID_INPUT' });
  });
  it('refuses oversize content', () => {
    expect(codeOf(() => validateInputContent([{ type: 'text', text: 'x'.repeat(300_000) }]))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });
});

describe('int64 ids', () => {
  it('accepts the whole int64 range as bigint, including MaxInt64', () => {
    expect(parseInt64('9223372036854775807', 'after_id')).toBe(INT64_MAX);
    expect(parseInt64('0', 'x')).toBe(0n);
    expect(parseInt64(42, 'x')).toBe(42n);
  });
  it('refuses out-of-range, negative, fractional and non-numeric values', () => {
    for (const bad of ['9223372036854775808', '-1', '1.5', '1e3', '', ' 1', '0x10', 'abc', 1.5, -3, null, {}]) {
      expect(codeOf(() => parseInt64(bad, 'after_id'))).toMatchObject({ code: 'INVALID_INPUT' });
    }
  });
  it('message ids must be positive and fit a JS number', () => {
    expect(parseMessageId('17')).toBe(17);
    expect(codeOf(() => parseMessageId('0'))).toMatchObject({ code: 'INVALID_INPUT' });
    expect(codeOf(() => parseMessageId('9007199254740993'))).toMatchObject({ code: 'INVALID_INPUT' });
  });
});
