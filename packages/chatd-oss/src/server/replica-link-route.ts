// The serving side of the replica link (contract.md#replica-link, issue 36): one WebSocket from a peer replica
// carrying the relay streams of many chats. Each `sub` is served exactly as a relay leg's stream socket is (the
// subscriber with the relay source header: live state only, the same seq fencing and run verdicts), through its
// own stream sender writing to a virtual socket of the link; the records every stream sent in one event-loop
// turn leave as one frame. When the link's send buffer passes the coalescing threshold each stream's sender
// coalesces and a stream whose own queue passes the cut is ended alone (`too_slow`), not the link.
// The link carries no user credentials: the subscribing replica authorises its users and counts their caps.
// The peer's own credential is checked again at every keep-alive ping: a link whose peer no longer verifies
// (its registry row gone stale or replaced) is closed, and the peer's next link is refused at the upgrade.
import type { Clock, Ticker } from '@chatd/clock';
import { startPingKeepAlive } from './ping-keepalive.js';
import {
  INT64_MAX,
  RELAY_SOURCE_HEADER,
  decodeReplicaLinkControl,
  encodeReplicaLinkEnd,
  type ChatStreamEvent,
  type ReplicaLinkEndReason,
} from '@chatd/protocol';
import type { WebSocket } from 'ws';
import { isChatdError } from '../chatd-error.js';
import { traceLinkStream } from '../telemetry/server-spans.js';
import type { Logger } from '../logger.js';
import type { ChatSubscriber, StreamSink, Subscription } from '../subscribe/chat-subscriber.js';
import type { ServerMetrics } from './server-metrics.js';
import { CLOSE_TOO_SLOW, createStreamSender, type StreamSenderOptions, type StreamSocket } from './stream-sender.js';

/** Streams one link may hold open at once; a `sub` beyond it is ended `failed`. @default 10000 */
export const DEFAULT_REPLICA_LINK_MAX_STREAMS = 10_000;

/**
 * Bytes of records above which a link frame is sent before the turn ends, so a burst of many streams' replays stays
 * well under the dialler's read limit (16 MiB). @default 4 MiB
 */
export const REPLICA_LINK_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Options of `serveReplicaLink`. */
export type ReplicaLinkServeOptions = {
  subscriber: Pick<ChatSubscriber, 'subscribe'>;
  clock: Clock;
  logger: Logger;
  metrics?: ServerMetrics;
  /** The verified peer replica (its id becomes the relay source header of every stream). */
  peerId: string;
  /** Coalescing and cut thresholds of each stream's sender (measured against the link's send buffer). */
  sender?: Pick<StreamSenderOptions, 'coalesceThresholdBytes' | 'maxQueuedBytes'>;
  /** Keep-alive ping period (the dialer drops a link silent for three of them). */
  pingIntervalMs: number;
  /** @default DEFAULT_REPLICA_LINK_MAX_STREAMS */
  maxStreams?: number;
  /**
   * Checks the peer's replica credential again (after each ping); false closes the link with
   * REPLICA_LINK_UNAUTHORIZED_CLOSE_CODE. A check that throws keeps the link (the next ping asks again).
   */
  reverify?: () => Promise<boolean>;
};

/** Close code of a link whose peer's credential no longer verifies (the WebSocket policy-violation code). */
export const REPLICA_LINK_UNAUTHORIZED_CLOSE_CODE = 1008;
/** Close reason sent with REPLICA_LINK_UNAUTHORIZED_CLOSE_CODE. */
export const REPLICA_LINK_UNAUTHORIZED_CLOSE_REASON = 'replica credential not verified';

type LinkStream = {
  sid: number;
  closed: boolean;
  subscription: Subscription | undefined;
  listeners: (() => void)[];
  /** Ends the stream's span. */
  endSpan: () => void;
};

const OPEN_EVENTS = (sid: number) => Buffer.from(`{"sid":${sid},"events":`, 'utf8');
const COMMA = Buffer.from(',');
const CLOSE_RECORD = Buffer.from('}');
const OPEN_FRAME = Buffer.from('[');
const CLOSE_FRAME = Buffer.from(']');

