// Socket caps on a real replica (issue 21 item 4): real ws sockets on port 0, real PostgreSQL. Per-user stream
// and watch caps and the global cap refuse with 429 before any upgrade and count the refusal by reason; a closed
// socket frees its slot; failed upgrades leak none; the relay header counts only with a verified credential.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { RELAY_SOURCE_HEADER } from '@chatd/protocol';
import type { VerifyReplicaCredential } from '../src/server/replica-credential.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import type { SubscribeFn } from '../src/subscribe-fn.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const STREAMS = 3;
const WATCHES = 2;
const TOTAL = 6;
const RELAY_LEGS = 2;
const GOOD_CREDENTIAL = 'good-secret';

let replica: RunningChatd;
let alice: { token: string; userId: string };
let bob: { token: string; userId: string };
let aliceChat: string;
let bobChat: string;
/** `x-test-tag` of every subscription the (fake) enterprise hook was asked to relay: those not served as relay legs. */
const offeredToHook = new Set<string>();
/** What the fake credential port was asked, and whether it should fail. */
let verifierCalls = 0;
let verifierDown = false;

const verify: VerifyReplicaCredential = async (headers) => {
  verifierCalls++;
  if (verifierDown) throw new Error('database unreachable');
  return headers.get('x-test-credential') === GOOD_CREDENTIAL ? { replicaId: headers.get(RELAY_SOURCE_HEADER) ?? '' } : undefined;
};
const hook: SubscribeFn = async (params) => {
  offeredToHook.add(params.requestHeader.get('x-test-tag') ?? '');
  return (async function* () {
    await new Promise((resolve) => params.signal.addEventListener('abort', resolve, { once: true }));
  })();
};

beforeAll(async () => {
  replica = await startTestReplica(db.url, {
    config: {
      databaseUrl: db.url,
      acquireIntervalMs: 50,
      maxStreamSocketsPerUser: STREAMS,
      maxWatchSocketsPerUser: WATCHES,
      maxConnections: TOTAL,
      maxRelayLegsPerPeer: RELAY_LEGS,
    },
    subscribeFn: () => hook,
    verifyReplicaCredential: () => verify,
  });
  alice = await userToken(replica, 'alice');
  bob = await userToken(replica, 'bob');
  aliceChat = (await apiClient(replica.url, alice.token)('POST', '', { content: [{ type: 'text', text: 'hello' }] })).body.id as string;
  bobChat = (await apiClient(replica.url, bob.token)('POST', '', { content: [{ type: 'text', text: 'hello' }] })).body.id as string;
});
afterAll(async () => {
  await replica?.close();
});

const open: WebSocket[] = [];
afterEach(async () => {
  for (const ws of open.splice(0)) ws.terminate();
  verifierDown = false;
  await waitFor(() => replica.server.caps.counts().total === 0, { what: 'every slot released' });
});

type Upgrade = { ws: WebSocket; firstFrame: Promise<void> } | { status: number; body: { message: string; detail?: string } };

/** Opens a socket; resolves with it once open, or with the refusal's status and body. */
function connect(path: string, token: string, headers: Record<string, string> = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}/api/experimental/chats${path}`, {
      headers: { 'coder-session-token': token, ...headers },
      perMessageDeflate: false,
    });
    ws.on('error', () => undefined);
    // The subscriber asks the hook before it sends the snapshot: after the first frame, that decision is made.
    const firstFrame = new Promise<void>((done) => ws.once('message', () => done()));
    ws.once('open', () => {
      open.push(ws);
      resolve({ ws, firstFrame });
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      res.on('error', reject);
    });
  });
}
const stream = (chatId: string, token: string, headers?: Record<string, string>, query = '') => connect(`/${chatId}/stream${query}`, token, headers);
const watch = (token: string) => connect('/watch', token);

async function opened(p: Promise<Upgrade>): Promise<WebSocket> {
  return (await openedWithFrame(p)).ws;
}
async function openedWithFrame(p: Promise<Upgrade>): Promise<{ ws: WebSocket; firstFrame: Promise<void> }> {
  const r = await p;
  if (!('ws' in r)) throw new Error(`expected an open socket, got ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}
async function refused(p: Promise<Upgrade>): Promise<{ status: number; body: { message: string; detail?: string } }> {
  const r = await p;
  if ('ws' in r) throw new Error('expected a refusal, the socket opened');
  return r;
}
const refusedBy = (reason: string) => replica.server.metrics.get('chatd_ws_refused_total', { reason });
const heldStreams = (userId: string) => replica.server.caps.held({ kind: 'stream', userId });

