// The store's content size check counts JSON bytes in place (json-byte-length.ts): the same number JSON.stringify
// and Buffer.byteLength give, without stringifying a whole reply per check.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatdError } from '../src/chatd-error.js';
import { assertContentSize } from '../src/store/chat-input.js';
import { jsonByteLength } from '../src/store/json-byte-length.js';

const exact = (v: unknown) => Buffer.byteLength(JSON.stringify(v ?? null), 'utf8');

afterEach(() => vi.restoreAllMocks());

describe('jsonByteLength', () => {
  it('equals the UTF-8 length of JSON.stringify for any JSON-like value', () => {
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', '\u0001', '\u2028', '\ud800', '\udc00', '😀', 'é', 'a'), fc.string({ unit: 'binary', maxLength: 1 })) });
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(text, tie('v'), { maxKeys: 4 }),
        fc.constant(new Date(0)),
      ),
    })).v;
    fc.assert(fc.property(value, (v) => jsonByteLength(v) === exact(v)), { numRuns: 3000, seed: 37 });
  });

  it('stops counting once past the limit, and still throws for what JSON.stringify cannot encode', () => {
    const big = Array.from({ length: 1000 }, () => ({ type: 'text', text: 'x'.repeat(100) }));
    expect(jsonByteLength(big, 500)).toBeGreaterThan(500);
    expect(jsonByteLength(big, 500)).toBeLessThan(exact(big));
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => jsonByteLength(cyclic)).toThrow(TypeError);
    expect(() => assertContentSize(cyclic, 1_000)).toThrow(TypeError); // as JSON.stringify did
    expect(() => jsonByteLength({ n: 1n })).toThrow(TypeError);
  });
});

describe('assertContentSize', () => {
  it('stringifies nothing for content under the limit (it stringified the whole content per check)', () => {
    const content = [{ type: 'text', text: 'token '.repeat(20_000) }, { type: 'tool-call', tool_call_id: 'c1', tool_name: 't', args: { q: 'x', n: [1, 2, 3] } }];
    const stringify = vi.spyOn(JSON, 'stringify');
    assertContentSize(content, 4 * 1024 * 1024);
    expect(stringify).toHaveBeenCalledTimes(0);
  });

  it('throws PAYLOAD_TOO_LARGE with the exact size when over the limit', () => {
    const content = [{ type: 'text', text: 'é'.repeat(600) }];
    expect(() => assertContentSize(content, 1_000)).toThrow(expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE', detail: `Content is ${exact(content)} bytes; the limit is 1000.` }));
    expect(() => assertContentSize(content, exact(content))).not.toThrow();
    expect(() => assertContentSize(content, exact(content) - 1)).toThrow(ChatdError);
  });
});
