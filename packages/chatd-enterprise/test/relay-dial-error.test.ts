import { describe, expect, it } from 'vitest';
import { RelayDialError, RelaySourceHeader } from '../src/index.js';

describe('RelayDialError', () => {
  it('is unrecoverable only for 401 and 403', () => {
    for (const status of [0, 400, 404, 429, 500, 502, 503]) expect(new RelayDialError(status, 'x').isUnrecoverable()).toBe(false);
    expect(new RelayDialError(401, 'x').isUnrecoverable()).toBe(true);
    expect(new RelayDialError(403, 'x').isUnrecoverable()).toBe(true);
  });

  it('chains its cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new RelayDialError(0, 'dial failed', { cause });
    expect(err.cause).toBe(cause);
    expect(err.httpStatus).toBe(0);
  });

  it('re-exports the relay source header', () => {
    expect(RelaySourceHeader).toBe('X-Coder-Relay-Source-Replica');
  });
});
