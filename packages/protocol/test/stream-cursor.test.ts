import { describe, expect, it } from 'vitest';
import { INT64_MAX, ProtocolError, parseInt64Text, parseStreamQuery, setStreamQuery } from '../src/index.js';

const RUN = '3F2504E0-4F89-11D3-9A0C-0305E82C3301';
const query = (q: string) => parseStreamQuery(new URL(`http://x/stream${q}`));

function failure(q: string): ProtocolError {
  try {
    query(q);
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error(`no error for ${q}`);
}

describe('parseStreamQuery', () => {
  it('reads after_id as a bigint, up to int64 max, without passing through a number', () => {
    expect(query('')).toEqual({});
    expect(query('?after_id=')).toEqual({});
    expect(query('?after_id=0')).toEqual({ afterId: 0n });
    expect(query('?after_id=9007199254740993')).toEqual({ afterId: 9_007_199_254_740_993n });
    expect(query('?after_id=9223372036854775807')).toEqual({ afterId: INT64_MAX });
  });

  it('reads after_seq with run_id, lower-casing the run id', () => {
    expect(query(`?after_seq=4&run_id=${RUN}`)).toEqual({ afterSeq: 4, runId: RUN.toLowerCase() });
    expect(parseStreamQuery(new URLSearchParams({ after_id: '7', after_seq: '0', run_id: RUN }))).toEqual({ afterId: 7n, afterSeq: 0, runId: RUN.toLowerCase() });
  });

  it('refuses bad input with INVALID_CURSOR naming the field', () => {
    const cases: [string, string][] = [
      ['?after_id=9223372036854775808', 'after_id'],
      ['?after_id=-1', 'after_id'],
      ['?after_id=01', 'after_id'],
      ['?after_id=1e3', 'after_id'],
      ['?after_seq=1', 'run_id'],
      [`?run_id=${RUN}`, 'after_seq'],
      [`?after_seq=x&run_id=${RUN}`, 'after_seq'],
      [`?after_seq=1234567890123456&run_id=${RUN}`, 'after_seq'],
      ['?after_seq=1&run_id=r1', 'run_id'],
    ];
    for (const [q, field] of cases) {
      const err = failure(q);
      expect(err.code, q).toBe('INVALID_CURSOR');
      expect(err.validations?.[0]?.field, q).toBe(field);
    }
  });
});

describe('setStreamQuery', () => {
  it('writes the cursor in the spec order and only what it is given', () => {
    expect(setStreamQuery(new URLSearchParams(), {}).toString()).toBe('');
    expect(setStreamQuery(new URLSearchParams(), { afterId: INT64_MAX }).toString()).toBe('after_id=9223372036854775807');
    expect(setStreamQuery(new URLSearchParams(), { afterId: 5n, runId: 'r 1', afterSeq: 3 }).toString()).toBe('after_id=5&after_seq=3&run_id=r+1');
    expect(setStreamQuery(new URLSearchParams(), { afterSeq: 3 }).toString()).toBe('');
  });

  it('round-trips through parseStreamQuery', () => {
    const cursor = { afterId: INT64_MAX - 1n, afterSeq: 12, runId: RUN.toLowerCase() };
    expect(parseStreamQuery(setStreamQuery(new URLSearchParams(), cursor))).toEqual(cursor);
  });
});

describe('parseInt64Text', () => {
  it('accepts canonical non-negative int64 text only', () => {
    expect(parseInt64Text('9223372036854775807')).toBe(INT64_MAX);
    expect(parseInt64Text('9223372036854775808')).toBeUndefined();
    expect(parseInt64Text('99999999999999999999')).toBeUndefined();
    expect(parseInt64Text(' 1')).toBeUndefined();
  });
});
