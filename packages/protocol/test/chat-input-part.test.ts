import { describe, expect, it } from 'vitest';
import { chatInputContentSchema, chatInputPartSchema } from '../src/index.js';

const issuePaths = (v: unknown) => {
  const r = chatInputContentSchema.safeParse(v);
  return r.success ? undefined : r.error.issues.map((i) => i.path.join('.'));
};

describe('chatInputPartSchema', () => {
  it('reads the type trimmed and lower-cased and the text trimmed, keeping only the fields of the type', () => {
    expect(chatInputPartSchema.parse({ type: ' Text ', text: '  hi there ', extra: 1 })).toEqual({ type: 'text', text: 'hi there' });
    expect(chatInputPartSchema.parse({ type: 'FILE', file_id: 'f1', media_type: 'x', text: 'no' })).toEqual({ type: 'file', file_id: 'f1' });
  });

  it('refuses other types, empty texts and file parts without an id', () => {
    for (const part of [null, 'text', {}, { type: 'image', text: 'x' }, { type: 5 }, { type: 'text' }, { type: 'text', text: ' \n ' }, { type: 'text', text: 1 }, { type: 'file' }, { type: 'file', file_id: '' }]) {
      expect(chatInputPartSchema.safeParse(part).success, JSON.stringify(part)).toBe(false);
    }
  });
});

describe('chatInputContentSchema', () => {
  it('needs at least one part', () => {
    expect(issuePaths([])).toEqual(['']);
    expect(issuePaths('hello')).toEqual(['']);
    expect(issuePaths(undefined)).toEqual(['']);
    expect(chatInputContentSchema.parse([{ type: 'text', text: 'a' }, { type: 'file', file_id: 'f' }])).toEqual([{ type: 'text', text: 'a' }, { type: 'file', file_id: 'f' }]);
  });

  it('names the part and field of each problem, in order', () => {
    expect(issuePaths([{ type: 'text', text: 'ok' }, { type: 'image' }, { type: 'text', text: '' }])).toEqual(['1.type', '2.text']);
    expect(issuePaths(['x'])).toEqual(['0']);
  });
});
