import { describe, expect, it } from 'vitest';
import { PubSubError } from '../src/index.js';

describe('PubSubError', () => {
  it('carries a code and a cause', () => {
    const cause = new Error('boom');
    const err = new PubSubError('PAYLOAD_TOO_LARGE', 'too big', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('PAYLOAD_TOO_LARGE');
    expect(err.cause).toBe(cause);
  });
});
