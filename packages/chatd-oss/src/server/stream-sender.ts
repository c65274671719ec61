// Sends one subscription's events down one WebSocket: bare-array text frames of at most 256 events,
// batched per microtask, and per event-loop turn once a frame has gone out in that turn. When the socket's send buffer passes a threshold it stops sending and merges
// consecutive text/reasoning deltas of the same run (contract.md#coalescing); a client too slow even for
// that gets `discontinuity` (`too_slow`) and close code 1008. It never blocks the producer, and its
// memory per client is bounded by `maxQueuedBytes`. Bulk producers (history pages) ask `ready()` first: a
// client that reads slowly is waited for, one that does not read at all is fed until the cut.
import type { Clock, Timer } from '@chatd/clock';
import { encodeStreamFrame, partText, type ChatMessagePart, type ChatStreamEvent } from '@chatd/protocol';
import type { WebSocket } from 'ws';
import type { OutEvent, StreamSink } from '../subscribe/chat-subscriber.js';
import type { ServerMetrics } from './server-metrics.js';

/** Most events in one frame (the original's `chatStreamBatchSize`). */
export const MAX_EVENTS_PER_FRAME = 256;
/**
 * Bytes of JSON above which a frame takes no more events (one larger event still goes alone), so frames stay
 * well under a client's read limit (the original SDK reads at most 4 MiB). @default 1 MiB
 */
export const MAX_FRAME_BYTES = 1024 * 1024;
/**
 * Events whose JSON is at least this long go in a frame of their own, encoded once and shared by every socket
 * that sends the same event object: a snapshot's large messages reach every subscriber of a shared page, and
 * each would otherwise build and copy its own frame text. @default 64 KiB
 */
export const SOLO_FRAME_BYTES = 64 * 1024;
/** Largest part coalescing builds; longer runs of deltas become several parts. @default 256 KiB */
export const MAX_COALESCED_PART_BYTES = 256 * 1024;
/** Send buffer above which a client counts as slow and its deltas are coalesced. @default 256 KiB */
export const DEFAULT_COALESCE_THRESHOLD_BYTES = 256 * 1024;
/** Queued bytes (after coalescing) above which a slow client is cut with `too_slow`. @default 4 MiB */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** How often a backlogged sender checks whether the socket drained. @default 25 */
export const DRAIN_POLL_MS = 25;
/** WebSocket close code for a client cut for being too slow (policy violation). */
export const CLOSE_TOO_SLOW = 1008;

/** Options of `createStreamSender`. */
export type StreamSenderOptions = {
  clock: Clock;
  metrics?: ServerMetrics;
  coalesceThresholdBytes?: number;
  maxQueuedBytes?: number;
  /** Called once when the sender has closed the socket or seen it close. */
  onClose?: () => void;
};

/**
 * The socket a sender writes to (a WebSocket, or an SSE response: sse-stream-socket.ts). `bufferedAmount` is
 * what the sender measures for coalescing and the `too_slow` cut.
 */
export interface StreamSocket {
  /** Bytes accepted but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  readonly isOpen: boolean;
  /** Sends one frame: the bare JSON array of `events`. */
  sendFrame(frame: string | Buffer, events: readonly ChatStreamEvent[]): void;
  close(code: number, reason: string): void;
  terminate(): void;
  onClose(listener: () => void): void;
}

/** A WebSocket as a StreamSocket. */
export function wsStreamSocket(ws: WebSocket): StreamSocket {
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get isOpen() {
      return ws.readyState === ws.OPEN;
    },
    // A Buffer goes as text: ws frames it without copying, so every socket shares these bytes.
    sendFrame: (frame) => (typeof frame === 'string' ? ws.send(frame) : ws.send(frame, { binary: false })),
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    onClose: (listener) => void ws.once('close', listener),
  };
}

function isStreamSocket(s: WebSocket | StreamSocket): s is StreamSocket {
  return typeof (s as Partial<StreamSocket>).sendFrame === 'function';
}

/** A StreamSink bound to a WebSocket or another StreamSocket. */
export interface StreamSender extends StreamSink {
  /**
   * Resolves true at once while at most `coalesceThresholdBytes` are queued (after a pending flush);
   * otherwise at a drain poll: true once the queue fell to that, or when the socket took nothing since the
   * wait began (a client that does not read keeps being fed until `maxQueuedBytes` cuts it); false once the
   * sender has ended.
   */
  ready(): Promise<boolean>;
  /** Events waiting to be sent (for tests and metrics). */
  readonly queued: number;
  /** Bytes of JSON waiting to be sent (for tests; summed over senders in `chatd_stream_queued_bytes`). */
  readonly queuedBytes: number;
}

