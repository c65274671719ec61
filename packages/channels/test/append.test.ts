// Append, appendWithType and readAfter: check order, limits at their exact boundaries, authorisation,
// rate limiting, ordering of out-of-order sequences, and index-based reads.
import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import type { MsgEntry, RouterWarning } from '../src/index.js';
import {
  CHANNEL_MAX_LOG_ENTRIES,
  CHANNEL_MAX_MESSAGE_SIZE,
  createRouter,
  createRouterForTesting,
  createRouterWithoutRateLimit,
  ErrChannelFull,
  ErrChannelNotFound,
  ErrMessageTooLarge,
  ErrRateLimitExceeded,
  ErrUnauthorized,
  MSG_TYPE_DATA,
  MSG_TYPE_END,
  MSG_TYPE_ERROR,
} from '../src/index.js';
import { bytes, chan, text } from './helpers.js';

const order = (entries: MsgEntry[]): string[] => entries.map((e) => `${e.senderId}:${e.sequence}`);

function twoParty(clock = createMockClock()) {
  const r = createRouterWithoutRateLimit({ clock });
  r.create(chan('ch', 'proc-1', { submitterId: 'u', executorId: 'e' }));
  return r;
}

describe('append and readAfter', () => {
  it('stores entries with the client sequence, inReplyTo, sender, payload, type data and the clock time', async () => {
    const clock = createMockClock({ now: Date.UTC(2026, 4, 1, 12, 0, 0) });
    const r = twoParty(clock);
    const payload = bytes('hello');
    r.append('ch', 'u', 1, 0, payload);
    await clock.advance(1500);
    r.append('ch', 'e', 1, 1, bytes('answer'));
    const [a, b] = r.readAfter('ch', 'u', 0, 0);
    expect(a).toEqual({ sequence: 1, inReplyTo: 0, timestampMs: Date.UTC(2026, 4, 1, 12, 0, 0), senderId: 'u', payload, type: 'data', error: '' });
    expect(a?.payload).toBe(payload); // not copied
    expect(b?.inReplyTo).toBe(1);
    expect(b?.timestampMs).toBe(Date.UTC(2026, 4, 1, 12, 0, 1, 500));
  });

  it('reads by log index: 0 is everything, 1 skips the first, limit caps the count', () => {
    const r = twoParty();
    r.append('ch', 'u', 1, 0, bytes('u1'));
    r.append('ch', 'u', 2, 0, bytes('u2'));
    r.append('ch', 'e', 1, 0, bytes('e1'));
    expect(order(r.readAfter('ch', 'u', 0, 0))).toEqual(['u:1', 'u:2', 'e:1']);
    expect(order(r.readAfter('ch', 'u', 1, 0))).toEqual(['u:2', 'e:1']);
    expect(order(r.readAfter('ch', 'e', 0, 2))).toEqual(['u:1', 'u:2']);
    expect(order(r.readAfter('ch', 'e', 2, 5))).toEqual(['e:1']);
  });

  it('edge indexes and limits: negative index reads from the start, past the end is [], negative limit is no limit', () => {
    const r = twoParty();
    for (let i = 1; i <= 3; i++) r.append('ch', 'u', i, 0, null);
    expect(r.readAfter('ch', 'u', -5, 0)).toHaveLength(3);
    expect(r.readAfter('ch', 'u', 3, 0)).toEqual([]);
    expect(r.readAfter('ch', 'u', 100, 10)).toEqual([]);
    expect(r.readAfter('ch', 'u', 0, -1)).toHaveLength(3);
    expect(r.readAfter('ch', 'u', 0, 1)).toHaveLength(1);
  });

  it('returns a fresh list of the log entries themselves', () => {
    const r = twoParty();
    r.append('ch', 'u', 1, 0, null);
    const list = r.readAfter('ch', 'u', 0, 0);
    list.pop();
    expect(r.getLogSize('ch')).toBe(1);
    expect(r.readAfter('ch', 'u', 0, 0)[0]).toBe(r.get('ch').log[0]);
  });

  it('keeps duplicates, gaps, zero and negative sequences, and unchecked inReplyTo', () => {
    const r = twoParty();
    r.append('ch', 'u', 5, 0, null);
    r.append('ch', 'u', 5, 0, null);
    r.append('ch', 'u', 9, 12345, null);
    r.append('ch', 'e', 0, -3, null);
    r.append('ch', 'e', 0, 0, null);
    expect(order(r.readAfter('ch', 'u', 0, 0))).toEqual(['u:5', 'u:5', 'u:9', 'e:0', 'e:0']);
    expect(r.readAfter('ch', 'u', 3, 1)[0]?.inReplyTo).toBe(-3);
  });

  it('an unknown channel gives CHANNEL_NOT_FOUND for append, appendWithType and readAfter', () => {
    const r = twoParty();
    expect(() => r.append('nope', 'u', 1, 0, null)).toThrow(expect.objectContaining({ code: ErrChannelNotFound.code }));
    expect(() => r.appendWithType('nope', 'u', 1, 0, null, 'end')).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
    expect(() => r.readAfter('nope', 'u', 0, 0)).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
  });
});

