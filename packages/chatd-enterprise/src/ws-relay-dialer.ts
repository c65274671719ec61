// The production relay dialer (contract.md#relay-dial, ENT-3): resolves the peer replica, opens its chat stream over
// WebSocket with `after_id=MaxInt64` (no history) and the subscriber's part cursor, forwards the session token,
// the relay source header and this replica's credential (so the peer counts it as a relay leg), waits up to 1 s for the first events, then streams `message_part`s only.
// It never retries: a failed handshake is a RelayDialError for the session's reconnect loop to classify.
import type { Agent } from 'node:http';
import type { Clock, Timer } from '@chatd/clock';
import { createRealClock } from '@chatd/clock';
import { RELAY_SUBSCRIBER_HEADER, TOKEN_REVOKED_CLOSE_CODE, TOKEN_REVOKED_CLOSE_REASON, TRACEPARENT_HEADER, activeTraceparent } from '@chatd/oss';
import { INT64_MAX, SESSION_TOKEN_HEADER, decodeStreamFrame, extractSessionToken, fetchHeaderGetter, hasEventJson, setStreamQuery, withEventJson, type ChatStreamEvent } from '@chatd/protocol';
import WebSocket from 'ws';
import { createEventQueue } from './event-queue.js';
import { RelayDialError } from './relay-dial-error.js';
import type { RelayConnection, RelayDialer, RelayDialParams } from './relay-dialer.js';
import { REPLICA_CREDENTIAL_HEADER } from './replica-credential.js';
import { RelaySourceHeader } from './relay-source-header.js';

/** `after_id` of a relay dial, as text: `INT64_MAX` of @chatd/protocol, so the peer sends no message history. */
export const RELAY_AFTER_ID = INT64_MAX.toString();
/** How long a new relay waits for its first events before handing back an empty snapshot. @default 1000 */
export const RELAY_FIRST_EVENT_TIMEOUT_MS = 1_000;
/** Most events a relay snapshot holds; later ones arrive on the live stream. @default 100 */
export const RELAY_SNAPSHOT_MAX_EVENTS = 100;
/** Read limit of one WebSocket message from the peer. @default 4 MiB */
export const RELAY_READ_LIMIT_BYTES = 4 * 1024 * 1024;
/** Handshake timeout of a relay dial. @default 10000 */
export const RELAY_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Live events buffered before the dialer stops reading from the peer. @default 128 */
export const RELAY_LIVE_BUFFER_SIZE = 128;
/** Clock tag of the first-event wait. */
export const RELAY_FIRST_EVENT_TIMER_TAG = 'relay-first-event';
/** Silence from the peer (no frame, no ping) after which the relay is dropped: three missed 15 s pings. @default 45000 */
export const RELAY_PEER_SILENCE_TIMEOUT_MS = 45_000;
/** Clock tag of the peer-silence timer. */
export const RELAY_PEER_SILENCE_TIMER_TAG = 'relay-peer-silence';

/** Client options of the replica mesh connection. */
export type RelayWsClientOptions = {
  /** HTTP(S) agent of the replica mesh (TLS material, keep-alive, proxies). */
  agent?: Agent;
  /** @default RELAY_HANDSHAKE_TIMEOUT_MS */
  handshakeTimeoutMs?: number;
  /** Trust roots for `https` peers. */
  ca?: string | Buffer | (string | Buffer)[];
  /** @default true */
  rejectUnauthorized?: boolean;
};

/** Options for `createWsRelayDialer`. */
export type WsRelayDialerOptions = {
  /** The relay address (`http(s)://host:port[/base]`) of a replica, or undefined when it is unknown. */
  resolveReplicaAddress: (signal: AbortSignal, replicaId: string) => Promise<string | undefined>;
  /** This replica's id, read at each dial. */
  replicaId: () => string;
  /**
   * This replica's credential (the registry's `credential()`), read at each dial. Without it the peer serves the
   * leg as an ordinary socket of the subscriber's user, under that user's socket caps.
   */
  replicaCredential?: () => string | undefined;
  /** @default createRealClock() */
  clock?: Clock;
  wsClientOptions?: RelayWsClientOptions;
};

