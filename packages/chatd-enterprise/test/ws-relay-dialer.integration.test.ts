// The real WebSocket relay dialer against a real `ws` server on port 0 (@chatd/testkit): handshake statuses
// become RelayDialError, the URL and headers follow contract.md#relay-dial, and only message_parts come through.
import { createMockClock, type MockClock } from '@chatd/clock';
import { REPLICA_LINK_PATH, type ChatStreamEvent } from '@chatd/protocol';
import { startWsServer, type TestWsServer } from '@chatd/testkit';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { RelayDialError, createMultiReplicaSubscribeFn, createWsRelayDialer, type RelayConnection, type RelayDialParams } from '../src/index.js';
import { CHAT_ID, LOCAL, WORKER_A, createNotifications, createReader, createScriptedStore, makeChat, part, runningOnWorkerA, silentLogger } from './relay-harness.js';

let server: TestWsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function httpAddress(s: TestWsServer): string {
  return `http://127.0.0.1:${s.port}`;
}

/** Makes the test server refuse every upgrade with `status`. */
function refuseWith(s: TestWsServer, status: number) {
  s.wss.options.verifyClient = (_info: unknown, done: (ok: boolean, code?: number) => void) => done(false, status);
}

function dialParams(overrides: Partial<RelayDialParams> = {}): RelayDialParams {
  return {
    chatId: CHAT_ID,
    workerId: WORKER_A,
    requestHeader: new Headers({ cookie: 'other=1; coder_session_token=cookie-token', 'Coder-Session-Token': 'header-token' }),
    cursor: undefined,
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function dialError(p: Promise<unknown>): Promise<RelayDialError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RelayDialError);
  return err as RelayDialError;
}

/** Dials the test server on the mock clock and lets the first-event wait run out: the live connection. */
async function dialPastFirstEvent(s: TestWsServer, clock: MockClock): Promise<RelayConnection> {
  const dial = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, clock });
  const pending = dial(dialParams());
  await clock.advance((await clock.waitForTimer({ tag: 'relay-first-event' })).delayMs);
  return pending;
}

describe('createWsRelayDialer', () => {
  it('turns a 401 handshake into RelayDialError 401, which is unrecoverable', async () => {
    server = await startWsServer();
    refuseWith(server, 401);
    const s = server;
    const dial = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, clock: createMockClock() });
    const err = await dialError(dial(dialParams()));
    expect(err.httpStatus).toBe(401);
    expect(err.isUnrecoverable()).toBe(true);
  });

  it('turns a 503 handshake into a recoverable RelayDialError 503', async () => {
    server = await startWsServer();
    refuseWith(server, 503);
    const s = server;
    const dial = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, clock: createMockClock() });
    const err = await dialError(dial(dialParams()));
    expect(err.httpStatus).toBe(503);
    expect(err.isUnrecoverable()).toBe(false);
  });

  it('fails with status 0 when the replica is unknown or refuses the connection', async () => {
    const unknown = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(undefined), replicaId: () => LOCAL, clock: createMockClock() });
    const notFound = await dialError(unknown(dialParams()));
    expect(notFound.httpStatus).toBe(0);
    expect(notFound.message).toBe('worker replica not found');

    const closed = await startWsServer();
    const address = httpAddress(closed);
    await closed.close();
    const refused = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(address), replicaId: () => LOCAL, clock: createMockClock() });
    expect((await dialError(refused(dialParams()))).httpStatus).toBe(0);
  });

  it('dials the stream URL with the cursor, the session token and the relay source header', async () => {
    const seen: { url?: string; token?: string | undefined; source?: string | undefined; cookie?: string | undefined } = {};
    server = await startWsServer((socket: WebSocket, request: IncomingMessage) => {
      seen.url = request.url;
      seen.token = request.headers['coder-session-token'] as string | undefined;
      seen.source = request.headers['x-coder-relay-source-replica'] as string | undefined;
      seen.cookie = request.headers.cookie;
      socket.send(JSON.stringify([{ type: 'status', chat_id: CHAT_ID, status: { status: 'running' } }, part('r1', 3), part('r1', 4)]));
    });
    const s = server;
    const dial = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, clock: createMockClock() });
    const conn = await dial(dialParams({ cursor: { runId: 'r1', afterSeq: 2 } }));
    expect(seen.url).toBe(`/api/experimental/chats/${CHAT_ID}/stream?after_id=9223372036854775807&after_seq=2&run_id=r1`);
    expect(seen.token).toBe('cookie-token');
    expect(seen.source).toBe(LOCAL);
    expect(seen.cookie).toBeUndefined();
    expect(conn.snapshot).toEqual([part('r1', 3), part('r1', 4)]);

    // Live frames: B's envelope and bare arrays are both accepted; then the peer closes.
    for (const client of s.wss.clients) {
      client.send(JSON.stringify({ type: 'data', data: [part('r1', 5)] }));
      client.send('not json');
      client.send(JSON.stringify([part('r1', 6)]));
      client.close();
    }
    const live: ChatStreamEvent[] = [];
    for await (const e of conn.parts) live.push(e);
    expect(live).toEqual([part('r1', 5), part('r1', 6)]);
    conn.cancel();
  });

  it('waits up to 1 s (on its clock) for the first events, then returns an empty snapshot', async () => {
    server = await startWsServer();
    const s = server;
    const clock = createMockClock();
    const dial = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, clock });
    const pending = dial(dialParams());
    const timer = await clock.waitForTimer({ tag: 'relay-first-event' });
    expect(timer.delayMs).toBe(1000);
    await clock.advance(1000);
    const conn = await pending;
    expect(conn.snapshot).toEqual([]);
    conn.cancel();
    for await (const e of conn.parts) expect.unreachable(`no part expected, got ${e.type}`);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('drops a relay whose peer stays silent for 45 s (no frames, no pings)', async () => {
    server = await startWsServer();
    const s = server;
    const clock = createMockClock();
    const conn = await dialPastFirstEvent(s, clock);
    const silence = await clock.waitForTimer({ tag: 'relay-peer-silence' });
    expect(silence.delayMs).toBe(45_000);
    await clock.advance(45_000);
    for await (const e of conn.parts) expect.unreachable(`no part expected, got ${e.type}`);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('keeps a relay whose peer spoke within the last 45 s, and drops it 45 s after the last frame', async () => {
    let peer: WebSocket | undefined;
    server = await startWsServer((socket) => (peer = socket));
    const s = server;
    const clock = createMockClock();
    const conn = await dialPastFirstEvent(s, clock);
    await clock.waitForTimer({ tag: 'relay-peer-silence' });
    const reader = conn.parts[Symbol.asyncIterator]();
    await clock.advance(30_000);
    peer!.send(JSON.stringify([part('run-1', 1)]));
    expect((await reader.next()).value).toEqual(part('run-1', 1));
    // Armed at the handshake (t = 0), the frame came at t = 31 s (after the 1 s first-event wait): at t = 45 s
    // the peer spoke 14 s ago, so the timer re-arms for the remaining 31 s.
    await clock.advance(14_000);
    const rearmed = await clock.waitForTimer({ tag: 'relay-peer-silence' });
    expect(rearmed.delayMs).toBe(31_000);
    await clock.advance(31_000);
    expect((await reader.next()).done).toBe(true);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('rejects with status 0 when cancelled while waiting for the first events', async () => {
    server = await startWsServer();
    const s = server;
    const clock = createMockClock();
    const controller = new AbortController();
    const dial = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, clock });
    const pending = dial(dialParams({ signal: controller.signal }));
    await clock.waitForTimer({ tag: 'relay-first-event' });
    controller.abort();
    expect((await dialError(pending)).httpStatus).toBe(0);
    expect(clock.pendingTimers()).toEqual([]);
  });
});

