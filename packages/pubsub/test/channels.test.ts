import { describe, expect, it } from 'vitest';
import {
  CHAT_CONFIG_EVENT_CHANNEL,
  MAX_CHANNEL_BYTES,
  PubSubError,
  chatEventChannel,
  chatStreamNotifyChannel,
  inboxNotificationForOwnerEventChannel,
} from '../src/index.js';
import { CHAT, OWNER } from './helpers.js';

describe('channel names (seed 001)', () => {
  it('are exactly the seed strings', () => {
    expect(CHAT_CONFIG_EVENT_CHANNEL).toBe('chat:config_change');
    expect(chatEventChannel(OWNER)).toBe(`chat:owner:${OWNER}`);
    expect(chatStreamNotifyChannel(CHAT)).toBe(`chat:stream:${CHAT}`);
    expect(inboxNotificationForOwnerEventChannel(OWNER)).toBe(`inbox_notification:owner:${OWNER}`);
  });

  it('format UUIDs in lower case, as Go does, so every replica names the same channel', () => {
    expect(chatStreamNotifyChannel(CHAT.toUpperCase())).toBe(`chat:stream:${CHAT}`);
    expect(chatEventChannel('00000000-0000-0000-0000-000000000000')).toBe('chat:owner:00000000-0000-0000-0000-000000000000');
  });

  it('stay within the 63-byte identifier limit', () => {
    for (const ch of [CHAT_CONFIG_EVENT_CHANNEL, chatEventChannel(OWNER), chatStreamNotifyChannel(CHAT), inboxNotificationForOwnerEventChannel(OWNER)]) {
      expect(Buffer.byteLength(ch)).toBeLessThanOrEqual(MAX_CHANNEL_BYTES);
    }
  });

  it('reject anything but a UUID with PubSubError INVALID_UUID', () => {
    const bad = ['', 'not-a-uuid', `${CHAT}x`, ` ${CHAT}`, CHAT.replace(/-/g, ''), `{${CHAT}}`, `urn:uuid:${CHAT}`, 'g'.repeat(8) + CHAT.slice(8), 42, null, undefined];
    for (const fn of [chatEventChannel, chatStreamNotifyChannel, inboxNotificationForOwnerEventChannel]) {
      for (const b of bad) {
        let err: unknown;
        try {
          fn(b as string);
        } catch (e) {
          err = e;
        }
        expect(err, `${fn.name}(${String(b)})`).toBeInstanceOf(PubSubError);
        expect((err as PubSubError).code).toBe('INVALID_UUID');
      }
    }
  });
});