describe('per-user socket caps', () => {
  it('refuses the stream socket past the cap with 429 before the upgrade; closing one frees a slot', async () => {
    const before = refusedBy('user_streams');
    const sockets = [];
    for (let i = 0; i < STREAMS; i++) sockets.push(await opened(stream(aliceChat, alice.token)));
    expect(heldStreams(alice.userId)).toBe(STREAMS);

    const over = await refused(stream(aliceChat, alice.token));
    expect(over.status).toBe(429);
    expect(over.body.message).toBe('Too many connections.');
    expect(over.body.detail).toMatch(/stream sockets of this user/);
    expect(refusedBy('user_streams')).toBe(before + 1);
    expect(heldStreams(alice.userId)).toBe(STREAMS);

    // Another user is not affected by alice's cap.
    await opened(stream(bobChat, bob.token));

    sockets[0]!.close();
    await waitFor(() => heldStreams(alice.userId) === STREAMS - 1, { what: 'the closed socket frees its slot' });
    await opened(stream(aliceChat, alice.token));
    expect(refusedBy('user_streams')).toBe(before + 1);
    expect(await replica.server.metrics.render()).toMatch(/chatd_ws_refused_total\{reason="user_streams"\} \d+/);
  });

  it('refuses the watch socket past the cap with 429; closing one frees a slot', async () => {
    const before = refusedBy('user_watches');
    const sockets = [];
    for (let i = 0; i < WATCHES; i++) sockets.push(await opened(watch(alice.token)));
    const over = await refused(watch(alice.token));
    expect(over.status).toBe(429);
    expect(over.body.detail).toMatch(/watch sockets of this user/);
    expect(refusedBy('user_watches')).toBe(before + 1);
    // Watch and stream sockets have their own caps.
    await opened(stream(aliceChat, alice.token));

    sockets[1]!.close();
    await waitFor(() => replica.server.caps.held({ kind: 'watch', userId: alice.userId }) === WATCHES - 1, { what: 'the closed watch frees its slot' });
    await opened(watch(alice.token));
  });

  it('refuses any socket past the global cap, for a user under their own caps', async () => {
    const before = refusedBy('global');
    for (let i = 0; i < STREAMS; i++) await opened(stream(aliceChat, alice.token));
    for (let i = 0; i < WATCHES; i++) await opened(watch(alice.token));
    await opened(stream(bobChat, bob.token));
    expect(replica.server.caps.counts().total).toBe(TOTAL);
    const over = await refused(stream(bobChat, bob.token));
    expect(over.status).toBe(429);
    expect(refusedBy('global')).toBe(before + 1);
    expect((await refused(watch(bob.token))).status).toBe(429);
    expect(refusedBy('global')).toBe(before + 2);
  });

  it('leaks no slot when the upgrade fails after the slot was taken (404, 400, a handshake ws refuses)', async () => {
    const notFound = await refused(stream(bobChat, alice.token));
    expect(notFound.status).toBe(404);
    const unknown = await refused(stream('00000000-0000-4000-8000-000000000000', alice.token));
    expect(unknown.status).toBe(404);
    const badCursor = await refused(stream(aliceChat, alice.token, {}, '?after_seq=1'));
    expect(badCursor.status).toBe(400);
    const badId = await refused(stream('not-a-chat-id-but-thirty-six-chars!!', alice.token));
    expect(badId.status).toBe(400);
    // More failures than the cap: each must have given its slot back.
    for (let i = 0; i < STREAMS; i++) expect((await refused(stream(aliceChat, alice.token, {}, '?after_id=x'))).status).toBe(400);

    // An upgrade request `ws` itself refuses (no Sec-WebSocket-Key): it answers 400 and never calls back.
    for (let i = 0; i < STREAMS + 1; i++) {
      const answer = await rawUpgrade(`/api/experimental/chats/${aliceChat}/stream`, alice.token);
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
    }
    await waitFor(() => replica.server.caps.counts().total === 0, { what: 'no slot held after failed upgrades' });
    for (let i = 0; i < STREAMS; i++) await opened(stream(aliceChat, alice.token));
  });
});

describe('a client that leaves while its stream is set up (issue 36)', () => {
  it('the subscription, begun before the upgrade, ends: no subscription, slot or LISTEN is left', async () => {
    // Hold the setup read (the subscriber's store is the replica's chat store) until the client has gone.
    const chats = replica.chatd.chats;
    const setup = chats.subscriptionSetup;
    let entered!: () => void;
    const inSetup = new Promise<void>((resolve) => (entered = resolve));
    let leave!: () => void;
    const left = new Promise<void>((resolve) => (leave = resolve));
    chats.subscriptionSetup = async (q) => {
      entered();
      await left;
      return setup(q);
    };
    try {
      const socket = net.connect(replica.port, '127.0.0.1');
      socket.on('error', () => undefined);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write(
        `GET /api/experimental/chats/${aliceChat}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\ncoder-session-token: ${alice.token}\r\n\r\n`,
      );
      await inSetup;
      expect(replica.subscriber.metrics().active).toBe(1);
      socket.destroy();
      await closed;
      leave();
      await waitFor(() => replica.subscriber.metrics().active === 0, { what: 'the subscription ended' });
      await waitFor(() => replica.server.caps.counts().total === 0, { what: 'no slot held' });
    } finally {
      leave();
      chats.subscriptionSetup = setup;
    }
  });
});

