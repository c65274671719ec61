// The size of a value's JSON in UTF-8 bytes, counted without building the JSON: the store checks the size of every
// message a run persists (MAX_PERSISTED_CONTENT_BYTES), and stringifying a long reply only to measure it cost more
// than the rest of the check (the INSERT encodes it once anyway). The count is exact for what JSON.stringify would
// write; values it cannot count exactly (toJSON, boxed primitives, class instances, bigints) are stringified.

/** Characters whose JSON form is longer than their UTF-8 form: `"`, `\`, controls, and surrogates (lone ones are escaped). */
const NEEDS_COUNTING = /["\\\u0000-\u001f\ud800-\udfff]/;

/** The same, but for the three common in text (quotes, backslashes, line feeds), which indexOf counts natively. */
const NEEDS_COUNTING_ONE_BY_ONE = /[\u0000-\u0009\u000b-\u001f\ud800-\udfff]/;

/** Occurrences of the character `c` in `s`. */
function occurrences(s: string, c: string): number {
  let n = 0;
  for (let i = s.indexOf(c); i >= 0; i = s.indexOf(c, i + 1)) n++;
  return n;
}

/** Bytes of `s` as a JSON string, quotes included. */
function stringBytes(s: string): number {
  let n = Buffer.byteLength(s, 'utf8') + 2;
  if (!NEEDS_COUNTING.test(s)) return n;
  // Each of `"`, `\` and a line feed takes one byte more as an escape.
  if (!NEEDS_COUNTING_ONE_BY_ONE.test(s)) return n + occurrences(s, '"') + occurrences(s, '\\') + occurrences(s, '\n');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) n += 1;
    else if (c < 0x20) n += c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 1 : 5;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) i++; // a pair: 4 bytes either way
    else if (c >= 0xd800 && c <= 0xdfff) n += 3; // lone: `\udxxx` (6) where UTF-8 counted U+FFFD (3)
  }
  return n;
}

/** Thrown inside the walk for a value only JSON.stringify can size. */
const NOT_PLAIN = Symbol('not plain');

const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

function bytesOf(v: unknown, budget: number): number {
  switch (typeof v) {
    case 'string':
      return stringBytes(v);
    case 'number':
      return Number.isFinite(v) ? String(v).length : 4;
    case 'boolean':
      return v ? 4 : 5;
    case 'object': {
      if (v === null) return 4;
      if (Array.isArray(v)) {
        let n = 2 + Math.max(0, v.length - 1);
        for (const e of v) {
          n += omitted(e) ? 4 : bytesOf(e, budget - n);
          if (n > budget) return n;
        }
        return n;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if ((proto !== Object.prototype && proto !== null) || typeof (v as { toJSON?: unknown }).toJSON === 'function') throw NOT_PLAIN;
      let n = 2;
      let members = 0;
      for (const key of Object.keys(v)) {
        const value = (v as Record<string, unknown>)[key];
        if (omitted(value)) continue;
        n += (members++ > 0 ? 1 : 0) + stringBytes(key) + 1 + bytesOf(value, budget - n);
        if (n > budget) return n;
      }
      return n;
    }
    default:
      throw NOT_PLAIN; // bigint (JSON.stringify throws), and top-level undefined/function/symbol
  }
}

/**
 * `Buffer.byteLength(JSON.stringify(value ?? null))`, or any number above `maxBytes` once the count passes it
 * (the walk stops there). Throws what JSON.stringify throws for values it cannot encode.
 */
export function jsonByteLength(value: unknown, maxBytes = Infinity): number {
  try {
    return bytesOf(value ?? null, maxBytes);
  } catch (err) {
    if (err !== NOT_PLAIN && !(err instanceof RangeError)) throw err;
    return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
  }
}