describe('createMultiReplicaSubscribeFn with the real dialer', () => {
  // per-subscriber: the leg's upgrade carries the user's token; link: the replica link that carries no token is
  // refused (the peer no longer verifies this replica's credential): either is final, never re-dialled.
  it.each([
    ['per-subscriber', `/api/experimental/chats/${CHAT_ID}/stream`],
    ['link', REPLICA_LINK_PATH],
  ] as const)('%s: a peer answering 401 ends the relay with one terminal error and no retry', async (relayMode, path) => {
    server = await startWsServer();
    const upgrades: string[] = [];
    server.wss.options.verifyClient = (info: { req: IncomingMessage }, done: (ok: boolean, code?: number) => void) => {
      upgrades.push(new URL(info.req.url ?? '/', 'http://x').pathname);
      done(false, 401);
    };
    const s = server;
    const clock = createMockClock();
    const controller = new AbortController();
    const subscribe = createMultiReplicaSubscribeFn({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, relayMode, clock });
    const iterable = await subscribe({
      chatId: CHAT_ID,
      chat: makeChat('running', WORKER_A),
      workerId: WORKER_A,
      statusNotifications: createNotifications().iterable,
      requestHeader: new Headers({ authorization: 'Bearer dead-token' }),
      store: createScriptedStore().store,
      logger: silentLogger,
      clock,
      signal: controller.signal,
    });
    const reader = createReader(iterable);
    await reader.until(1);
    const [event] = reader.events;
    expect(event?.type === 'error' && event.error.message).toBe('relay authentication failed (status 401)');
    expect(clock.pendingTimers()).toEqual([]);
    controller.abort();
    await reader.finished;
    expect(reader.events).toHaveLength(1);
    expect(upgrades).toEqual([path]);
  });

  it('a peer that refuses connections gives up with a fixed text: the dial error and its address stay in the log', async () => {
    // A port that was just listening and is closed now: every dial is a real ECONNREFUSED naming it.
    const gone = await startWsServer();
    const address = httpAddress(gone);
    await gone.close();
    const clock = createMockClock();
    const controller = new AbortController();
    const warnings: { obj: object; msg?: string }[] = [];
    const logger = { ...silentLogger, warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }) };
    const subscribe = createMultiReplicaSubscribeFn({ resolveReplicaAddress: () => Promise.resolve(address), replicaId: () => LOCAL, relayMode: 'per-subscriber', clock });
    const reader = createReader(await subscribe({ ...runningOnWorkerA('live-token', clock, controller.signal), logger }));
    for (let i = 0; i < 6; i++) await clock.advance((await clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs);
    await reader.until(1);
    const [event] = reader.events;
    expect(event).toEqual({ type: 'error', chat_id: CHAT_ID, error: { message: 'relay connection failed after 6 attempts', kind: 'relay', retryable: false } });
    const port = new URL(address).port;
    expect(JSON.stringify(event)).not.toMatch(new RegExp(`ECONNREFUSED|127\\.0\\.0\\.1|${port}`));
    // The operator still learns why: the give-up is logged with its cause.
    const gaveUp = warnings.find((w) => w.msg === 'relay connection failed after 6 attempts');
    expect(JSON.stringify(gaveUp?.obj)).toMatch(/ECONNREFUSED/);
    controller.abort();
    await reader.finished;
  });
});

