import { describe, expect, it } from 'vitest';
import { ChannelsError } from '../src/index.js';

describe('ChannelsError', () => {
  it('carries its code', () => {
    expect(new ChannelsError('CHANNEL_NOT_FOUND', 'x').code).toBe('CHANNEL_NOT_FOUND');
  });
});
