import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/index.js';

describe('ProtocolError', () => {
  it('carries a code, validations and the cause', () => {
    const cause = new Error('inner');
    const err = new ProtocolError('INVALID_CURSOR', 'Invalid after_id parameter.', { cause, validations: [{ field: 'after_id', detail: 'must be an int64 >= 0' }] });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ProtocolError');
    expect(err.code).toBe('INVALID_CURSOR');
    expect(err.validations).toEqual([{ field: 'after_id', detail: 'must be an int64 >= 0' }]);
    expect(err.cause).toBe(cause);
  });
});