type Queued = { out: OutEvent; bytes: number };
/** A `ready()` call waiting; `buffered` is the socket's send buffer when the wait began (set once it did). */
type ReadyWaiter = { resolve: (ok: boolean) => void; buffered: number | undefined };

// Event-loop turns, counted only while some sender flushes: `currentTurn` moves on at the end of the turn in
// which a flush happened, so a sender can tell whether it already sent a frame in this turn.
let currentTurn = 0;
let turnEndPending = false;
const endTurn = () => {
  currentTurn++;
  turnEndPending = false;
  turnFrames.clear();
};

/**
 * The frames sent in the current event-loop turn, by their first event. A part reaches every subscriber of its
 * chat as one shared OutEvent (live-buffer.ts), and their senders flush in the same turn with the same events
 * queued: the first builds the frame's bytes once, the others send that very Buffer (no string building or UTF-8
 * encoding per socket). Cleared when the turn ends, so it never holds more than one turn's frames.
 */
const turnFrames = new Map<OutEvent, { outs: OutEvent[]; frame: Buffer }>();

/** Whether `items` are exactly the events `outs` (same objects, same order). */
function sameEvents(outs: readonly OutEvent[], items: readonly Queued[]): boolean {
  if (outs.length !== items.length) return false;
  for (let i = 0; i < outs.length; i++) if (outs[i] !== items[i]!.out) return false;
  return true;
}
/** The current turn, making sure it ends (one shared setImmediate per busy turn, not one per sender). */
function markTurn(): number {
  if (!turnEndPending) {
    turnEndPending = true;
    setImmediate(endTurn);
  }
  return currentTurn;
}

/**
 * The delta text a part carries when it is a bare delta that coalescing may merge: a text or reasoning delta,
 * a tool call's `args_delta`, or a tool result's `result_delta` (contract.md#coalescing); undefined otherwise.
 */
function deltaText(part: ChatMessagePart): string | undefined {
  const keys = Object.keys(part).length;
  if ((part.type === 'text' || part.type === 'reasoning') && keys === 2) return partText(part);
  if (part.type === 'tool-call' && keys === 4 && typeof part.args_delta === 'string' && typeof part.tool_call_id === 'string' && typeof part.tool_name === 'string') return part.args_delta;
  if (part.type === 'tool-result' && keys === 4 && typeof part.result_delta === 'string' && typeof part.tool_call_id === 'string' && typeof part.tool_name === 'string') return part.result_delta;
  return undefined;
}

/** `part` with its delta text replaced by `text` (only for parts `deltaText` accepts). */
function withDeltaText(part: ChatMessagePart, text: string): ChatMessagePart {
  if (part.type === 'tool-call') return { ...part, args_delta: text };
  if (part.type === 'tool-result') return { ...part, result_delta: text };
  return { type: part.type as 'text' | 'reasoning', text };
}

/** Can `b` be merged into `a`? Same run, same role, both deltas of one kind (and of one tool call). */
function mergeable(a: ChatStreamEvent, b: ChatStreamEvent): boolean {
  if (a.type !== 'message_part' || b.type !== 'message_part') return false;
  const pa = a.message_part;
  const pb = b.message_part;
  if (pa.run_id !== pb.run_id || pa.role !== pb.role || pa.part.type !== pb.part.type) return false;
  if (deltaText(pa.part) === undefined || deltaText(pb.part) === undefined) return false;
  if (pa.part.type === 'tool-call' || pa.part.type === 'tool-result') {
    const ca = pa.part as { tool_call_id?: string };
    const cb = pb.part as { tool_call_id?: string };
    return ca.tool_call_id === cb.tool_call_id;
  }
  return true;
}

// The label sets of the part lag histogram, built once (it is observed per part per socket).
const LOCAL_LAG = { path: 'local' } as const;
const RELAY_LAG = { path: 'relay' } as const;

/** An OutEvent whose JSON is built on first use (a merged part may still grow before it is sent). */
function lazyOut(event: ChatStreamEvent, lag: OutEvent['lag']): OutEvent {
  let json: string | undefined;
  return {
    event,
    ...(lag ? { lag } : {}),
    get json() {
      return (json ??= JSON.stringify(event));
    },
  };
}

/** The one-event frames of large events, keyed by the shared event object (see SOLO_FRAME_BYTES). */
const soloFrames = new WeakMap<OutEvent, Buffer>();
function soloFrame(out: OutEvent): Buffer {
  let frame = soloFrames.get(out);
  if (!frame) {
    frame = Buffer.from(`[${out.json}]`, 'utf8');
    soloFrames.set(out, frame);
  }
  return frame;
}

