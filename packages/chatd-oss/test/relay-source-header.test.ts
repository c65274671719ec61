import { describe, expect, it } from 'vitest';
import { RELAY_SOURCE_HEADER } from '@chatd/protocol';

describe('RELAY_SOURCE_HEADER', () => {
  it('is the original header name', () => {
    expect(RELAY_SOURCE_HEADER).toBe('X-Coder-Relay-Source-Replica');
  });
});
