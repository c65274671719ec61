// JSON wire form: the original's field names, omitempty rules, base64 payloads, RFC 3339 timestamps,
// and round trips across a process boundary (JSON.stringify / JSON.parse).
import { createMockClock } from '@chatd/clock';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MsgEntry } from '../src/index.js';
import {
  channelFromJSON,
  channelToJSON,
  createRouterWithoutRateLimit,
  formatTimestamp,
  msgEntryFromJSON,
  msgEntryToJSON,
  ZERO_TIMESTAMP_MS,
} from '../src/index.js';
import { bytes, chan } from './helpers.js';

const entry = (over: Partial<MsgEntry> = {}): MsgEntry => ({
  sequence: 1,
  inReplyTo: 0,
  timestampMs: Date.UTC(2026, 0, 2, 3, 4, 5, 120),
  senderId: 'exec-1',
  payload: bytes('hi'),
  type: 'data',
  error: '',
  ...over,
});

describe('msgEntryToJSON', () => {
  it('uses the wire names, base64 payload and an RFC 3339 UTC timestamp', () => {
    expect(msgEntryToJSON(entry({ inReplyTo: 7 }))).toEqual({
      sequence: 1,
      inreplyto: 7,
      timestamp: '2026-01-02T03:04:05.12Z',
      senderid: 'exec-1',
      payload: 'aGk=',
      type: 'data',
    });
  });

  it('leaves out inreplyto, type and error when empty; null payload stays null, empty is ""', () => {
    const json = msgEntryToJSON(entry({ payload: null, type: '' }));
    expect(Object.keys(json)).toEqual(['sequence', 'timestamp', 'senderid', 'payload']);
    expect(json.payload).toBeNull();
    expect(msgEntryToJSON(entry({ payload: new Uint8Array(0) })).payload).toBe('');
  });

  it('encodes the terminal entry like Go: zero time, no payload, only the error', () => {
    const terminal = entry({ sequence: 0, senderId: '', payload: null, type: '', timestampMs: ZERO_TIMESTAMP_MS, error: 'subscriber disconnected: buffer full' });
    expect(JSON.stringify(msgEntryToJSON(terminal))).toBe(
      '{"sequence":0,"timestamp":"0001-01-01T00:00:00Z","senderid":"","payload":null,"error":"subscriber disconnected: buffer full"}',
    );
  });

  it('encodes only the bytes of a view', () => {
    const buf = bytes('xxhixx');
    expect(msgEntryToJSON(entry({ payload: buf.subarray(2, 4) })).payload).toBe('aGk=');
  });
});

describe('formatTimestamp', () => {
  it('trims the fraction like RFC3339Nano', () => {
    expect(formatTimestamp(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00Z');
    expect(formatTimestamp(Date.UTC(2026, 0, 1, 0, 0, 0, 100))).toBe('2026-01-01T00:00:00.1Z');
    expect(formatTimestamp(Date.UTC(2026, 0, 1, 0, 0, 0, 7))).toBe('2026-01-01T00:00:00.007Z');
  });
});

describe('msgEntryFromJSON', () => {
  it('parses what Go sends, truncating nanoseconds to milliseconds and honouring offsets', () => {
    const e = msgEntryFromJSON({
      sequence: 3,
      inreplyto: 1,
      timestamp: '2026-01-02T04:04:05.123456789+01:00',
      senderid: 'u',
      payload: 'aGk=',
      type: 'end',
    });
    expect(e).toEqual({ sequence: 3, inReplyTo: 1, timestampMs: Date.UTC(2026, 0, 2, 3, 4, 5, 123), senderId: 'u', payload: bytes('hi'), type: 'end', error: '' });
  });

  it('fills missing fields with Go zero values', () => {
    expect(msgEntryFromJSON({})).toEqual({ sequence: 0, inReplyTo: 0, timestampMs: ZERO_TIMESTAMP_MS, senderId: '', payload: null, type: '', error: '' });
  });

  it('rejects wrong types, bad base64 and bad timestamps with INVALID_JSON', () => {
    for (const bad of [
      null,
      'x',
      { sequence: '1' },
      { sequence: 1.5 },
      { payload: 'not base64!' },
      { payload: [1, 2] },
      { timestamp: 'yesterday' },
      { senderid: 5 },
    ]) {
      expect(() => msgEntryFromJSON(bad)).toThrow(expect.objectContaining({ code: 'INVALID_JSON' }));
    }
  });

  it('round-trips any entry through JSON text unchanged', () => {
    fc.assert(
      fc.property(
        fc.record({
          sequence: fc.integer({ min: -1e12, max: 1e12 }),
          inReplyTo: fc.integer({ min: -1e6, max: 1e6 }),
          timestampMs: fc.integer({ min: ZERO_TIMESTAMP_MS, max: Date.UTC(9999, 11, 31) }),
          senderId: fc.string(),
          payload: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
          type: fc.string(),
          error: fc.string(),
        }),
        (e) => {
          const back = msgEntryFromJSON(JSON.parse(JSON.stringify(msgEntryToJSON(e))));
          expect(back).toEqual(e);
        },
      ),
    );
  });
});

describe('channel JSON', () => {
  it('uses the wire names and round-trips a live channel with its log', async () => {
    const clock = createMockClock();
    const r = createRouterWithoutRateLimit({ clock });
    r.create(chan('p_chat', 'p', { name: 'chat', submitterId: 'u', executorId: 'e' }));
    r.append('p_chat', 'u', 1, 0, bytes('prompt'));
    await clock.advance(250);
    r.appendWithType('p_chat', 'e', 1, 1, null, 'end');
    const json = channelToJSON(r.get('p_chat'));
    expect(Object.keys(json)).toEqual(['id', 'processid', 'name', 'submitterid', 'executorid', 'sequence', 'log']);
    expect(json.log?.[1]).toEqual({ sequence: 1, inreplyto: 1, timestamp: '2026-01-01T00:00:00.25Z', senderid: 'e', payload: null, type: 'end' });
    expect(channelFromJSON(JSON.parse(JSON.stringify(json)))).toEqual(r.get('p_chat'));
  });

  it('a null or missing log becomes []', () => {
    expect(channelFromJSON({ id: 'a', processid: 'p', name: 'n', submitterid: 'u', executorid: '', sequence: 0, log: null }).log).toEqual([]);
    expect(channelFromJSON({ id: 'a' }).log).toEqual([]);
  });

  it('rejects a bad channel with INVALID_JSON', () => {
    expect(() => channelFromJSON({ id: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_JSON' }));
    expect(() => channelFromJSON({ id: 'a', log: [{ payload: 3 }] })).toThrow(expect.objectContaining({ code: 'INVALID_JSON' }));
  });
});