/** Serves one upgraded replica link until it closes. */
export function serveReplicaLink(ws: WebSocket, options: ReplicaLinkServeOptions): void {
  const { metrics, clock } = options;
  const maxStreams = options.maxStreams ?? DEFAULT_REPLICA_LINK_MAX_STREAMS;
  const streams = new Map<number, LinkStream>();
  /** Encoded records of this turn, framed and sent together at its end. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let flushPending = false;
  let linkOpen = true;
  const requestHeader = new Headers({ [RELAY_SOURCE_HEADER]: options.peerId });

  metrics?.inc('chatd_replica_links', 1);

  const flush = () => {
    flushPending = false;
    if (pending.length === 0 || !linkOpen) return;
    const parts: Buffer[] = [OPEN_FRAME];
    const records = pending.length;
    for (let i = 0; i < pending.length; i++) {
      if (i > 0) parts.push(COMMA);
      parts.push(pending[i]!);
    }
    parts.push(CLOSE_FRAME);
    pending = [];
    pendingBytes = 0;
    // The records are text; ws frames the Buffer as a text frame without copying it again.
    ws.send(Buffer.concat(parts), { binary: false });
    metrics?.inc('chatd_replica_link_frames_sent_total');
    metrics?.inc('chatd_replica_link_records_sent_total', records);
  };

  const addRecord = (record: Buffer) => {
    if (pendingBytes > 0 && pendingBytes + record.length > REPLICA_LINK_MAX_FRAME_BYTES) flush();
    pending.push(record);
    pendingBytes += record.length;
    if (!flushPending) {
      flushPending = true;
      // Senders flush in microtasks and at the end of the turn (stream-sender.ts); one frame gathers them.
      setImmediate(flush);
    }
  };

  /** Ends a stream: its sender and subscription stop; `reason` tells the peer why (none for its own unsub). */
  const endStream = (s: LinkStream, reason: ReplicaLinkEndReason | undefined) => {
    if (s.closed) return;
    s.closed = true;
    streams.delete(s.sid);
    metrics?.inc('chatd_replica_link_streams', -1);
    if (reason && linkOpen) addRecord(Buffer.from(encodeReplicaLinkEnd(s.sid, reason), 'utf8'));
    s.subscription?.close();
    s.endSpan();
    const listeners = s.listeners;
    s.listeners = [];
    for (const l of listeners) l();
  };

  /**
   * The stream's socket as its sender sees it: its fair share of the link's buffer (plus this turn's unsent
   * records). Separate relay sockets would each have their own buffer before coalescing starts; a share keeps the
   * same headroom per chat, so a link under load does not coalesce or cut every chat at a single chat's threshold.
   */
  const virtualSocket = (s: LinkStream): StreamSocket => ({
    get bufferedAmount() {
      return (ws.bufferedAmount + pendingBytes) / Math.max(1, streams.size);
    },
    get isOpen() {
      return linkOpen && !s.closed;
    },
    sendFrame(frame: string | Buffer, events: readonly ChatStreamEvent[]) {
      // The peer forwards parts only (a relay leg's other events are for the subscribing replica's own reads).
      let parts = false;
      for (const e of events) if (e.type === 'message_part') parts = true;
      if (!parts) return;
      const bytes = typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
      addRecord(Buffer.concat([OPEN_EVENTS(s.sid), bytes, CLOSE_RECORD]));
    },
    close(code: number) {
      endStream(s, code === CLOSE_TOO_SLOW ? 'too_slow' : 'ended');
    },
    terminate() {
      endStream(s, 'failed');
    },
    onClose(listener: () => void) {
      if (s.closed) listener();
      else s.listeners.push(listener);
    },
  });

  const subscribe = (sid: number, chatId: string, runId: string | undefined, afterSeq: number | undefined, traceparent: string | undefined) => {
    if (streams.has(sid) || streams.size >= maxStreams) {
      metrics?.inc('chatd_replica_link_invalid_frames_total');
      if (!streams.has(sid)) addRecord(Buffer.from(encodeReplicaLinkEnd(sid, 'failed'), 'utf8'));
      return;
    }
    const s: LinkStream = { sid, closed: false, subscription: undefined, listeners: [], endSpan: () => undefined };
    streams.set(sid, s);
    metrics?.inc('chatd_replica_link_streams', 1);
    const sender = createStreamSender(virtualSocket(s), { clock, ...(metrics ? { metrics } : {}), ...options.sender });
    // Only parts reach the sender: what else a relay leg is sent the peer would drop, and it must not fill the queue.
    const sink: StreamSink = {
      push: (out) => {
        if (out.event.type === 'message_part') sender.push(out);
      },
      end: (error) => sender.end(error),
      ready: () => sender.ready(),
    };
    const cursor = runId !== undefined && afterSeq !== undefined ? { runId, afterSeq } : {};
    // The stream's span continues the dial's trace as a relay leg's upgrade span does (its `traceparent` header).
    s.endSpan = traceLinkStream(chatId, traceparent, () => {
      options.subscriber.subscribe(chatId, { afterId: INT64_MAX, ...cursor, requestHeader }, sink).then(
        (subscription) => {
          if (s.closed) subscription.close();
          else s.subscription = subscription;
        },
        (err: unknown) => {
          const reason: ReplicaLinkEndReason = isChatdError(err) && err.code === 'NOT_FOUND' ? 'not_found' : isChatdError(err) && err.code === 'INVALID_INPUT' ? 'invalid' : 'failed';
          if (reason === 'failed') options.logger.error({ err, chatId }, 'replica link subscribe failed');
          endStream(s, reason);
        },
      );
    });
  };

  ws.on('message', (data, isBinary) => {
    const control = isBinary ? undefined : decodeReplicaLinkControl(data.toString());
    if (!control) {
      metrics?.inc('chatd_replica_link_invalid_frames_total');
      return;
    }
    if (control.op === 'sub') subscribe(control.sid, control.chat_id, control.run_id, control.after_seq, control.traceparent);
    else {
      const s = streams.get(control.sid);
      if (s) endStream(s, undefined);
    }
  });

  // Pings keep the link alive for the dialer's silence timeout; a peer that misses two pongs is gone.
  const { reverify } = options;
  let reverifying = false;
  const ticker: Ticker = startPingKeepAlive(ws, clock, options.pingIntervalMs, 'replica-link-ping', reverify && (() => {
    if (reverifying) return;
    reverifying = true;
    reverify().then(
      (verified) => {
        reverifying = false;
        if (verified || !linkOpen) return;
        metrics?.inc('chatd_replica_links_unauthorized_total');
        ws.close(REPLICA_LINK_UNAUTHORIZED_CLOSE_CODE, REPLICA_LINK_UNAUTHORIZED_CLOSE_REASON);
      },
      (err: unknown) => {
        reverifying = false;
        options.logger.warn({ err, peerId: options.peerId }, 'replica link credential re-check failed');
      },
    );
  }));

  ws.on('error', () => ws.terminate());
  ws.once('close', () => {
    linkOpen = false;
    ticker.stop();
    pending = [];
    pendingBytes = 0;
    metrics?.inc('chatd_replica_links', -1);
    for (const s of [...streams.values()]) endStream(s, undefined);
  });
}
