import { ProtocolError, parseStreamQuery } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { ChatdError } from '../src/chatd-error.js';
import { errorResponse } from '../src/server/error-response.js';

describe('errorResponse', () => {
  it('answers a ProtocolError (a bad stream cursor) with 400, its message and validations', () => {
    let err: unknown;
    try {
      parseStreamQuery(new URL('http://x/?after_seq=1&run_id=nope'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect(errorResponse(err)).toEqual({
      status: 400,
      body: { message: 'Invalid run_id parameter.', validations: [{ field: 'run_id', detail: 'must be a UUID' }] },
      internal: false,
      headers: {},
    });
  });

  it('keeps ChatdError codes and hides anything else behind a 500', () => {
    expect(errorResponse(new ChatdError('INVALID_INPUT', 'bad')).status).toBe(400);
    const other = errorResponse(new Error('secret'));
    expect(other.status).toBe(500);
    expect(other.internal).toBe(true);
    expect(JSON.stringify(other.body)).not.toContain('secret');
  });
});
