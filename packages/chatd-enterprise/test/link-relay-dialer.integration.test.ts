// The link relay dialer against a real ws server on port 0 playing the generating replica (issue 36): dials to one
// peer share one link that presents the replica credential, each gets its own sid's events (their JSON kept), a
// dial whose reader falls behind is ended alone (unsub) while the others go on, cancel unsubscribes, an idle link
// closes on the mock clock, a dropped link ends every dial, and a refused link is a typed RelayDialError.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createMockClock } from '@chatd/clock';
import { decodeReplicaLinkControl, encodeReplicaLinkEnd, encodeReplicaLinkEvents, encodeReplicaLinkFrame, hasEventJson, type ChatStreamEvent, type ReplicaLinkControl } from '@chatd/protocol';
import { waitFor } from '@chatd/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createLinkRelayDialer } from '../src/link-relay-dialer.js';
import { RelayDialError } from '../src/relay-dial-error.js';
import { REPLICA_CREDENTIAL_HEADER } from '../src/replica-credential.js';

const CHAT_A = '7d3c2a10-0000-4000-8000-00000000000a';
const CHAT_B = '7d3c2a10-0000-4000-8000-00000000000b';
const part = (chat: string, seq: number) => ({ type: 'message_part', chat_id: chat, message_part: { role: 'assistant', part: { type: 'text', text: `t${seq}` }, seq, run_id: 'r1' } });
const eventsRecord = (sid: number, chat: string, seqs: number[]) => encodeReplicaLinkEvents(sid, JSON.stringify(seqs.map((s) => part(chat, s))));

type Peer = { port: number; sockets: WebSocket[]; controls: ReplicaLinkControl[]; credentials: (string | undefined)[]; close(): Promise<void> };
const peers: Peer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.close();
});

