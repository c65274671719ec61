import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INT64_MAX } from '@chatd/protocol';
import { parseInt64, parseMessageId, titleFromText } from '../src/store/chat-input.js';
import {
  MAX_CLIENT_TYPE_CHARS,
  MAX_LABELS,
  MAX_LABELS_BYTES,
  MAX_LABEL_KEY_CHARS,
  MAX_LABEL_VALUE_CHARS,
  isPrintable,
  validateClientType,
  validateInputContent,
  validateLabels,
  validateSystemPrompt,
} from '../src/server/chat-body.js';
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
  it('keeps file parts by id (their owner is checked by the routes), in order with the other problems', () => {
    expect(validateInputContent([{ type: ' File ', file_id: 'f1', media_type: 'x/y', name: 'n' }, { type: 'text', text: 'see' }])).toEqual({
      parts: [{ type: 'file', file_id: 'f1' }, { type: 'text', text: 'see' }],
      titleSource: 'see',
    });
    expect(codeOf(() => validateInputContent([{ type: 'file' }]))).toEqual({ code: 'INVALID_INPUT', message: 'Invalid input part.', detail: 'content[0].file_id is required.' });
    expect(codeOf(() => validateInputContent([{ type: 'file', file_id: 'f1' }, { type: 'text', text: ' ' }]))).toMatchObject({ detail: 'content[1].text cannot be empty.' });
  });
  it('keeps only the fields of a text part', () => {
    expect(validateInputContent([{ type: 'text', text: 'hi', file_id: 'f', extra: { a: 1 } }]).parts).toEqual([{ type: 'text', text: 'hi' }]);
  });
  it('answers exactly as the hand-written check it replaced, on any near-input', () => {
    // The check before @chatd/protocol's schema, kept as the oracle of the error texts and their order.
    const oracle = (content: unknown) => {
      if (!Array.isArray(content) || content.length === 0) return { message: 'Content is required.', detail: 'Content cannot be empty.' };
      const parts: ({ type: 'text'; text: string } | { type: 'file'; file_id: string })[] = [];
      for (let i = 0; i < content.length; i++) {
        const raw: unknown = content[i];
        const part = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as { type?: unknown; text?: unknown; file_id?: unknown };
        const type = typeof part.type === 'string' ? part.type.trim().toLowerCase() : '';
        if (type === 'file') {
          if (typeof part.file_id !== 'string' || part.file_id === '') return { message: 'Invalid input part.', detail: `content[${i}].file_id is required.` };
          parts.push({ type: 'file', file_id: part.file_id });
          continue;
        }
        if (type !== 'text') return { message: 'Invalid input part.', detail: `content[${i}].type "${String(part.type ?? '')}" is not supported.` };
        const text = typeof part.text === 'string' ? part.text.trim() : '';
        if (text === '') return { message: 'Invalid input part.', detail: `content[${i}].text cannot be empty.` };
        parts.push({ type: 'text', text });
      }
      return { parts, titleSource: parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(' ') };
    };
    const ours = (content: unknown) => {
      try {
        return validateInputContent(content);
      } catch (err) {
        return err instanceof ChatdError ? { message: err.message, detail: err.detail } : err;
      }
    };
    const anyValue = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant({}), fc.constant([]));
    const part = fc.oneof(
      fc.record(
        {
          type: fc.oneof(fc.constantFrom('text', ' Text ', 'TEXT', 'file', 'FILE ', 'image', ''), anyValue),
          text: fc.oneof(fc.constantFrom('hi', '  a b ', ' ', ''), anyValue),
          file_id: fc.oneof(fc.constantFrom('f1', ''), anyValue),
        },
        { requiredKeys: [] },
      ),
      anyValue,
    );
    const content = fc.oneof(fc.array(part, { maxLength: 4 }), anyValue);
    fc.assert(
      fc.property(content, (c) => {
        expect(ours(c)).toEqual(oracle(c));
      }),
      { numRuns: 3000, seed: 23 },
    );
  });
  it('refuses oversize content', () => {
    expect(codeOf(() => validateInputContent([{ type: 'text', text: 'x'.repeat(300_000) }]))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });
});