describe('authorisation', () => {
  it('submitter and executor may append and read; a stranger gets UNAUTHORIZED and the log is unchanged', () => {
    const warnings: RouterWarning[] = [];
    const r = createRouterWithoutRateLimit({ onWarning: (w) => warnings.push(w) });
    r.create(chan('ch', 'p', { submitterId: 'u', executorId: 'e' }));
    r.append('ch', 'u', 1, 0, null);
    r.append('ch', 'e', 1, 0, null);
    expect(() => r.append('ch', 'stranger', 1, 0, null)).toThrow(expect.objectContaining({ code: ErrUnauthorized.code, message: 'unauthorized access to channel' }));
    expect(() => r.readAfter('ch', 'stranger', 0, 0)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    expect(r.getLogSize('ch')).toBe(2);
    expect(warnings).toEqual([
      { kind: 'unauthorized', operation: 'append', channelId: 'ch', callerId: 'stranger' },
      { kind: 'unauthorized', operation: 'read', channelId: 'ch', callerId: 'stranger' },
    ]);
  });

  it('compares ids exactly and case-sensitively', () => {
    const r = twoParty();
    expect(() => r.append('ch', 'U', 1, 0, null)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    expect(() => r.append('ch', 'u ', 1, 0, null)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
  });

  it("refuses an empty caller id even while no executor is assigned (deliberate deviation)", () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch'));
    expect(() => r.append('ch', '', 1, 0, null)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    expect(() => r.readAfter('ch', '', 0, 0)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    expect(() => r.subscribe('ch', '')).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
  });
});

describe('appendWithType', () => {
  it('append stores data; appendWithType stores end, error, empty and made-up types as given', () => {
    const r = twoParty();
    r.append('ch', 'e', 1, 0, bytes('tok'));
    r.appendWithType('ch', 'e', 2, 0, bytes('boom'), MSG_TYPE_ERROR);
    r.appendWithType('ch', 'e', 3, 0, new Uint8Array(0), MSG_TYPE_END);
    r.appendWithType('ch', 'e', 4, 0, null, '');
    r.appendWithType('ch', 'e', 5, 0, null, 'weird');
    const log = r.readAfter('ch', 'u', 0, 0);
    expect(log.map((e) => e.type)).toEqual([MSG_TYPE_DATA, 'error', 'end', '', 'weird']);
    expect(text(log[1]?.payload ?? null)).toBe('boom');
  });

  it('the message type constants are data, end and error', () => {
    expect([MSG_TYPE_DATA, MSG_TYPE_END, MSG_TYPE_ERROR]).toEqual(['data', 'end', 'error']);
  });

  it('streams tokens that rebuild the text, all in reply to the prompt', () => {
    const r = twoParty();
    r.append('ch', 'u', 1, 0, bytes('Tell me a story'));
    for (const [i, t] of ['Once', ' upon', ' a', ' time'].entries()) r.append('ch', 'e', i + 1, 1, bytes(t));
    r.appendWithType('ch', 'e', 5, 1, null, MSG_TYPE_END);
    const fromExec = r.readAfter('ch', 'u', 0, 0).filter((e) => e.senderId === 'e');
    expect(fromExec.every((e) => e.inReplyTo === 1)).toBe(true);
    expect(fromExec.filter((e) => e.type === 'data').map((e) => text(e.payload)).join('')).toBe('Once upon a time');
    expect(fromExec.at(-1)?.type).toBe('end');
  });

  it('runs a question/answer exchange readable from each index', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch', 'p', { submitterId: 'u' }));
    r.setExecutorIdForProcess('p', 'e');
    r.append('ch', 'u', 1, 0, bytes('q1'));
    expect(order(r.readAfter('ch', 'e', 0, 0))).toEqual(['u:1']);
    r.append('ch', 'e', 1, 1, bytes('a1'));
    expect(order(r.readAfter('ch', 'u', 1, 0))).toEqual(['e:1']);
    r.append('ch', 'u', 2, 1, bytes('q2'));
    expect(order(r.readAfter('ch', 'e', 2, 0))).toEqual(['u:2']);
    r.append('ch', 'e', 2, 2, bytes('a2'));
    expect(order(r.readAfter('ch', 'u', 0, 0))).toEqual(['u:1', 'e:1', 'u:2', 'e:2']);
  });
});

describe('message size limit', () => {
  it('accepts exactly 10 MiB and reads it back whole', () => {
    const r = twoParty();
    r.append('ch', 'u', 1, 0, new Uint8Array(CHANNEL_MAX_MESSAGE_SIZE));
    expect(r.readAfter('ch', 'u', 0, 0)[0]?.payload?.byteLength).toBe(10 * 1024 * 1024);
  });

  it('refuses 10 MiB + 1 with MESSAGE_TOO_LARGE and leaves the log empty', () => {
    const r = twoParty();
    expect(() => r.append('ch', 'u', 1, 0, new Uint8Array(CHANNEL_MAX_MESSAGE_SIZE + 1))).toThrow(
      expect.objectContaining({ code: ErrMessageTooLarge.code, message: 'message payload exceeds maximum size' }),
    );
    expect(r.getLogSize('ch')).toBe(0);
  });

  it('accepts empty and null payloads', () => {
    const r = twoParty();
    r.append('ch', 'u', 1, 0, new Uint8Array(0));
    r.append('ch', 'u', 2, 0, null);
    const [a, b] = r.readAfter('ch', 'u', 0, 0);
    expect(a?.payload?.byteLength).toBe(0);
    expect(b?.payload).toBeNull();
  });

  it('counts bytes of a view, not of its underlying buffer', () => {
    const r = createRouterWithoutRateLimit({ maxMessageSize: 4 });
    r.create(chan('ch'));
    const big = new Uint8Array(100);
    r.append('ch', 'user-1', 1, 0, big.subarray(10, 14));
    expect(() => r.append('ch', 'user-1', 2, 0, big.subarray(0, 5))).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
  });
});

describe('log limit', () => {
  it('with max 5, the 6th append gives CHANNEL_FULL and the size stays 5 (no eviction)', () => {
    const r = twoParty();
    r.setMaxLogEntries(5);
    for (let i = 1; i <= 5; i++) r.append('ch', 'u', i, 0, null);
    expect(() => r.append('ch', 'u', 6, 0, null)).toThrow(expect.objectContaining({ code: ErrChannelFull.code, message: 'channel log is full' }));
    expect(r.getLogSize('ch')).toBe(5);
    expect(r.readAfter('ch', 'u', 0, 1)[0]?.sequence).toBe(1);
  });

  it('defaults to 10,000: the 10,000th append succeeds and the 10,001st fails', () => {
    const r = twoParty();
    for (let i = 1; i <= CHANNEL_MAX_LOG_ENTRIES; i++) r.append('ch', 'u', i, 0, null);
    expect(r.getLogSize('ch')).toBe(10_000);
    expect(() => r.append('ch', 'u', 10_001, 0, null)).toThrow(expect.objectContaining({ code: 'CHANNEL_FULL' }));
  });

  it('counts a pre-filled log and takes a new limit on the next append', () => {
    const r = createRouterWithoutRateLimit({ maxLogEntries: 2 });
    const pre = { sequence: 1, inReplyTo: 0, timestampMs: 0, senderId: 'user-1', payload: null, type: 'data', error: '' };
    r.create(chan('ch', 'proc-1', { log: [pre, { ...pre, sequence: 2 }] }));
    expect(() => r.append('ch', 'user-1', 3, 0, null)).toThrow(expect.objectContaining({ code: 'CHANNEL_FULL' }));
    r.setMaxLogEntries(3);
    r.append('ch', 'user-1', 3, 0, null);
    expect(r.getLogSize('ch')).toBe(3);
  });
});

describe('check order on append', () => {
  it('size is checked before the channel: oversize to an unknown channel is MESSAGE_TOO_LARGE', () => {
    const r = createRouterWithoutRateLimit({ maxMessageSize: 1 });
    expect(() => r.append('nope', 'x', 1, 0, bytes('ab'))).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
  });

  it('channel before caller, caller before rate limit, rate limit before full', () => {
    const r = createRouterForTesting({ rateLimitBurst: 2, maxLogEntries: 1 });
    r.create(chan('ch'));
    expect(() => r.append('nope', 'stranger', 1, 0, null)).toThrow(expect.objectContaining({ code: 'CHANNEL_NOT_FOUND' }));
    // Unauthorised and oversize appends spend no token.
    for (let i = 0; i < 5; i++) expect(() => r.append('ch', 'stranger', 1, 0, null)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    r.append('ch', 'user-1', 1, 0, null); // token 1
    // Full, but the token is spent first (as in the original).
    expect(() => r.append('ch', 'user-1', 2, 0, null)).toThrow(expect.objectContaining({ code: 'CHANNEL_FULL' })); // token 2
    expect(() => r.append('ch', 'user-1', 3, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
    expect(r.getLogSize('ch')).toBe(1);
  });
});

describe('bad input leaves the channel unchanged', () => {
  it('unknown channel, wrong caller, oversize payload: typed error, no entry, no delivery, no token', () => {
    const r = createRouterForTesting({ rateLimitBurst: 1, maxMessageSize: 8 });
    r.create(chan('ch', 'p', { submitterId: 'u', executorId: 'e' }));
    const sub = r.subscribe('ch', 'u');
    const before = JSON.stringify(r.get('ch'));
    const attempts: [() => void, string][] = [
      [() => r.append('nope', 'u', 1, 0, null), 'CHANNEL_NOT_FOUND'],
      [() => r.append('ch', 'mallory', 1, 0, null), 'UNAUTHORIZED'],
      [() => r.appendWithType('ch', 'mallory', 1, 0, null, 'end'), 'UNAUTHORIZED'],
      [() => r.append('ch', 'u', 1, 0, new Uint8Array(9)), 'MESSAGE_TOO_LARGE'],
      [() => r.readAfter('ch', 'mallory', 0, 0), 'UNAUTHORIZED'],
      [() => r.subscribe('ch', 'mallory'), 'UNAUTHORIZED'],
    ];
    for (const [attempt, code] of attempts) expect(attempt).toThrow(expect.objectContaining({ code }));
    expect(JSON.stringify(r.get('ch'))).toBe(before);
    expect(r.getLogSize('ch')).toBe(0);
    expect(sub.pending).toBe(0);
    expect(r.subscriberCount('ch')).toBe(1);
    // The single token was never spent by the refused appends.
    r.append('ch', 'u', 1, 0, null);
    expect(sub.pending).toBe(1);
  });
});

describe('rate limiting', () => {
  it('createRouter limits by default but accepts a burst of appends', () => {
    const r = createRouter({ clock: createMockClock() });
    r.create(chan('ch'));
    for (let i = 1; i <= 10; i++) r.append('ch', 'user-1', i, 0, null);
    expect(r.getLogSize('ch')).toBe(10);
  });

  it('for-testing router: exactly 500 appends, the 501st gives RATE_LIMIT_EXCEEDED, time never refills', async () => {
    const clock = createMockClock();
    const r = createRouterForTesting({ clock });
    r.create(chan('ch'));
    for (let i = 1; i <= 500; i++) r.append('ch', 'user-1', i, 0, null);
    expect(() => r.append('ch', 'user-1', 501, 0, null)).toThrow(expect.objectContaining({ code: ErrRateLimitExceeded.code, message: 'rate limit exceeded' }));
    await clock.advance(3_600_000);
    expect(() => r.append('ch', 'user-1', 501, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
    expect(r.getLogSize('ch')).toBe(500);
  });

  it('createRouter refills at 100/s on the injected clock', async () => {
    const clock = createMockClock();
    const r = createRouter({ clock });
    r.create(chan('ch'));
    for (let i = 1; i <= 500; i++) r.append('ch', 'user-1', i, 0, null);
    expect(() => r.append('ch', 'user-1', 501, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
    await clock.advance(5);
    expect(() => r.append('ch', 'user-1', 501, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
    await clock.advance(5); // 10 ms in all = one token
    r.append('ch', 'user-1', 501, 0, null);
    expect(() => r.append('ch', 'user-1', 502, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
    await clock.advance(1000);
    for (let i = 0; i < 100; i++) r.append('ch', 'user-1', 600 + i, 0, null);
    expect(() => r.append('ch', 'user-1', 700, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
  });

  it('the without-rate-limit router accepts 1000 appends', () => {
    const r = createRouterWithoutRateLimit();
    r.create(chan('ch'));
    for (let i = 1; i <= 1000; i++) r.append('ch', 'user-1', i, 0, null);
    expect(r.getLogSize('ch')).toBe(1000);
  });

  it('one bucket per process, shared by all its channels and both senders', () => {
    const r = createRouterForTesting();
    r.create(chan('c1', 'p1', { submitterId: 'u', executorId: 'e' }));
    r.create(chan('c2', 'p1', { submitterId: 'u', executorId: 'e' }));
    r.create(chan('c3', 'p2', { submitterId: 'u' }));
    for (let i = 0; i < 300; i++) r.append('c1', 'u', i, 0, null);
    for (let i = 0; i < 200; i++) r.append('c2', 'e', i, 0, null);
    expect(() => r.append('c2', 'u', 1000, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
    for (let i = 0; i < 500; i++) r.append('c3', 'u', i, 0, null);
    expect(r.getLogSize('c3')).toBe(500);
  });

  it('turning limiting off spends nothing; turning it back on resumes the old bucket', () => {
    const r = createRouterForTesting({ rateLimitBurst: 3 });
    r.create(chan('ch'));
    r.append('ch', 'user-1', 1, 0, null);
    r.setRateLimitEnabled(false);
    for (let i = 0; i < 50; i++) r.append('ch', 'user-1', 2 + i, 0, null);
    r.setRateLimitEnabled(true);
    r.append('ch', 'user-1', 100, 0, null);
    r.append('ch', 'user-1', 101, 0, null);
    expect(() => r.append('ch', 'user-1', 102, 0, null)).toThrow(expect.objectContaining({ code: 'RATE_LIMIT_EXCEEDED' }));
  });

  it('reads never spend tokens', () => {
    const r = createRouterForTesting({ rateLimitBurst: 1 });
    r.create(chan('ch'));
    for (let i = 0; i < 20; i++) r.readAfter('ch', 'user-1', 0, 0);
    r.append('ch', 'user-1', 1, 0, null);
    expect(r.getLogSize('ch')).toBe(1);
  });
});

describe('ordering of client sequences', () => {
  it('keeps arrival order when every sender counts up', () => {
    const r = twoParty();
    r.append('ch', 'u', 1, 0, null);
    r.append('ch', 'u', 2, 0, null);
    r.append('ch', 'e', 2, 0, null);
    r.append('ch', 'e', 1, 0, null);
    expect(order(r.readAfter('ch', 'u', 0, 0))).toEqual(['u:1', 'u:2', 'e:1', 'e:2']);
  });

  it('sorts a same-sender run: 3,1,2 reads back as 1,2,3', () => {
    const r = twoParty();
    for (const s of [3, 1, 2]) r.append('ch', 'u', s, 0, null);
    expect(order(r.readAfter('ch', 'u', 0, 0))).toEqual(['u:1', 'u:2', 'u:3']);
  });

  it('stops at another sender: u1, e2, u2, e1 leaves e1 after e2', () => {
    const r = twoParty();
    r.append('ch', 'u', 1, 0, null);
    r.append('ch', 'e', 2, 0, null);
    r.append('ch', 'u', 2, 0, null);
    r.append('ch', 'e', 1, 0, null);
    expect(order(r.readAfter('ch', 'u', 0, 0))).toEqual(['u:1', 'e:2', 'u:2', 'e:1']);
  });

  it('equal sequences keep arrival order', () => {
    const r = twoParty();
    r.append('ch', 'u', 2, 0, bytes('first'));
    r.append('ch', 'u', 3, 0, null);
    r.append('ch', 'u', 2, 0, bytes('second'));
    expect(r.readAfter('ch', 'u', 0, 0).map((e) => `${e.sequence}${text(e.payload)}`)).toEqual(['2first', '2second', '3']);
  });
});
