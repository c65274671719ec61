// Shared relays over real sockets (@chatd/testkit ws server on port 0): two subscriptions of one chat with one
// session token ride one upstream WebSocket, reconnect onto one new socket after the peer drops, and release
// it when both end. Time is the mock clock; waits are on events, never sleeps.
import { createMockClock, type MockClock } from '@chatd/clock';
import type { SubscribeFn } from '@chatd/oss';
import { startWsServer, type TestWsServer } from '@chatd/testkit';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { createMultiReplicaSubscribeFn } from '../src/index.js';
import { CHAT_ID, LOCAL, createReader, labels, part, runningOnWorkerA } from './relay-harness.js';

let server: TestWsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Resolves once the server has seen every client go (the relay released its socket). */
async function waitForNoClients(s: TestWsServer): Promise<void> {
  while (s.wss.clients.size > 0) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function subscribeOnce(subscribe: SubscribeFn, clock: MockClock, signal: AbortSignal) {
  return createReader(await subscribe(runningOnWorkerA('shared-token', clock, signal)));
}

describe('shared relays over real sockets', () => {
  it('two subscribers share one upstream socket, reconnect onto one new socket, and release it when both end', async () => {
    const urls: string[] = [];
    const sockets: WebSocket[] = [];
    server = await startWsServer((socket: WebSocket, request: IncomingMessage) => {
      urls.push(request.url ?? '');
      sockets.push(socket);
      // The peer sends every buffered part of the run in flight to a dial without a cursor.
      socket.send(JSON.stringify(urls.length === 1 ? [part('r1', 1), part('r1', 2)] : [part('r1', 1), part('r1', 2), part('r1', 3)]));
    });
    const s = server;
    const clock = createMockClock();
    const subscribe = createMultiReplicaSubscribeFn({ resolveReplicaAddress: () => Promise.resolve(`http://127.0.0.1:${s.port}`), replicaId: () => LOCAL, relayMode: 'per-subscriber', clock });
    const c1 = new AbortController();
    const c2 = new AbortController();
    const [r1, r2] = await Promise.all([subscribeOnce(subscribe, clock, c1.signal), subscribeOnce(subscribe, clock, c2.signal)]);
    await Promise.all([r1.until(2), r2.until(2)]);
    expect(urls).toHaveLength(1);
    expect(urls[0]).not.toContain('after_seq');
    expect(s.wss.clients.size).toBe(1);

    // The peer drops the shared socket: both sessions reconnect (500 ms) onto one new socket, each from its cursor.
    const reconnects = clock.trap({ tag: 'relay-reconnect' });
    sockets[0]!.close();
    expect((await reconnects.wait()).delayMs).toBe(500);
    expect((await reconnects.wait()).delayMs).toBe(500);
    reconnects.close();
    await clock.advance(500);
    await Promise.all([r1.until(3), r2.until(3)]);
    sockets[1]!.send(JSON.stringify([part('r1', 4)]));
    await Promise.all([r1.until(4), r2.until(4)]);
    expect(labels(r1.events)).toEqual(['r1#1', 'r1#2', 'r1#3', 'r1#4']);
    expect(labels(r2.events)).toEqual(['r1#1', 'r1#2', 'r1#3', 'r1#4']);
    expect(urls).toHaveLength(2);
    expect(s.wss.clients.size).toBe(1);

    // One subscriber leaves: the socket stays for the other; the last one leaving closes it.
    c1.abort();
    await r1.finished;
    sockets[1]!.send(JSON.stringify([part('r1', 5)]));
    await r2.until(5);
    expect(labels(r2.events).at(-1)).toBe('r1#5');
    expect(s.wss.clients.size).toBe(1);
    c2.abort();
    await r2.finished;
    await waitForNoClients(s);
    expect(clock.pendingTimers()).toEqual([]);
  });
});