describe('relay over real sockets', () => {
  it('relays parts, reconnects after the peer drops with the last delivered cursor, and releases the socket on cancel', async () => {
    const urls: string[] = [];
    server = await startWsServer((socket: WebSocket, request: IncomingMessage) => {
      urls.push(request.url ?? '');
      if (urls.length === 1) {
        socket.send(JSON.stringify([part('r1', 1), part('r1', 2)]));
        socket.close();
      } else {
        socket.send(JSON.stringify([part('r1', 2), part('r1', 3)]));
      }
    });
    const s = server;
    const clock = createMockClock();
    const controller = new AbortController();
    // Unshared: this relay dials with the subscriber's own cursor (shared relays dial without one).
    const subscribe = createMultiReplicaSubscribeFn({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, relayMode: 'per-subscriber', clock, shareRelays: false });
    const reader = createReader(await subscribe(runningOnWorkerA('live-token', clock, controller.signal)));
    await reader.until(2);
    const timer = await clock.waitForTimer({ tag: 'relay-reconnect' });
    expect(timer.delayMs).toBe(500);
    await clock.advance(500);
    await reader.until(3);
    expect(reader.events).toEqual([part('r1', 1), part('r1', 2), part('r1', 3)]);
    expect(urls[1]).toContain('after_seq=2&run_id=r1');
    expect(s.wss.clients.size).toBe(1);

    controller.abort();
    await reader.finished;
    await waitForNoClients(s);
    expect(clock.pendingTimers()).toEqual([]);
  });
});

describe('relay leg closed for a revoked token (issue 22 item 1)', () => {
  it("the peer's 1008 'token revoked' ends every view of the shared relay with the auth give-up, and nothing re-dials", async () => {
    const peers: WebSocket[] = [];
    server = await startWsServer((socket: WebSocket) => {
      peers.push(socket);
      socket.send(JSON.stringify([part('r1', 1), part('r1', 2)]));
    });
    const s = server;
    const clock = createMockClock();
    const controller = new AbortController();
    // Shared (the default): two subscribers with the same token ride one upstream leg.
    const subscribe = createMultiReplicaSubscribeFn({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, relayMode: 'per-subscriber', clock });
    const first = createReader(await subscribe(runningOnWorkerA('doomed-token', clock, controller.signal)));
    const second = createReader(await subscribe(runningOnWorkerA('doomed-token', clock, controller.signal)));
    await first.until(2);
    await second.until(2);
    expect(peers).toHaveLength(1);
    peers[0]!.close(1008, 'token revoked');
    await first.until(3);
    await second.until(3);
    for (const reader of [first, second]) {
      const last = reader.events.at(-1);
      expect(last?.type === 'error' && last.error.message).toBe('relay authentication failed (status 401)');
    }
    // No reconnect: the leg's worker is refused for these subscriptions, and no timer is armed.
    expect(clock.pendingTimers()).toEqual([]);
    expect(peers).toHaveLength(1);
    controller.abort();
    await first.finished;
    await second.finished;
  });

  it('another 1008 (a slow leg cut) is an ordinary drop: the session re-dials', async () => {
    const peers: WebSocket[] = [];
    server = await startWsServer((socket: WebSocket) => {
      peers.push(socket);
      socket.send(JSON.stringify([part('r1', peers.length)]));
    });
    const s = server;
    const clock = createMockClock();
    const controller = new AbortController();
    const subscribe = createMultiReplicaSubscribeFn({ resolveReplicaAddress: () => Promise.resolve(httpAddress(s)), replicaId: () => LOCAL, relayMode: 'per-subscriber', clock, shareRelays: false });
    const reader = createReader(await subscribe(runningOnWorkerA('live-token', clock, controller.signal)));
    await reader.until(1);
    peers[0]!.close(1008, 'too_slow');
    await clock.advance((await clock.waitForTimer({ tag: 'relay-reconnect' })).delayMs);
    await reader.until(2);
    expect(peers).toHaveLength(2);
    controller.abort();
    await reader.finished;
  });
});

/** Resolves once the server has seen every client go (the relay released its socket). */
async function waitForNoClients(s: TestWsServer): Promise<void> {
  while (s.wss.clients.size > 0) await new Promise<void>((resolve) => setImmediate(resolve));
}
