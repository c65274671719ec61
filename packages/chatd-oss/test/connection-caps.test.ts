// The socket caps' counting (per user and kind, per peer, in all) and their configuration knobs.
import { describe, expect, it } from 'vitest';
import { ChatdError } from '../src/chatd-error.js';
import { loadConfig } from '../src/config.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_RELAY_LEGS_PER_PEER,
  DEFAULT_MAX_STREAM_SOCKETS_PER_USER,
  DEFAULT_MAX_WATCH_SOCKETS_PER_USER,
  createConnectionCaps,
  type ConnectionCaps,
  type ConnectionOwner,
} from '../src/server/connection-caps.js';
import { errorResponse } from '../src/server/error-response.js';

function take(caps: ConnectionCaps, owner: ConnectionOwner) {
  const r = caps.acquire(owner);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.slot;
}
const refusal = (caps: ConnectionCaps, owner: ConnectionOwner) => {
  const r = caps.acquire(owner);
  return r.ok ? 'ok' : r.reason;
};

describe('createConnectionCaps', () => {
  it('caps each user per kind and each peer, and names the full cap', () => {
    const caps = createConnectionCaps({ streamsPerUser: 2, watchesPerUser: 1, relayLegsPerPeer: 1, maxConnections: 100 });
    const u1s = { kind: 'stream', userId: 'u1' } as const;
    take(caps, u1s);
    take(caps, u1s);
    expect(refusal(caps, u1s)).toBe('user_streams');
    expect(refusal(caps, { kind: 'stream', userId: 'u2' })).toBe('ok');
    take(caps, { kind: 'watch', userId: 'u1' });
    expect(refusal(caps, { kind: 'watch', userId: 'u1' })).toBe('user_watches');
    take(caps, { kind: 'relay', peerId: 'p1' });
    expect(refusal(caps, { kind: 'relay', peerId: 'p1' })).toBe('peer_relay_legs');
    expect(caps.counts()).toEqual({ total: 5, streams: 3, watches: 1, relayLegs: 1 });
  });

  it('refuses past the global cap with "global", the owner cap winning when both are full', () => {
    const caps = createConnectionCaps({ streamsPerUser: 2, maxConnections: 2 });
    take(caps, { kind: 'stream', userId: 'u1' });
    take(caps, { kind: 'stream', userId: 'u1' });
    expect(refusal(caps, { kind: 'stream', userId: 'u1' })).toBe('user_streams');
    expect(refusal(caps, { kind: 'watch', userId: 'u1' })).toBe('global');
    expect(refusal(caps, { kind: 'relay', peerId: 'p' })).toBe('global');
    expect(caps.counts().total).toBe(2);
  });

  it('frees a slot once however often it is released, and forgets idle owners', () => {
    const caps = createConnectionCaps({ streamsPerUser: 1 });
    const slot = take(caps, { kind: 'stream', userId: 'u1' });
    slot.release();
    slot.release();
    expect(caps.counts()).toEqual({ total: 0, streams: 0, watches: 0, relayLegs: 0 });
    expect(caps.held({ kind: 'stream', userId: 'u1' })).toBe(0);
    take(caps, { kind: 'stream', userId: 'u1' });
    expect(refusal(caps, { kind: 'stream', userId: 'u1' })).toBe('user_streams');
  });

  it('has the documented defaults and refuses a cap that is no positive integer', () => {
    expect([DEFAULT_MAX_STREAM_SOCKETS_PER_USER, DEFAULT_MAX_WATCH_SOCKETS_PER_USER, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RELAY_LEGS_PER_PEER]).toEqual([
      64, 64, 10_000, 4_096,
    ]);
    const caps = createConnectionCaps();
    for (let i = 0; i < 64; i++) take(caps, { kind: 'stream', userId: 'u' });
    expect(refusal(caps, { kind: 'stream', userId: 'u' })).toBe('user_streams');
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => createConnectionCaps({ streamsPerUser: bad })).toThrow(ChatdError);
    }
  });

  it('maps TOO_MANY_CONNECTIONS to 429 with message and detail', () => {
    const r = errorResponse(new ChatdError('TOO_MANY_CONNECTIONS', 'Too many connections.', { detail: 'close one' }));
    expect(r).toEqual({ status: 429, body: { message: 'Too many connections.', detail: 'close one' }, internal: false, headers: {} });
  });
});

describe('socket cap knobs', () => {
  const URL_ = 'postgres://u@h/db';
  it('default to the named constants and read CHATD_MAX_* from the environment', () => {
    expect(loadConfig({ DATABASE_URL: URL_ })).toMatchObject({ maxStreamSocketsPerUser: 64, maxWatchSocketsPerUser: 64, maxConnections: 10_000, maxRelayLegsPerPeer: 4_096 });
    const c = loadConfig({
      DATABASE_URL: URL_,
      CHATD_MAX_STREAM_SOCKETS_PER_USER: '5',
      CHATD_MAX_WATCH_SOCKETS_PER_USER: '6',
      CHATD_MAX_CONNECTIONS: '7',
      CHATD_MAX_RELAY_LEGS_PER_PEER: '8',
    });
    expect(c).toMatchObject({ maxStreamSocketsPerUser: 5, maxWatchSocketsPerUser: 6, maxConnections: 7, maxRelayLegsPerPeer: 8 });
  });

  it('refuse a bad value with a CONFIG error naming the variable', () => {
    for (const name of ['CHATD_MAX_STREAM_SOCKETS_PER_USER', 'CHATD_MAX_WATCH_SOCKETS_PER_USER', 'CHATD_MAX_CONNECTIONS', 'CHATD_MAX_RELAY_LEGS_PER_PEER']) {
      for (const bad of ['0', '-3', 'lots', '1.5']) {
        let err: unknown;
        try {
          loadConfig({ DATABASE_URL: URL_, [name]: bad });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ChatdError);
        expect((err as ChatdError).code).toBe('CONFIG');
        expect((err as ChatdError).message).toContain(name);
      }
    }
  });
});