/** Sends an upgrade request without a WebSocket key over a raw socket and returns what the server answers. */
function rawUpgrade(path: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(replica.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\ncoder-session-token: ${token}\r\n\r\n`);
  });
}

describe('relay legs and the replica credential', () => {
  it('counts a stream with a verified credential as a relay leg of its peer, not against the user', async () => {
    const relayHeaders = { [RELAY_SOURCE_HEADER]: 'peer-1', 'x-test-credential': GOOD_CREDENTIAL, 'x-test-tag': 'verified-leg' };
    const before = refusedBy('peer_relay_legs');
    const legs = [];
    for (let i = 0; i < RELAY_LEGS; i++) legs.push(await openedWithFrame(stream(aliceChat, alice.token, relayHeaders)));
    expect(replica.server.metrics.get('chatd_ws_relay_legs')).toBe(RELAY_LEGS);
    expect(replica.server.caps.held({ kind: 'relay', peerId: 'peer-1' })).toBe(RELAY_LEGS);
    expect(heldStreams(alice.userId)).toBe(0);
    // Relay legs are served from local state: the hook is never asked to relay them again. The hook comes after a
    // (paced) snapshot, so a user socket opened after the legs is the witness: once it was offered, the legs'
    // snapshots, which started before it, were done too.
    for (const leg of legs) await leg.firstFrame;
    const witness = await openedWithFrame(stream(aliceChat, alice.token, { 'x-test-tag': 'witness' }));
    await witness.firstFrame;
    await waitFor(() => offeredToHook.has('witness'), { what: 'the witness socket offered to the relay hook' });
    expect(offeredToHook.has('verified-leg')).toBe(false);
    witness.ws.close();
    await waitFor(() => heldStreams(alice.userId) === 0, { what: 'the witness socket released' });

    const over = await refused(stream(aliceChat, alice.token, relayHeaders));
    expect(over.status).toBe(429);
    expect(over.body.detail).toMatch(/relay legs/);
    expect(refusedBy('peer_relay_legs')).toBe(before + 1);
    // Another peer has its own cap; the user's own sockets have theirs.
    await opened(stream(aliceChat, alice.token, { ...relayHeaders, [RELAY_SOURCE_HEADER]: 'peer-2' }));
    await opened(stream(aliceChat, alice.token));
    expect(heldStreams(alice.userId)).toBe(1);

    for (const ws of open.splice(0)) ws.close();
    await waitFor(() => replica.server.metrics.get('chatd_ws_relay_legs') === 0, { what: 'the relay-leg gauge back at 0' });
  });

  it('treats the relay header with a wrong or no credential as the user socket, relayed like any other', async () => {
    const asked = verifierCalls;
    const wrong = await openedWithFrame(stream(aliceChat, alice.token, { [RELAY_SOURCE_HEADER]: 'peer-1', 'x-test-credential': 'wrong', 'x-test-tag': 'wrong-credential' }));
    const none = await openedWithFrame(stream(aliceChat, alice.token, { [RELAY_SOURCE_HEADER]: 'peer-1', 'x-test-tag': 'no-credential' }));
    expect(verifierCalls).toBe(asked + 2);
    expect(heldStreams(alice.userId)).toBe(2);
    expect(replica.server.metrics.get('chatd_ws_relay_legs')).toBe(0);
    // The header was dropped: the subscriber hands both to the hook, as it does for a user's socket (after its
    // snapshot, which is paced page by page, so after the first frame: wait for it).
    await Promise.all([wrong.firstFrame, none.firstFrame]);
    await waitFor(() => offeredToHook.has('wrong-credential') && offeredToHook.has('no-credential'), { what: 'both sockets offered to the relay hook' });

    await opened(stream(aliceChat, alice.token));
    const over = await refused(stream(aliceChat, alice.token, { [RELAY_SOURCE_HEADER]: 'peer-1', 'x-test-credential': 'wrong' }));
    expect(over.status).toBe(429);
    expect(over.body.detail).toMatch(/stream sockets of this user/);
  });

  it('answers 503 and holds no slot when the credential cannot be checked', async () => {
    verifierDown = true;
    const r = await refused(stream(aliceChat, alice.token, { [RELAY_SOURCE_HEADER]: 'peer-1', 'x-test-credential': GOOD_CREDENTIAL }));
    expect(r.status).toBe(503);
    expect(replica.server.caps.counts().total).toBe(0);
  });
});
