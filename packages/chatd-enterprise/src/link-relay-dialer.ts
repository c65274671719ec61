// The link relay dialer (relay mode `link`, contract.md#replica-link, issue 36): one WebSocket per peer replica
// carries the relay streams of every chat this replica follows there. A link is dialled lazily with this
// replica's credential, shared by every dial to that peer, and closed once no dial has used it for
// LINK_IDLE_CLOSE_MS. A dial sends `sub` (chat and part cursor), waits for its first events as the WebSocket
// dialer does (the snapshot), then gets the parts of its sid; `cancel()` sends `unsub`. The user's
// authorisation, caps and revocation stay here (the subscriber checks them before it relays); the link carries
// no session token. A dial whose reader falls LINK_DIAL_MAX_BUFFERED_EVENTS behind is ended alone, and a link
// that drops ends every dial on it: the relay sessions reconnect as they do after a dropped relay socket.
import type { Duplex } from 'node:stream';
import type { Clock, Timer } from '@chatd/clock';
import { createRealClock } from '@chatd/clock';
import { activeTraceparent } from '@chatd/oss';
import { REPLICA_LINK_PATH, decodeReplicaLinkFrame, encodeReplicaLinkControl, type ChatStreamEvent, type ReplicaLinkControl } from '@chatd/protocol';
import WebSocket from 'ws';
import { createEventQueue, type EventQueue } from './event-queue.js';
import { RelayDialError } from './relay-dial-error.js';
import { peerWsUrl, resolvePeerAddress } from './ws-relay-dialer.js';
import type { RelayConnection, RelayDialer } from './relay-dialer.js';
import { REPLICA_CREDENTIAL_HEADER } from './replica-credential.js';
import { RelaySourceHeader } from './relay-source-header.js';
import {
  RELAY_FIRST_EVENT_TIMEOUT_MS,
  RELAY_FIRST_EVENT_TIMER_TAG,
  RELAY_HANDSHAKE_TIMEOUT_MS,
  RELAY_PEER_SILENCE_TIMEOUT_MS,
  RELAY_PEER_SILENCE_TIMER_TAG,
  RELAY_READ_LIMIT_BYTES,
  RELAY_SNAPSHOT_MAX_EVENTS,
  type WsRelayDialerOptions,
} from './ws-relay-dialer.js';

/** How long a link with no dial on it stays open for the next one. @default 30000 */
export const LINK_IDLE_CLOSE_MS = 30_000;
/** Clock tag of the idle close. */
export const LINK_IDLE_TIMER_TAG = 'relay-link-idle';
/** Live events one dial may hold unread before it is ended (the link is never paused for one chat). @default 10000 */
export const LINK_DIAL_MAX_BUFFERED_EVENTS = 10_000;

/** Options for `createLinkRelayDialer`: those of the WebSocket dialer, and the link's own. */
export type LinkRelayDialerOptions = WsRelayDialerOptions & {
  /** @default LINK_IDLE_CLOSE_MS */
  idleCloseMs?: number;
  /** @default LINK_DIAL_MAX_BUFFERED_EVENTS */
  maxBufferedEvents?: number;
  /** Called with +1 / -1 as links open and close (the `chatd_relay_links` gauge). */
  onLinkCount?: (delta: number) => void;
};

/** A link dialer, with its open links (for tests and metrics). */
export type LinkRelayDialer = RelayDialer & {
  /** Links open or being opened now. */
  links(): number;
};

type Dial = {
  sid: number;
  collecting: boolean;
  early: ChatStreamEvent[];
  live: EventQueue<ChatStreamEvent>;
  /** Wakes the first-event wait (events arrived, the stream ended, or the link dropped). */
  wake: (() => void) | undefined;
  ended: boolean;
};

type Link = {
  key: string;
  socket: WebSocket;
  /** The link's TCP (or TLS) socket once upgraded: `sub`/`unsub` frames are corked on it per turn. */
  raw: Duplex | undefined;
  corked: boolean;
  open: Promise<void>;
  dials: Map<number, Dial>;
  nextSid: number;
  idle: Timer | undefined;
  closed: boolean;
};

/** The peer's link URL from its relay address. */
export function replicaLinkUrl(address: string): URL {
  return peerWsUrl(address, REPLICA_LINK_PATH);
}

