// Channel lifecycle: create, lookups, executor assignment, cleanup, stats, sequence, log size.
import { describe, expect, it } from 'vitest';
import type { Channel } from '../src/index.js';
import {
  CHANNEL_MAX_CHANNELS_PER_PROCESS,
  createRouter,
  createRouterForTesting,
  createRouterWithoutRateLimit,
  ErrChannelExists,
  ErrChannelNotFound,
  ErrTooManyChannels,
  ErrUnauthorized,
} from '../src/index.js';
import { bytes, chan, text } from './helpers.js';

describe('create and get', () => {
  it('stores a channel that get returns with id, name and submitter intact', () => {
    const r = createRouterWithoutRateLimit();
    const created = r.create({ id: 'ch-1', processId: 'proc-1', name: 'output', submitterId: 'user-1' });
    const got = r.get('ch-1');
    expect(got).toBe(created);
    expect(got).toEqual({ id: 'ch-1', processId: 'proc-1', name: 'output', submitterId: 'user-1', executorId: '', sequence: 0, log: [] });
  });

  it('refuses a duplicate id with CHANNEL_EXISTS and keeps the first', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch-1'));
    expect(() => r.create(chan('ch-1', 'proc-2'))).toThrow(expect.objectContaining({ code: ErrChannelExists.code, message: 'channel already exists' }));
    expect(r.get('ch-1').processId).toBe('proc-1');
    expect(r.stats()).toEqual({ channelCount: 1, processCount: 1 });
  });

  it('keeps the caller object by reference: editing submitterId changes who is authorised', () => {
    const r = createRouterWithoutRateLimit();
    const input = chan('ch-1');
    r.create(input);
    r.append('ch-1', 'user-1', 1, 0, bytes('a'));
    input.submitterId = 'user-2';
    expect(() => r.append('ch-1', 'user-1', 2, 0, bytes('b'))).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    r.append('ch-1', 'user-2', 1, 0, bytes('c'));
    expect(r.getLogSize('ch-1')).toBe(2);
  });

  it('accepts empty ids and names without validation, and keeps a pre-filled log', () => {
    const r = createRouterWithoutRateLimit();
    r.create({ id: '', processId: '', name: '', submitterId: 'u' });
    expect(r.get('').name).toBe('');
    const log = [{ sequence: 1, inReplyTo: 0, timestampMs: 0, senderId: 'u', payload: null, type: 'data', error: '' }];
    r.create({ id: 'pre', processId: 'p', name: 'pre', submitterId: 'u', log, sequence: 7 });
    expect(r.getLogSize('pre')).toBe(1);
    expect(r.getSequence('pre')).toBe(7);
  });

  it('get of an unknown id gives CHANNEL_NOT_FOUND', () => {
    const r = createRouterWithoutRateLimit();
    expect(() => r.get('nope')).toThrow(expect.objectContaining({ code: ErrChannelNotFound.code }));
  });

  it('createIfNotExists is idempotent, even for an id owned by another process', () => {
    const r = createRouterWithoutRateLimit();
    const first = r.createIfNotExists(chan('ch-1'));
    const again = r.createIfNotExists(chan('ch-1', 'proc-2', { submitterId: 'other' }));
    expect(again).toBe(first);
    expect(r.get('ch-1').submitterId).toBe('user-1');
    expect(r.stats()).toEqual({ channelCount: 1, processCount: 1 });
  });
});

describe('getByProcessAndName and getChannelsByProcess', () => {
  it('finds a channel by name among the process channels; unknown name or process is not found', () => {
    const r = createRouterWithoutRateLimit();
    r.create({ id: 'p_input', processId: 'p', name: 'input', submitterId: 'u' });
    r.create({ id: 'p_output', processId: 'p', name: 'output', submitterId: 'u' });
    expect(r.getByProcessAndName('p', 'output').id).toBe('p_output');
    expect(() => r.getByProcessAndName('p', 'nope')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
    expect(() => r.getByProcessAndName('q', 'input')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
  });

  it('returns the first of two channels sharing a name', () => {
    const r = createRouterWithoutRateLimit();
    r.create({ id: 'a', processId: 'p', name: 'dup', submitterId: 'u' });
    r.create({ id: 'b', processId: 'p', name: 'dup', submitterId: 'u' });
    expect(r.getByProcessAndName('p', 'dup').id).toBe('a');
  });

  it('lists channels in creation order; an unknown process gives []', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('c2'));
    r.create(chan('c1'));
    r.create(chan('x', 'proc-2'));
    expect(r.getChannelsByProcess('proc-1').map((c: Channel) => c.id)).toEqual(['c2', 'c1']);
    expect(r.getChannelsByProcess('none')).toEqual([]);
  });
});