describe('validateSystemPrompt', () => {
  it('takes up to 10000 code points and refuses longer prompts or non-strings with the original text', () => {
    expect(validateSystemPrompt(undefined)).toBeUndefined();
    expect(validateSystemPrompt('\u{1F600}'.repeat(10_000))).toHaveLength(20_000);
    const tooLong = { code: 'INVALID_INPUT', message: 'Invalid system prompt.', detail: 'system_prompt must be a string of at most 10000 characters.' };
    expect(codeOf(() => validateSystemPrompt('x'.repeat(10_001)))).toEqual(tooLong);
    expect(codeOf(() => validateSystemPrompt(42))).toEqual(tooLong);
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

describe('validateLabels and validateClientType (issue 21: bounded fields)', () => {
  const validations = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof ChatdError ? { code: err.code, validations: err.validations } : err;
    }
    return undefined;
  };
  const labelsError = (detail: string | RegExp) => ({ code: 'INVALID_INPUT', validations: [{ field: 'labels', detail: expect.stringMatching(detail) }] });

  it('accepts up to 32 labels, keys of 64 and values of 256 code points, 4096 JSON bytes in all', () => {
    const full = Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v'.repeat(100)]));
    expect(Buffer.byteLength(JSON.stringify(full))).toBeLessThanOrEqual(MAX_LABELS_BYTES);
    expect(validateLabels(full)).toEqual(full);
    // Code points, not UTF-16 units: 64 emoji keys and 256 emoji values are fine (as long as the total fits).
    expect(validateLabels({ ['\u{1F600}'.repeat(MAX_LABEL_KEY_CHARS)]: '\u{1F600}'.repeat(MAX_LABEL_VALUE_CHARS) })).toBeDefined();
    expect(validateLabels(undefined)).toEqual({});
    expect(validateLabels(null)).toEqual({});
    const proto = validateLabels(JSON.parse('{"__proto__":"x"}'));
    expect(Object.keys(proto)).toEqual(['__proto__']);
  });

  it('refuses too many labels, long or unprintable keys and values, and more than 4096 bytes, naming the field', () => {
    const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, 'v']));
    expect(validations(() => validateLabels(many))).toEqual(labelsError(/at most 32 labels/));
    expect(validations(() => validateLabels({ ['k'.repeat(MAX_LABEL_KEY_CHARS + 1)]: 'v' }))).toEqual(labelsError(/keys must be/));
    expect(validations(() => validateLabels({ '': 'v' }))).toEqual(labelsError(/keys must be/));
    expect(validations(() => validateLabels({ 'a\nb': 'v' }))).toEqual(labelsError(/keys must be/));
    expect(validations(() => validateLabels({ k: 'v'.repeat(MAX_LABEL_VALUE_CHARS + 1) }))).toEqual(labelsError(/at most 256/));
    expect(validations(() => validateLabels({ k: 'bell\u0007' }))).toEqual(labelsError(/printable/));
    expect(validations(() => validateLabels({ k: 'c1\u0085' }))).toEqual(labelsError(/printable/));
    expect(validations(() => validateLabels({ k: 'lone \ud800' }))).toEqual(labelsError(/printable/));
    expect(validations(() => validateLabels({ k: 1 }))).toEqual(labelsError(/must be a string/));
    expect(validations(() => validateLabels(['a']))).toEqual(labelsError(/object/));
    // 32 labels within the per-label limits but over 4 KiB in all.
    const heavy = Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, i) => [`k${i}`, 'v'.repeat(200)]));
    expect(validations(() => validateLabels(heavy))).toEqual(labelsError(/at most 4096 bytes/));
  });

  it('client_type: at most 64 printable code points', () => {
    expect(validateClientType('api')).toBe('api');
    expect(validateClientType('\u{1F600}'.repeat(MAX_CLIENT_TYPE_CHARS))).toBe('\u{1F600}'.repeat(MAX_CLIENT_TYPE_CHARS));
    expect(validateClientType(undefined)).toBeUndefined();
    const ctError = { code: 'INVALID_INPUT', validations: [{ field: 'client_type', detail: expect.any(String) }] };
    expect(validations(() => validateClientType('x'.repeat(200_000)))).toEqual(ctError);
    expect(validations(() => validateClientType('x'.repeat(MAX_CLIENT_TYPE_CHARS + 1)))).toEqual(ctError);
    expect(validations(() => validateClientType('tab\there'))).toEqual(ctError);
    expect(validations(() => validateClientType('del\u007f'))).toEqual(ctError);
    expect(validations(() => validateClientType(42))).toEqual(ctError);
    expect(isPrintable('héllo wörld \u{1F600}')).toBe(true);
  });
});