/** Creates the link relay dialer. */
export function createLinkRelayDialer(options: LinkRelayDialerOptions): LinkRelayDialer {
  const clock: Clock = options.clock ?? createRealClock();
  const client = options.wsClientOptions ?? {};
  const idleCloseMs = options.idleCloseMs ?? LINK_IDLE_CLOSE_MS;
  const maxBuffered = options.maxBufferedEvents ?? LINK_DIAL_MAX_BUFFERED_EVENTS;
  const links = new Map<string, Link>();

  /** Ends a dial: its live stream closes after what it holds (the session then reconnects, as after a drop). */
  const endDial = (link: Link, dial: Dial) => {
    if (dial.ended) return;
    dial.ended = true;
    link.dials.delete(dial.sid);
    if (dial.collecting) dial.wake?.();
    else dial.live.close();
    armIdle(link);
  };

  const send = (link: Link, control: ReplicaLinkControl) => {
    if (link.closed || link.socket.readyState !== WebSocket.OPEN) return;
    // The controls of one event-loop turn leave in one write (a reconnect storm unsubscribes and subscribes
    // thousands of chats at once; every dial waiting on a link's open sends its `sub` in the same turn):
    // one syscall per turn instead of one per frame, at the cost of waiting for the turn's end.
    const raw = link.raw;
    if (raw && !link.corked) {
      link.corked = true;
      raw.cork();
      setImmediate(() => {
        link.corked = false;
        raw.uncork();
      });
    }
    link.socket.send(encodeReplicaLinkControl(control));
  };

  const closeLink = (link: Link) => {
    if (link.closed) return;
    link.closed = true;
    link.idle?.cancel();
    if (links.get(link.key) === link) links.delete(link.key);
    options.onLinkCount?.(-1);
    link.socket.terminate();
    for (const dial of [...link.dials.values()]) endDial(link, dial);
  };

  function armIdle(link: Link) {
    if (link.closed || link.dials.size > 0 || link.idle) return;
    link.idle = clock.setTimeout(() => {
      link.idle = undefined;
      if (link.dials.size === 0) closeLink(link);
    }, idleCloseMs, LINK_IDLE_TIMER_TAG);
  }

  const onRecords = (link: Link, text: string) => {
    const records = decodeReplicaLinkFrame(text);
    if (!records) return;
    for (const record of records) {
      const dial = link.dials.get(record.sid);
      if (!dial) continue; // unsubscribed already: its last records cross the unsub
      if (record.end) {
        endDial(link, dial);
        continue;
      }
      for (const e of record.events) {
        if (e.type !== 'message_part') continue;
        // The decoder checked the type and cursor fields and recorded the event's own JSON; the rest is the peer's shape.
        const event = e as unknown as ChatStreamEvent;
        if (dial.collecting) dial.early.push(event);
        else dial.live.push(event);
      }
      if (dial.collecting) {
        if (dial.early.length > 0) dial.wake?.();
      } else if (dial.live.size > maxBuffered) {
        // This chat's reader is too slow: end it alone (the session resyncs it) rather than pause the link.
        send(link, { op: 'unsub', sid: dial.sid });
        endDial(link, dial);
      }
    }
  };

  const openLink = (key: string, address: string): Link => {
    const headers: Record<string, string> = { [RelaySourceHeader]: options.replicaId() };
    const credential = options.replicaCredential?.();
    if (credential) headers[REPLICA_CREDENTIAL_HEADER] = credential;
    const socket = new WebSocket(replicaLinkUrl(address), {
      headers,
      perMessageDeflate: false,
      maxPayload: RELAY_READ_LIMIT_BYTES * 4,
      handshakeTimeout: client.handshakeTimeoutMs ?? RELAY_HANDSHAKE_TIMEOUT_MS,
      ...(client.agent ? { agent: client.agent } : {}),
      ...(client.ca !== undefined ? { ca: client.ca } : {}),
      ...(client.rejectUnauthorized !== undefined ? { rejectUnauthorized: client.rejectUnauthorized } : {}),
    });
    socket.on('error', () => undefined);
    const link: Link = { key, socket, raw: undefined, corked: false, open: Promise.resolve(), dials: new Map(), nextSid: 1, idle: undefined, closed: false };
    socket.once('upgrade', (res) => {
      link.raw = res.socket;
    });
    links.set(key, link);
    options.onLinkCount?.(1);

    // The same silence watch as a relay socket: the peer pings every 15 s.
    let lastHeardMs = clock.nowMs();
    let silence: Timer | undefined;
    const heard = () => {
      lastHeardMs = clock.nowMs();
    };
    const onSilence = () => {
      const quietMs = clock.nowMs() - lastHeardMs;
      if (quietMs < RELAY_PEER_SILENCE_TIMEOUT_MS && !link.closed) {
        silence = clock.setTimeout(onSilence, RELAY_PEER_SILENCE_TIMEOUT_MS - quietMs, RELAY_PEER_SILENCE_TIMER_TAG);
        return;
      }
      closeLink(link);
    };
    socket.on('ping', heard);
    socket.on('pong', heard);
    socket.on('message', (data, isBinary) => {
      heard();
      if (!isBinary) onRecords(link, data.toString());
    });
    socket.on('close', () => {
      silence?.cancel();
      closeLink(link);
    });

    link.open = new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        heard();
        silence = clock.setTimeout(onSilence, RELAY_PEER_SILENCE_TIMEOUT_MS, RELAY_PEER_SILENCE_TIMER_TAG);
        resolve();
      });
      socket.once('unexpected-response', (_req, res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        reject(new RelayDialError(status, `relay link failed: peer answered ${status}`));
        closeLink(link);
      });
      socket.once('error', (err) => reject(new RelayDialError(0, `relay link failed: ${err.message}`, { cause: err })));
      socket.once('close', () => reject(new RelayDialError(0, 'relay link closed')));
    });
    link.open.catch(() => closeLink(link));
    return link;
  };

  const dialer = async (params: Parameters<RelayDialer>[0]): Promise<RelayConnection> => {
    const { signal } = params;
    // The dial's span (traceRelayDial) travels on `sub`, as the WebSocket dialer's travels on its upgrade.
    const traceparent = activeTraceparent();
    const cancelled = () => new RelayDialError(0, 'relay dial cancelled');
    const address = await resolvePeerAddress(options.resolveReplicaAddress, params);
    const key = JSON.stringify([params.workerId, address]);
    const link = links.get(key) ?? openLink(key, address);
    link.idle?.cancel();
    link.idle = undefined;

    const dial: Dial = { sid: link.nextSid++, collecting: true, early: [], live: createEventQueue<ChatStreamEvent>({ highWaterMark: maxBuffered }), wake: undefined, ended: false };
    // Registered before the link opens so that an idle close cannot take the link from under this dial.
    link.dials.set(dial.sid, dial);
    const cancel = () => {
      if (!dial.ended) send(link, { op: 'unsub', sid: dial.sid });
      dial.ended = true;
      link.dials.delete(dial.sid);
      dial.live.end();
      armIdle(link);
    };

    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(cancelled());
        signal.addEventListener('abort', onAbort, { once: true });
        link.open.then(
          () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
          (err: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(err);
          },
        );
      });
    } catch (err) {
      cancel();
      throw err;
    }
    if (dial.ended || link.closed) {
      cancel();
      throw new RelayDialError(0, 'relay link closed');
    }
    send(link, {
      op: 'sub',
      sid: dial.sid,
      chat_id: params.chatId,
      ...(params.cursor ? { run_id: params.cursor.runId, after_seq: params.cursor.afterSeq } : {}),
      ...(traceparent ? { traceparent } : {}),
    });

    // Wait up to RELAY_FIRST_EVENT_TIMEOUT_MS for the first events, then take what arrived as the snapshot.
    if (dial.early.length === 0 && !dial.ended) {
      await new Promise<void>((resolve) => {
        const timer = clock.setTimeout(done, RELAY_FIRST_EVENT_TIMEOUT_MS, RELAY_FIRST_EVENT_TIMER_TAG);
        function done() {
          timer.cancel();
          dial.wake = undefined;
          signal.removeEventListener('abort', done);
          resolve();
        }
        dial.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    dial.collecting = false;
    if (signal.aborted) {
      cancel();
      throw cancelled();
    }
    const snapshot = dial.early.splice(0, RELAY_SNAPSHOT_MAX_EVENTS);
    for (const p of dial.early) dial.live.push(p);
    dial.early = [];
    if (dial.ended) dial.live.close();
    return { snapshot, parts: dial.live, cancel };
  };

  return Object.assign(dialer, { links: () => links.size });
}