describe('executor assignment', () => {
  it('refuses the executor before setExecutorId and allows it after', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch-1'));
    expect(() => r.append('ch-1', 'exec-1', 1, 0, bytes('x'))).toThrow(expect.objectContaining({ code: ErrUnauthorized.code }));
    r.setExecutorId('ch-1', 'exec-1');
    r.append('ch-1', 'exec-1', 1, 0, bytes('x'));
    expect(r.getLogSize('ch-1')).toBe(1);
  });

  it('setExecutorId on an unknown channel gives CHANNEL_NOT_FOUND', () => {
    const r = createRouterWithoutRateLimit();
    expect(() => r.setExecutorId('nope', 'e')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
  });

  it("setting '' revokes the executor", () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch-1', 'proc-1', { executorId: 'exec-1' }));
    r.setExecutorId('ch-1', '');
    expect(() => r.readAfter('ch-1', 'exec-1', 0, 0)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
  });

  it('setExecutorIdForProcess sets every channel of the process and no other', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('a'));
    r.create(chan('b'));
    r.create(chan('c', 'proc-2'));
    r.setExecutorIdForProcess('proc-1', 'exec-9');
    expect(r.get('a').executorId).toBe('exec-9');
    expect(r.get('b').executorId).toBe('exec-9');
    expect(r.get('c').executorId).toBe('');
    expect(() => r.setExecutorIdForProcess('unknown', 'e')).not.toThrow();
  });
});

describe('cleanupProcess', () => {
  it('removes the process channels and keeps the others', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch-1'));
    r.create(chan('ch-2'));
    r.create(chan('ch-3', 'proc-2'));
    r.append('ch-3', 'user-1', 1, 0, bytes('keep'));
    r.cleanupProcess('proc-1');
    expect(() => r.get('ch-1')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
    expect(() => r.get('ch-2')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
    expect(r.getChannelsByProcess('proc-1')).toEqual([]);
    expect(text(r.readAfter('ch-3', 'user-1', 0, 0)[0]?.payload ?? null)).toBe('keep');
  });

  it('after cleanup, get, read, append, sequence and log size all give CHANNEL_NOT_FOUND', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch-1'));
    for (let i = 1; i <= 1000; i++) r.append('ch-1', 'user-1', i, 0, new Uint8Array(1024));
    expect(r.getLogSize('ch-1')).toBe(1000);
    r.cleanupProcess('proc-1');
    for (const op of [
      () => r.get('ch-1'),
      () => r.readAfter('ch-1', 'user-1', 0, 0),
      () => r.append('ch-1', 'user-1', 1001, 0, null),
      () => r.getSequence('ch-1'),
      () => r.getLogSize('ch-1'),
    ]) {
      expect(op).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
    }
  });

  it('is idempotent and a no-op for an unknown process', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch-1'));
    r.cleanupProcess('proc-1');
    r.cleanupProcess('proc-1');
    r.cleanupProcess('never');
    expect(r.stats()).toEqual({ channelCount: 0, processCount: 0 });
  });

  it('lets a channel id be created again, with a fresh log', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch-1'));
    r.append('ch-1', 'user-1', 1, 0, null);
    r.cleanupProcess('proc-1');
    r.create(chan('ch-1'));
    expect(r.getLogSize('ch-1')).toBe(0);
  });

  it('gives the process a full rate-limit bucket again', () => {
    const r = createRouterForTesting();
    r.create(chan('ch-1'));
    for (let i = 1; i <= 500; i++) r.append('ch-1', 'user-1', i, 0, null);
    expect(() => r.append('ch-1', 'user-1', 501, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
    r.cleanupProcess('proc-1');
    r.create(chan('ch-1'));
    for (let i = 1; i <= 500; i++) r.append('ch-1', 'user-1', i, 0, null);
    expect(r.getLogSize('ch-1')).toBe(500);
  });
});