/** The WebSocket URL of `path` on a peer, from its relay address (`http(s)://host:port[/base]`); no query. */
export function peerWsUrl(address: string, path: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch (err) {
    throw new RelayDialError(0, `invalid replica address ${JSON.stringify(address)}`, { cause: err });
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else throw new RelayDialError(0, `unsupported replica address scheme ${JSON.stringify(url.protocol)}`);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = '';
  return url;
}

/**
 * The relay address of the replica running the dial's chat, as a `RelayDialError` on failure (cancelled before or
 * after the lookup, the lookup failed, the replica is unknown): the first step of every dialer.
 */
export async function resolvePeerAddress(
  resolve: (signal: AbortSignal, replicaId: string) => Promise<string | undefined>,
  params: Pick<RelayDialParams, 'signal' | 'workerId'>,
): Promise<string> {
  const { signal } = params;
  if (signal.aborted) throw new RelayDialError(0, 'relay dial cancelled');
  let address: string | undefined;
  try {
    address = await resolve(signal, params.workerId);
  } catch (err) {
    throw new RelayDialError(0, `resolve replica address: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (address === undefined) throw new RelayDialError(0, 'worker replica not found');
  if (signal.aborted) throw new RelayDialError(0, 'relay dial cancelled');
  return address;
}

/** Builds the peer's stream URL for a relay dial. */
export function relayStreamUrl(address: string, params: Pick<RelayDialParams, 'chatId' | 'cursor'>): URL {
  const url = peerWsUrl(address, `/api/experimental/chats/${encodeURIComponent(params.chatId)}/stream`);
  setStreamQuery(url.searchParams, { afterId: INT64_MAX, ...params.cursor });
  return url;
}

/**
 * Decodes one frame (a bare event array, or B's `{type:"data",data:[...]}` envelope) into its well-formed
 * `message_part`s (`decodeStreamFrame` of @chatd/protocol). Each carries its JSON (`eventJson`, recorded by the
 * decoder) so subscribers send it on without encoding it again: its own text from the generating replica's frame
 * (bare arrays, which is what replicas send), otherwise (an envelope) encoded once for every subscriber that receives it.
 */
export function decodeRelayFrame(data: string): ChatStreamEvent[] {
  const frame = decodeStreamFrame(data, { envelope: true, eventJson: true });
  if (!frame) return [];
  const parts: ChatStreamEvent[] = [];
  for (const e of frame.events) {
    if (e.type !== 'message_part') continue;
    // The decoder checked the type and the cursor fields; the rest is the generating replica's shape.
    const event = e as unknown as ChatStreamEvent;
    parts.push(hasEventJson(event) ? event : withEventJson(event, JSON.stringify(event)));
  }
  return parts;
}

/** Creates the WebSocket relay dialer. */
export function createWsRelayDialer(options: WsRelayDialerOptions): RelayDialer {
  const clock = options.clock ?? createRealClock();
  const client = options.wsClientOptions ?? {};

  return async (params) => {
    const { signal } = params;
    const address = await resolvePeerAddress(options.resolveReplicaAddress, params);
    const url = relayStreamUrl(address, params);

    const headers: Record<string, string> = { [RelaySourceHeader]: options.replicaId() };
    const credential = options.replicaCredential?.();
    if (credential) headers[REPLICA_CREDENTIAL_HEADER] = credential;
    const token = extractSessionToken(fetchHeaderGetter(params.requestHeader));
    if (token) headers[SESSION_TOKEN_HEADER] = token;
    // A ticketed socket has no token to forward: a leg that presents the credential names its subscriber instead,
    // and the generating replica checks that user against the chat (contract.md#replica-credential).
    else if (credential) {
      const subscriber = params.requestHeader.get(RELAY_SUBSCRIBER_HEADER);
      if (subscriber) headers[RELAY_SUBSCRIBER_HEADER] = subscriber;
    }
    // The dial's span (relay-span.ts): the serving replica's stream span becomes its child.
    const traceparent = activeTraceparent();
    if (traceparent) headers[TRACEPARENT_HEADER] = traceparent;

    const socket = new WebSocket(url, {
      headers,
      perMessageDeflate: false,
      maxPayload: RELAY_READ_LIMIT_BYTES,
      handshakeTimeout: client.handshakeTimeoutMs ?? RELAY_HANDSHAKE_TIMEOUT_MS,
      ...(client.agent ? { agent: client.agent } : {}),
      ...(client.ca !== undefined ? { ca: client.ca } : {}),
      ...(client.rejectUnauthorized !== undefined ? { rejectUnauthorized: client.rejectUnauthorized } : {}),
    });
    // Errors after the handshake end the live stream (below); never let one go unhandled.
    socket.on('error', () => undefined);

    const live = createEventQueue<ChatStreamEvent>({ highWaterMark: RELAY_LIVE_BUFFER_SIZE });
    const early: ChatStreamEvent[] = [];
    let collecting = true;
    let onFirstEvent: (() => void) | undefined;

    // A half-open TCP connection never closes by itself: the peer pings every 15 s, so long silence means it is gone.
    // Armed once the handshake succeeded. Every frame or ping only records the time (re-arming a timer per frame
    // costs more than the frame at thousands of parts/s); when the timer fires early it re-arms for the rest.
    let silence: Timer | undefined;
    let lastHeardMs = 0;
    const heard = () => {
      lastHeardMs = clock.nowMs();
    };
    const onSilence = () => {
      const quietMs = clock.nowMs() - lastHeardMs;
      if (quietMs < RELAY_PEER_SILENCE_TIMEOUT_MS && socket.readyState === WebSocket.OPEN) {
        silence = clock.setTimeout(onSilence, RELAY_PEER_SILENCE_TIMEOUT_MS - quietMs, RELAY_PEER_SILENCE_TIMER_TAG);
        return;
      }
      socket.terminate();
    };
    socket.on('ping', heard);
    socket.on('pong', heard);

    const cancel = () => {
      silence?.cancel();
      live.end();
      socket.terminate();
    };

    socket.on('message', (data, isBinary) => {
      heard();
      if (isBinary) return;
      const parts = decodeRelayFrame(data.toString());
      if (parts.length === 0) return;
      if (collecting) {
        early.push(...parts);
        onFirstEvent?.();
        return;
      }
      for (const p of parts) live.push(p);
      if (live.size >= RELAY_LIVE_BUFFER_SIZE && !socket.isPaused) {
        // Back-pressure: stop reading from the peer until the session catches up.
        socket.pause();
        void live.room().then(() => socket.resume());
      }
    });
    /** Set when the peer closed the leg because the forwarded token was revoked: the live stream then fails with it. */
    let revoked: RelayDialError | undefined;
    socket.on('close', (code, reason) => {
      if (code === TOKEN_REVOKED_CLOSE_CODE && reason.toString() === TOKEN_REVOKED_CLOSE_REASON) {
        // Typed as the 401 a re-dial would get, so the session gives up instead of re-dialling a revoked token.
        revoked = new RelayDialError(401, 'relay closed by the peer: token revoked');
      }
      silence?.cancel();
      // While collecting, the early events still go to the snapshot and the live queue; it is closed after.
      if (!collecting) live.close();
    });

    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        cleanup();
        socket.terminate();
        reject(new RelayDialError(0, 'relay dial cancelled'));
      };
      const onOpen = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new RelayDialError(0, `relay dial failed: ${err.message}`, { cause: err }));
      };
      const onResponse = (_req: unknown, res: { statusCode?: number; resume(): void }) => {
        cleanup();
        res.resume();
        socket.terminate();
        const status = res.statusCode ?? 0;
        reject(new RelayDialError(status, `relay dial failed: peer answered ${status}`));
      };
      const cleanup = () => {
        signal.removeEventListener('abort', onAbort);
        socket.off('open', onOpen);
        socket.off('error', onError);
        socket.off('unexpected-response', onResponse);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('open', onOpen);
      socket.on('error', onError);
      socket.on('unexpected-response', onResponse);
    });

    if (socket.readyState === WebSocket.OPEN) {
      lastHeardMs = clock.nowMs();
      silence = clock.setTimeout(onSilence, RELAY_PEER_SILENCE_TIMEOUT_MS, RELAY_PEER_SILENCE_TIMER_TAG);
    }

    // Wait up to a second for the first events, then take what has arrived as the snapshot.
    if (early.length === 0 && socket.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        const timer = clock.setTimeout(done, RELAY_FIRST_EVENT_TIMEOUT_MS, RELAY_FIRST_EVENT_TIMER_TAG);
        function done() {
          timer.cancel();
          onFirstEvent = undefined;
          socket.off('close', done);
          signal.removeEventListener('abort', done);
          resolve();
        }
        onFirstEvent = done;
        socket.once('close', done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    collecting = false;
    if (signal.aborted) {
      cancel();
      throw new RelayDialError(0, 'relay dial cancelled');
    }
    const snapshot = early.splice(0, RELAY_SNAPSHOT_MAX_EVENTS);
    for (const p of early) live.push(p);
    if (socket.readyState !== WebSocket.OPEN) live.close();

    // The live stream ends as the queue does, or throws `revoked` when that is why it ended.
    const parts: AsyncIterable<ChatStreamEvent> = {
      [Symbol.asyncIterator]() {
        const source = live[Symbol.asyncIterator]();
        return {
          async next() {
            const result = await source.next();
            if (result.done && revoked) throw revoked;
            return result;
          },
          return: () => source.return?.() ?? Promise.resolve({ value: undefined, done: true }),
        };
      },
    };
    const connection: RelayConnection = { snapshot, parts, cancel };
    return connection;
  };
}
