import { describe, expect, it } from 'vitest';
import { RELAY_GIVE_UP_ERROR_KIND, RELAY_SOURCE_HEADER, chatStreamErrorSchema, isRelayGiveUpError, relayGiveUpError } from '../src/index.js';

describe('relay marks', () => {
  it('keep the seed wire names', () => {
    expect(RELAY_SOURCE_HEADER).toBe('X-Coder-Relay-Source-Replica');
    expect(RELAY_GIVE_UP_ERROR_KIND).toBe('relay');
  });

  it('build and recognise a give-up by kind, whatever its text', () => {
    const err = relayGiveUpError('any words', 401);
    expect(err).toEqual({ message: 'any words', kind: RELAY_GIVE_UP_ERROR_KIND, retryable: false, status_code: 401 });
    expect(chatStreamErrorSchema.parse(err)).toEqual(err);
    expect(relayGiveUpError('x')).not.toHaveProperty('status_code');
    expect(isRelayGiveUpError(err)).toBe(true);
    expect(isRelayGiveUpError({ message: 'relay connection failed after 6 attempts' } as { kind?: string })).toBe(false);
  });
});