/** Creates the sender of one stream socket. */
export function createStreamSender(target: WebSocket | StreamSocket, options: StreamSenderOptions): StreamSender {
  const ws = isStreamSocket(target) ? target : wsStreamSocket(target);
  const threshold = options.coalesceThresholdBytes ?? DEFAULT_COALESCE_THRESHOLD_BYTES;
  const maxQueued = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
  const metrics = options.metrics;
  let queue: Queued[] = [];
  let queuedBytes = 0;
  let scheduled = false;
  let drainTimer: Timer | undefined;
  let done = false;
  /** Highest message id actually sent: where a cut client resyncs from. */
  let lastMessageId = 0;
  /** The event-loop turn of this sender's last flush (see markTurn). */
  let lastFlushTurn = -1;
  let waiters: ReadyWaiter[] = [];
  /** queuedBytes as last added to the `chatd_stream_queued_bytes` gauge. */
  let reportedBytes = 0;

  const report = () => {
    if (metrics && queuedBytes !== reportedBytes) {
      metrics.inc('chatd_stream_queued_bytes', queuedBytes - reportedBytes);
      reportedBytes = queuedBytes;
    }
  };

  /**
   * Settles `ready()` waiters after a flush. `bufferedBeforePoll` is the send buffer when a drain poll fired
   * (before its flush); a waiter whose wait began with no less buffered saw the socket take nothing: resolved
   * true, so that the producer goes on and the cut comes at `maxQueuedBytes` as it would without paging.
   */
  const wake = (bufferedBeforePoll?: number) => {
    if (waiters.length === 0) return;
    const all = waiters;
    if (done || queuedBytes <= threshold) {
      waiters = [];
      for (const w of all) w.resolve(!done);
      return;
    }
    waiters = [];
    for (const w of all) {
      if (w.buffered === undefined) {
        w.buffered = ws.bufferedAmount;
        waiters.push(w);
      } else if (bufferedBeforePoll !== undefined && bufferedBeforePoll >= w.buffered) {
        metrics?.inc('chatd_stream_stalled_waits_total');
        w.resolve(true);
      } else {
        waiters.push(w);
      }
    }
  };

  const finish = () => {
    if (done) return;
    done = true;
    drainTimer?.cancel();
    metrics?.inc('chatd_stream_parts_dropped_total', queue.filter((q) => q.out.event.type === 'message_part').length);
    metrics?.inc('chatd_stream_dropped_bytes_total', queuedBytes);
    queue = [];
    queuedBytes = 0;
    report();
    wake();
    options.onClose?.();
  };
  ws.onClose(finish);

  /** Part lag ends here: the frame is in the socket's hands. A merged part counts once, from its oldest delta. */
  const observeLag = (items: Queued[]) => {
    if (!metrics) return;
    let nowMs: number | undefined;
    for (const { out } of items) {
      if (!out.lag) continue;
      nowMs ??= options.clock.nowMs();
      metrics.observe('chatd_part_lag_seconds', (nowMs - out.lag.atMs) / 1000, out.lag.path === 'local' ? LOCAL_LAG : RELAY_LAG);
    }
  };

  const sendFrame = (items: Queued[]) => {
    observeLag(items);
    if (items.length === 1 && items[0]!.bytes >= SOLO_FRAME_BYTES) {
      const out = items[0]!.out;
      if (out.event.type === 'message' && out.event.message.id > lastMessageId) lastMessageId = out.event.message.id;
      ws.sendFrame(soloFrame(out), [out.event]);
      metrics?.inc('chatd_stream_frames_sent_total');
      metrics?.inc('chatd_stream_events_sent_total');
      return;
    }
    for (let i = 0; i < items.length; i++) {
      const event = items[i]!.out.event;
      if (event.type === 'message' && event.message.id > lastMessageId) lastMessageId = event.message.id;
    }
    const first = items[0]!.out;
    const built = turnFrames.get(first);
    let frame: Buffer;
    if (built && sameEvents(built.outs, items)) {
      frame = built.frame;
      metrics?.inc('chatd_stream_frames_shared_total');
    } else {
      let text = '[';
      for (let i = 0; i < items.length; i++) {
        if (i > 0) text += ',';
        text += items[i]!.out.json;
      }
      text += ']';
      // ws would encode the string to UTF-8 anyway; encoding here lets later sockets of this turn reuse it.
      frame = Buffer.from(text, 'utf8');
      turnFrames.set(first, { outs: items.map((q) => q.out), frame });
    }
    ws.sendFrame(frame, items.map((q) => q.out.event));
    metrics?.inc('chatd_stream_frames_sent_total');
    metrics?.inc('chatd_stream_events_sent_total', items.length);
  };

  /** Merges runs of consecutive mergeable deltas in the queue. */
  const coalesce = () => {
    if (queue.length < 2) return;
    const merged: Queued[] = [];
    let mergedAway = 0;
    for (const item of queue) {
      const prev = merged[merged.length - 1];
      if (prev && prev.bytes + item.bytes <= MAX_COALESCED_PART_BYTES && mergeable(prev.out.event, item.out.event)) {
        const a = prev.out.event as Extract<ChatStreamEvent, { type: 'message_part' }>;
        const b = item.out.event as Extract<ChatStreamEvent, { type: 'message_part' }>;
        const event: ChatStreamEvent = {
          type: 'message_part',
          chat_id: a.chat_id,
          // mergeable() let only bare deltas through.
          message_part: { ...b.message_part, part: withDeltaText(a.message_part.part, (deltaText(a.message_part.part) ?? '') + (deltaText(b.message_part.part) ?? '')) },
        };
        // Encoding the merged text at every merge would be quadratic in the backlog (and block the
        // event loop the producer shares): count the added text's bytes and encode once, when sent.
        merged[merged.length - 1] = { out: lazyOut(event, prev.out.lag ?? item.out.lag), bytes: prev.bytes + JSON.stringify(deltaText(b.message_part.part) ?? '').length - 2 };
        mergedAway++;
      } else {
        merged.push(item);
      }
    }
    if (mergedAway > 0) {
      metrics?.inc('chatd_stream_parts_coalesced_total', mergedAway);
      queue = merged;
      queuedBytes = merged.reduce((n, q) => n + q.bytes, 0);
    }
  };

  const cutTooSlow = () => {
    metrics?.inc('chatd_stream_slow_clients_cut_total');
    metrics?.inc('chatd_discontinuities_total', 1, { reason: 'too_slow' });
    const chatId = queue[0]?.out.event.chat_id ?? '';
    const notice: ChatStreamEvent = { type: 'discontinuity', chat_id: chatId, discontinuity: { reason: 'too_slow', resync_after_id: lastMessageId } };
    try {
      ws.sendFrame(encodeStreamFrame([notice]), [notice]);
      ws.close(CLOSE_TOO_SLOW, 'client too slow');
    } catch {
      ws.terminate();
    }
    finish();
  };

  const flushScheduled = () => {
    flush();
    report();
    wake();
  };

  const flush = () => {
    scheduled = false;
    if (done) return;
    lastFlushTurn = markTurn();
    if (!ws.isOpen) return;
    if (ws.bufferedAmount > threshold) {
      coalesce();
      if (queuedBytes > maxQueued) {
        cutTooSlow();
        return;
      }
      // Wait for the socket to drain, checking on the clock (ws has no drain event of its own).
      drainTimer ??= options.clock.setTimeout(() => {
        drainTimer = undefined;
        const buffered = ws.bufferedAmount;
        flush();
        report();
        wake(buffered);
      }, DRAIN_POLL_MS, 'stream-drain');
      return;
    }
    while (queue.length > 0) {
      let n = 0;
      let frameBytes = 0;
      // A large event travels alone (SOLO_FRAME_BYTES); others share frames up to the count and byte limits.
      const fits = (i: number) => queue[0]!.bytes < SOLO_FRAME_BYTES && queue[i]!.bytes < SOLO_FRAME_BYTES && frameBytes + queue[i]!.bytes <= MAX_FRAME_BYTES;
      while (n < queue.length && n < MAX_EVENTS_PER_FRAME && (n === 0 || fits(n))) frameBytes += queue[n++]!.bytes;
      const batch = n === queue.length ? queue : queue.slice(0, n);
      queue = n === queue.length ? [] : queue.slice(n);
      for (const q of batch) queuedBytes -= q.bytes;
      sendFrame(batch);
      if (ws.bufferedAmount > threshold && queue.length > 0) {
        flush();
        return;
      }
    }
  };

  return {
    push(out) {
      if (done) return;
      queue.push({ out, bytes: out.json.length });
      queuedBytes += out.json.length;
      if (!scheduled && !drainTimer) {
        scheduled = true;
        // The first flush of an event-loop turn runs as a microtask (a lone part leaves at once); later pushes
        // in the same turn wait for its end, so a burst (one socket read relayed, one model burst) is one
        // frame instead of one frame per event.
        if (lastFlushTurn === currentTurn) setImmediate(flushScheduled);
        else queueMicrotask(flushScheduled);
      }
      report();
    },
    ready() {
      if (done) return Promise.resolve(false);
      // With a flush pending, the queue's size is known only after it; with nothing pending and a queue over
      // the threshold, a drain poll is armed (or the socket is closing, and `finish` answers).
      if (!scheduled && queuedBytes <= threshold) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => waiters.push({ resolve, buffered: scheduled ? undefined : ws.bufferedAmount }));
    },
    end() {
      if (done) return;
      // Send what is left, then close normally.
      flush();
      try {
        ws.close(1000, 'stream ended');
      } catch {
        ws.terminate();
      }
      finish();
    },
    get queued() {
      return queue.length;
    },
    get queuedBytes() {
      return queuedBytes;
    },
  };
}
