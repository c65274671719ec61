import { describe, expect, it } from 'vitest';
import { RELAY_SOURCE_HEADER } from '../src/index.js';

describe('RELAY_SOURCE_HEADER', () => {
  it('is the original header name', () => {
    expect(RELAY_SOURCE_HEADER).toBe('X-Coder-Relay-Source-Replica');
  });
});