/** A peer that accepts links with credential `good` and answers each sub with the chat's first parts. */
async function startPeer(): Promise<Peer> {
  const wss = new WebSocketServer({
    port: 0,
    verifyClient: (info, cb) => (info.req.headers[REPLICA_CREDENTIAL_HEADER.toLowerCase()] === 'good' ? cb(true) : cb(false, 401)),
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const peer: Peer = {
    port: (wss.address() as AddressInfo).port,
    sockets: [],
    controls: [],
    credentials: [],
    close: () => new Promise<void>((resolve) => {
      for (const s of wss.clients) s.terminate();
      wss.close(() => resolve());
    }),
  };
  wss.on('connection', (ws, req) => {
    peer.sockets.push(ws);
    peer.credentials.push(req.headers[REPLICA_CREDENTIAL_HEADER.toLowerCase()] as string | undefined);
    ws.on('message', (data) => {
      const c = decodeReplicaLinkControl(String(data))!;
      peer.controls.push(c);
      if (c.op === 'sub') ws.send(encodeReplicaLinkFrame([eventsRecord(c.sid, c.chat_id, [1, 2])]));
    });
  });
  peers.push(peer);
  return peer;
}

function dialerFor(peer: Peer, credential = 'good') {
  const clock = createMockClock();
  const dialer = createLinkRelayDialer({
    resolveReplicaAddress: async () => `http://127.0.0.1:${peer.port}`,
    replicaId: () => 'replica-b',
    replicaCredential: () => credential,
    clock,
    maxBufferedEvents: 5,
    idleCloseMs: 1_000,
  });
  const dial = (chatId: string) => dialer({ chatId, workerId: 'replica-a', requestHeader: new Headers(), cursor: undefined, signal: new AbortController().signal });
  return { clock, dialer, dial };
}

const seqs = (events: ChatStreamEvent[]) => events.map((e) => (e.type === 'message_part' ? e.message_part.seq : -1));

async function drain(parts: AsyncIterable<ChatStreamEvent>): Promise<ChatStreamEvent[]> {
  const got: ChatStreamEvent[] = [];
  for await (const e of parts) got.push(e);
  return got;
}

describe('createLinkRelayDialer', () => {
  it('shares one credentialed link between dials, ends a slow dial alone, unsubscribes on cancel and closes the idle link', async () => {
    const peer = await startPeer();
    const { clock, dialer, dial } = dialerFor(peer);
    const [a, b] = await Promise.all([dial(CHAT_A), dial(CHAT_B)]);
    expect(peer.sockets).toHaveLength(1);
    expect(peer.credentials).toEqual(['good']);
    expect(dialer.links()).toBe(1);
    expect(peer.controls).toEqual([
      { op: 'sub', sid: 1, chat_id: CHAT_A },
      { op: 'sub', sid: 2, chat_id: CHAT_B },
    ]);
    expect(seqs(a.snapshot)).toEqual([1, 2]);
    expect(seqs(b.snapshot)).toEqual([1, 2]);
    expect(a.snapshot.every((e) => hasEventJson(e))).toBe(true);

    // A is not read: more than 5 unread events end it (unsub), B goes on over the same link.
    const link = peer.sockets[0]!;
    link.send(encodeReplicaLinkFrame([eventsRecord(1, CHAT_A, [3, 4, 5, 6, 7, 8]), eventsRecord(2, CHAT_B, [3])]));
    await waitFor(() => peer.controls.some((c) => c.op === 'unsub' && c.sid === 1), { what: 'unsub of the slow dial', timeoutMs: 5_000 });
    expect(seqs(await drain(a.parts))).toEqual([3, 4, 5, 6, 7, 8]);
    const bIter = b.parts[Symbol.asyncIterator]();
    expect(seqs([(await bIter.next()).value as ChatStreamEvent])).toEqual([3]);
    link.send(encodeReplicaLinkFrame([eventsRecord(2, CHAT_B, [4])]));
    expect(seqs([(await bIter.next()).value as ChatStreamEvent])).toEqual([4]);

    b.cancel();
    await waitFor(() => peer.controls.some((c) => c.op === 'unsub' && c.sid === 2), { what: 'unsub on cancel', timeoutMs: 5_000 });
    expect(dialer.links()).toBe(1);
    await clock.advance(1_000);
    expect(dialer.links()).toBe(0);
    await waitFor(() => link.readyState === link.CLOSED, { what: 'the idle link closed', timeoutMs: 5_000 });
  });

  it('ends a dial on its end record, and every dial when the link drops', async () => {
    const peer = await startPeer();
    const { dialer, dial } = dialerFor(peer);
    const [a, b, c] = await Promise.all([dial(CHAT_A), dial(CHAT_B), dial(CHAT_A)]);
    peer.sockets[0]!.send(encodeReplicaLinkFrame([encodeReplicaLinkEnd(1, 'too_slow'), eventsRecord(2, CHAT_B, [3])]));
    expect(await drain(a.parts)).toEqual([]);
    const bIter = b.parts[Symbol.asyncIterator]();
    expect(seqs([(await bIter.next()).value as ChatStreamEvent])).toEqual([3]);
    peer.sockets[0]!.terminate();
    expect((await bIter.next()).done).toBe(true);
    expect(await drain(c.parts)).toEqual([]);
    expect(dialer.links()).toBe(0);
  });

  it('sends the sub and unsub frames of one turn in one write on the link (a storm: one syscall, not one per chat)', async () => {
    const peer = await startPeer();
    // Every write the link's TCP socket hands down (what libuv turns into a syscall), counted from the client side.
    const counted = { writes: 0 };
    class CountingAgent extends http.Agent {
      override createConnection(options: http.ClientRequestArgs): Duplex {
        const socket = net.createConnection(options as net.NetConnectOpts) as net.Socket & { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown };
        const write = socket._write.bind(socket);
        const writev = socket._writev.bind(socket);
        socket._write = (...a: unknown[]) => (counted.writes++, write(...a));
        socket._writev = (...a: unknown[]) => (counted.writes++, writev(...a));
        return socket;
      }
    }
    const dialer = createLinkRelayDialer({
      resolveReplicaAddress: async () => `http://127.0.0.1:${peer.port}`,
      replicaId: () => 'replica-b',
      replicaCredential: () => 'good',
      clock: createMockClock(),
      wsClientOptions: { agent: new CountingAgent() },
    });
    const dial = (chatId: string) => dialer({ chatId, workerId: 'replica-a', requestHeader: new Headers(), cursor: undefined, signal: new AbortController().signal });
    // A link already open (its upgrade request is a write of its own), then 50 dials in one turn.
    (await dial(CHAT_A)).cancel();
    await waitFor(() => peer.controls.length === 2, { what: 'the first sub and unsub', timeoutMs: 5_000 });
    const before = counted.writes;
    const chats = Array.from({ length: 50 }, (_, i) => `7d3c2a10-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const conns = await Promise.all(chats.map((c) => dial(c)));
    expect(peer.controls.filter((c) => c.op === 'sub')).toHaveLength(51);
    expect(counted.writes - before).toBe(1);
    for (const c of conns) c.cancel();
    await waitFor(() => peer.controls.filter((c) => c.op === 'unsub').length === 51, { what: 'every unsub', timeoutMs: 5_000 });
    expect(counted.writes - before).toBe(2);
  });

  it('rejects with the typed 401 when the peer refuses the link', async () => {
    const peer = await startPeer();
    const { dial } = dialerFor(peer, 'wrong');
    const err = await dial(CHAT_A).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayDialError);
    expect((err as RelayDialError).httpStatus).toBe(401);
    expect((err as RelayDialError).isUnrecoverable()).toBe(true);
  });
});