describe('stats, sequence and log size', () => {
  it('counts channels and owning processes; both drop after cleanup', () => {
    const r = createRouterWithoutRateLimit();
    expect(r.stats()).toEqual({ channelCount: 0, processCount: 0 });
    r.create(chan('a'));
    r.create(chan('b'));
    r.create(chan('c', 'proc-2'));
    expect(r.stats()).toEqual({ channelCount: 3, processCount: 2 });
    r.cleanupProcess('proc-1');
    expect(r.stats()).toEqual({ channelCount: 1, processCount: 1 });
  });

  it('getSequence returns the create-time value and never moves', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('a'));
    r.append('a', 'user-1', 5, 0, null);
    expect(r.getSequence('a')).toBe(0);
    expect(() => r.getSequence('nope')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
  });

  it('getLogSize is 0 at first and counts appends', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('a'));
    expect(r.getLogSize('a')).toBe(0);
    r.append('a', 'user-1', 1, 0, null);
    r.append('a', 'user-1', 2, 0, null);
    expect(r.getLogSize('a')).toBe(2);
  });
});

describe('channels-per-process limit', () => {
  it('defaults to 100: the 100th create succeeds, the 101st fails and the count stays 100', () => {
    const r = createRouter();
    for (let i = 0; i < CHANNEL_MAX_CHANNELS_PER_PROCESS; i++) r.create(chan(`c${i}`));
    expect(() => r.create(chan('c100'))).toThrow(expect.objectContaining({ code: ErrTooManyChannels.code }));
    expect(r.getChannelsByProcess('proc-1')).toHaveLength(100);
  });

  it('with max 3, the 4th create fails; another process is independent', () => {
    const r = createRouterWithoutRateLimit();
    r.setMaxChannelsPerProcess(3);
    for (let i = 0; i < 3; i++) r.create(chan(`c${i}`));
    expect(() => r.create(chan('c3'))).toThrow(expect.objectContaining({ code: 'TOO_MANY_CHANNELS' }));
    expect(r.getChannelsByProcess('proc-1')).toHaveLength(3);
    r.create(chan('other-1', 'proc-2'));
    r.create(chan('other-2', 'proc-2'));
    expect(r.stats()).toEqual({ channelCount: 5, processCount: 2 });
  });

  it('reports CHANNEL_EXISTS before TOO_MANY_CHANNELS for a duplicate at the limit', () => {
    const r = createRouterWithoutRateLimit({ maxChannelsPerProcess: 1 });
    r.create(chan('a'));
    expect(() => r.create(chan('a'))).toThrow(expect.objectContaining({ code: 'CHANNEL_EXISTS' }));
    expect(() => r.create(chan('b'))).toThrow(expect.objectContaining({ code: 'TOO_MANY_CHANNELS' }));
  });

  it('createIfNotExists at the limit: a new id fails, an existing id is fine', () => {
    const r = createRouterWithoutRateLimit();
    r.setMaxChannelsPerProcess(2);
    r.createIfNotExists(chan('a'));
    r.createIfNotExists(chan('b'));
    expect(() => r.createIfNotExists(chan('c'))).toThrow(expect.objectContaining({ code: 'TOO_MANY_CHANNELS' }));
    expect(r.createIfNotExists(chan('a')).id).toBe('a');
    expect(r.getChannelsByProcess('proc-1')).toHaveLength(2);
  });

  it('a limit of 0 refuses every create', () => {
    const r = createRouterWithoutRateLimit({ maxChannelsPerProcess: 0 });
    expect(() => r.create(chan('a'))).toThrow(expect.objectContaining({ code: 'TOO_MANY_CHANNELS' }));
    expect(r.stats()).toEqual({ channelCount: 0, processCount: 0 });
  });
});
