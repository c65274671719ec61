// The revocation payload on `chat:token_revoked` (issue 22 item 1): a token id, never the token; bad payloads
// are typed errors and never reach a callback as a value.
import { describe, expect, it } from 'vitest';
import {
  PubSubError,
  TOKEN_REVOKED_EVENT_CHANNEL,
  assertValidChannel,
  createMemoryPubSub,
  decodeTokenRevokedEvent,
  encodeTokenRevokedEvent,
  handleTokenRevokedEvent,
  type TokenRevokedEvent,
} from '../src/index.js';

const ID = '0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d';

describe('TokenRevokedEvent', () => {
  it('round-trips a token id (lower case on the wire) on a valid channel', () => {
    assertValidChannel(TOKEN_REVOKED_EVENT_CHANNEL);
    const bytes = encodeTokenRevokedEvent({ token_id: ID.toUpperCase() });
    expect(bytes.toString()).toBe(`{"token_id":"${ID}"}`);
    expect(decodeTokenRevokedEvent(bytes)).toEqual({ token_id: ID });
  });

  it('refuses payloads without a UUID token id', () => {
    for (const bad of ['', '{}', '{"token_id":"x"}', '{"token_id":7}', 'null', '[]']) {
      expect(() => decodeTokenRevokedEvent(bad), bad).toThrow(PubSubError);
    }
    expect(() => encodeTokenRevokedEvent({ token_id: 'nope' })).toThrow(PubSubError);
  });

  it('the typed handler delivers events and reports malformed ones as errors', async () => {
    const ps = createMemoryPubSub();
    const seen: (TokenRevokedEvent | string)[] = [];
    await ps.subscribe(TOKEN_REVOKED_EVENT_CHANNEL, handleTokenRevokedEvent((event, err) => void seen.push(event ?? err?.code ?? '?')));
    await ps.publish(TOKEN_REVOKED_EVENT_CHANNEL, encodeTokenRevokedEvent({ token_id: ID }));
    await ps.publish(TOKEN_REVOKED_EVENT_CHANNEL, Buffer.from('{"token_id":"x"}'));
    await expect.poll(() => seen.length).toBe(2);
    expect(seen).toEqual([{ token_id: ID }, 'MALFORMED_PAYLOAD']);
    await ps.close();
  });
});
