import { describe, expect, it } from 'vitest';
import { RELAY_GIVE_UP_ERROR_KIND, RELAY_SOURCE_HEADER } from '../src/index.js';

describe('relay marks', () => {
  it('keep the seed wire names', () => {
    expect(RELAY_SOURCE_HEADER).toBe('X-Coder-Relay-Source-Replica');
    expect(RELAY_GIVE_UP_ERROR_KIND).toBe('relay');
  });
});
