import { describe, expect, it } from 'vitest';
import {
  CHANNELS_ERROR_MESSAGES,
  ChannelsError,
  ErrChannelExists,
  ErrChannelFull,
  ErrChannelNotFound,
  ErrMessageTooLarge,
  ErrRateLimitExceeded,
  ErrSubscriberTooSlow,
  ErrTooManyChannels,
  ErrUnauthorized,
  isChannelsError,
} from '../src/index.js';

describe('ChannelsError', () => {
  it('carries its code and the original message for it', () => {
    const err = new ChannelsError('CHANNEL_NOT_FOUND');
    expect(err.code).toBe('CHANNEL_NOT_FOUND');
    expect(err.message).toBe('channel not found');
    expect(err.name).toBe('ChannelsError');
    expect(err).toBeInstanceOf(Error);
  });

  it('chains a cause and accepts a custom message', () => {
    const cause = new Error('root');
    const err = new ChannelsError('INVALID_JSON', 'bad', { cause });
    expect(err.message).toBe('bad');
    expect(err.cause).toBe(cause);
  });

  it('exports the eight sentinels with the original texts', () => {
    const table: [ChannelsError, string, string][] = [
      [ErrChannelNotFound, 'CHANNEL_NOT_FOUND', 'channel not found'],
      [ErrUnauthorized, 'UNAUTHORIZED', 'unauthorized access to channel'],
      [ErrChannelExists, 'CHANNEL_EXISTS', 'channel already exists'],
      [ErrRateLimitExceeded, 'RATE_LIMIT_EXCEEDED', 'rate limit exceeded'],
      [ErrMessageTooLarge, 'MESSAGE_TOO_LARGE', 'message payload exceeds maximum size'],
      [ErrChannelFull, 'CHANNEL_FULL', 'channel log is full'],
      [ErrTooManyChannels, 'TOO_MANY_CHANNELS', 'process has too many channels'],
      [ErrSubscriberTooSlow, 'SUBSCRIBER_TOO_SLOW', 'subscriber disconnected: buffer full'],
    ];
    for (const [sentinel, code, message] of table) {
      expect(sentinel.code).toBe(code);
      expect(sentinel.message).toBe(message);
      expect(CHANNELS_ERROR_MESSAGES[sentinel.code]).toBe(message);
      expect(Object.isFrozen(sentinel)).toBe(true);
    }
  });

  it('isChannelsError matches by class, code or sentinel', () => {
    const err = new ChannelsError('CHANNEL_FULL');
    expect(isChannelsError(err)).toBe(true);
    expect(isChannelsError(err, 'CHANNEL_FULL')).toBe(true);
    expect(isChannelsError(err, ErrChannelFull)).toBe(true);
    expect(isChannelsError(err, ErrChannelNotFound)).toBe(false);
    expect(isChannelsError(new Error('channel log is full'), 'CHANNEL_FULL')).toBe(false);
    expect(isChannelsError(undefined)).toBe(false);
  });
});
