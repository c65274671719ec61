// Unit tests of the relay's small pieces (the session token picker is @chatd/protocol's, tested there): the stream URL, frame decoding,
// the give-up events and the event queue.
import { eventJson, type ChatStreamEvent } from '@chatd/protocol';
import { describe, expect, it, vi } from 'vitest';
import { createEventQueue } from '../src/event-queue.js';
import {
  RelayDialError,
  decodeRelayFrame,
  isRelayGiveUpEvent,
  relayGiveUpEvent,
  relayStreamUrl,
} from '../src/index.js';
import { CHAT_ID, part } from './relay-harness.js';

describe('relayStreamUrl', () => {
  it('maps http to ws and https to wss, keeping a base path', () => {
    expect(relayStreamUrl('http://10.0.0.2:3000', { chatId: CHAT_ID, cursor: undefined }).href).toBe(
      `ws://10.0.0.2:3000/api/experimental/chats/${CHAT_ID}/stream?after_id=9223372036854775807`,
    );
    expect(relayStreamUrl('https://replica.internal/base/', { chatId: 'c', cursor: { runId: 'r 1', afterSeq: 4 } }).href).toBe(
      'wss://replica.internal/base/api/experimental/chats/c/stream?after_id=9223372036854775807&after_seq=4&run_id=r+1',
    );
  });

  it('rejects other schemes and malformed addresses with RelayDialError 0', () => {
    for (const address of ['ftp://x', 'not a url']) {
      let err: unknown;
      try {
        relayStreamUrl(address, { chatId: 'c', cursor: undefined });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RelayDialError);
      expect((err as RelayDialError).httpStatus).toBe(0);
    }
  });
});

describe('decodeRelayFrame', () => {
  it('keeps well-formed message_parts from bare arrays and data envelopes only', () => {
    const good = part('r1', 1);
    expect(decodeRelayFrame(JSON.stringify([good, { type: 'status', chat_id: CHAT_ID, status: { status: 'running' } }]))).toEqual([good]);
    expect(decodeRelayFrame(JSON.stringify({ type: 'data', data: [good] }))).toEqual([good]);
    expect(decodeRelayFrame(JSON.stringify({ type: 'ping' }))).toEqual([]);
    expect(decodeRelayFrame('{')).toEqual([]);
    const badSeq = { ...good, message_part: { ...(good as { message_part: object }).message_part, seq: '1' } };
    expect(decodeRelayFrame(JSON.stringify([badSeq, { type: 'message_part', chat_id: CHAT_ID }]))).toEqual([]);
  });
});

describe('decodeRelayFrame: the parts carry their JSON', () => {
  it('a one-event frame hands on its own text; a frame of several events hands on each event\'s text; both are the JSON of the event', () => {
    const a = part('run-1', 1, 'he said "hi" \\ \u2028 ✓');
    const b = part('run-1', 2, 'b');
    const oneText = `[${JSON.stringify(a)}]`;
    const [one] = decodeRelayFrame(oneText);
    expect(one).toEqual(a);
    expect(eventJson(one!)).toBe(oneText.slice(1, -1));
    const several = decodeRelayFrame(JSON.stringify([a, { type: 'status', chat_id: CHAT_ID, status: { status: 'running' } }, b]));
    expect(several).toEqual([a, b]);
    for (const e of [...several, one!]) expect(JSON.parse(eventJson(e))).toEqual(e);
    const [enveloped] = decodeRelayFrame(JSON.stringify({ type: 'data', data: [b] }));
    expect(eventJson(enveloped!)).toBe(JSON.stringify(b));
  });

  it('a multi-event frame is forwarded with each event\'s original JSON: nothing is encoded again', () => {
    const events = [part('run-1', 1, 'a "q" \\'), part('run-1', 2, 'b'), part('run-1', 3, 'c')];
    const texts = events.map((e) => JSON.stringify(e));
    const frame = `[${texts.join(',')}]`;
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const parts = decodeRelayFrame(frame);
      expect(parts.map((p) => eventJson(p))).toEqual(texts);
      // The same text, not an equal re-encoding: each is a slice of the frame.
      expect(parts.map((p) => frame.includes(eventJson(p)))).toEqual([true, true, true]);
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
  });
});

describe('relayGiveUpEvent', () => {
  it('builds the three give-up errors with stable messages', () => {
    const auth = relayGiveUpEvent(CHAT_ID, { kind: 'auth', httpStatus: 403 });
    expect(auth).toEqual({
      type: 'error',
      chat_id: CHAT_ID,
      error: { message: 'relay authentication failed (status 403)', kind: 'relay', retryable: false, status_code: 403 },
    });
    // The cause is for the log: the event that reaches clients carries no detail.
    const conn = relayGiveUpEvent(CHAT_ID, { kind: 'connection', cause: new Error('connect ECONNREFUSED 10.0.0.7:7401') });
    expect(conn.type === 'error' && conn.error).toEqual({ message: 'relay connection failed after 6 attempts', kind: 'relay', retryable: false });
    const db = relayGiveUpEvent(CHAT_ID, { kind: 'reconnect' });
    expect(db.type === 'error' && db.error.message).toBe('relay reconnect failed after 6 attempts');
    expect([auth, conn, db].every(isRelayGiveUpEvent)).toBe(true);
    expect(isRelayGiveUpEvent(part('r', 1))).toBe(false);
  });
});

describe('createEventQueue', () => {
  it('delivers in order, waits for room at the high-water mark, and close() lets buffered values drain', async () => {
    const q = createEventQueue<ChatStreamEvent>({ highWaterMark: 2 });
    q.push(part('r', 1));
    q.push(part('r', 2));
    let roomy = false;
    const room = q.room().then(() => {
      roomy = true;
    });
    await Promise.resolve();
    expect(roomy).toBe(false);
    const it = q[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual(part('r', 1));
    await room;
    expect(roomy).toBe(true);
    q.close();
    q.push(part('r', 3)); // dropped after close
    expect((await it.next()).value).toEqual(part('r', 2));
    expect((await it.next()).done).toBe(true);
  });

  it('end() discards buffered values, wakes a waiting reader, and return() reports the consumer leaving once', async () => {
    let returned = 0;
    const q = createEventQueue<number>({ highWaterMark: 8, onReturn: () => (returned += 1) });
    const it = q[Symbol.asyncIterator]();
    const waiting = it.next();
    q.end();
    expect((await waiting).done).toBe(true);

    const q2 = createEventQueue<number>({ highWaterMark: 8, onReturn: () => (returned += 1) });
    q2.push(1);
    const it2 = q2[Symbol.asyncIterator]();
    await it2.return?.();
    await it2.return?.();
    expect(returned).toBe(1);
    expect((await it2.next()).done).toBe(true);
    expect(q2.ended).toBe(true);
  });
});
