// Sends one watch or inbox socket's frames (one JSON object each: a ChatEvent, or `{notification, unread_count}`) with
// back-pressure: at once while the send buffer is at most a threshold, queued above it, where a newer
// `status_change`, `title_change` or `diff_status_change` of the same chat replaces the queued one (each
// carries the whole chat). No other frame is ever dropped; past a hard limit of queued bytes the socket is
// closed with 1008 `too_slow` (watch frames are objects, not arrays: there is no discontinuity event).
import type { Clock, Timer } from '@chatd/clock';
import type { ChatEvent } from '@chatd/pubsub';
import type { WebSocket } from 'ws';
import type { ServerMetrics } from './server-metrics.js';
import { CLOSE_TOO_SLOW, DRAIN_POLL_MS } from './stream-sender.js';

/** Send buffer above which a watch socket's frames queue and obsolete ones are coalesced. @default 256 KiB */
export const DEFAULT_WATCH_COALESCE_THRESHOLD_BYTES = 256 * 1024;
/** Queued bytes (after coalescing) above which a watch socket is closed with 1008 `too_slow`. @default 4 MiB */
export const DEFAULT_WATCH_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** Close reason of a watch socket cut for being too slow (with code 1008). */
export const WATCH_TOO_SLOW_REASON = 'too_slow';

/** ChatEvent kinds whose newest event makes an older one of the same chat obsolete (each carries the whole chat). */
const COALESCING_KINDS: ReadonlySet<ChatEvent['kind']> = new Set(['status_change', 'title_change', 'diff_status_change']);

/** One watch frame: its JSON text and, for state events, the key a newer frame replaces it by. */
export type WatchFrame = { readonly json: string; readonly coalesceKey?: string };

/** The frame of a ChatEvent: `status_change`, `title_change` and `diff_status_change` coalesce per chat and kind. */
export function chatEventFrame(event: ChatEvent): WatchFrame {
  const json = JSON.stringify(event);
  return COALESCING_KINDS.has(event.kind) ? { json, coalesceKey: `${event.chat.id}:${event.kind}` } : { json };
}

/**
 * The inbox socket's frame of one notification, as the original's `GetInboxNotificationResponse`
 * (contract.md#inbox-socket): `notificationJson` is the notification's JSON text. Never coalesced.
 */
export function inboxFrame(notificationJson: string, unreadCount: number): WatchFrame {
  return { json: `{"notification":${notificationJson},"unread_count":${unreadCount}}` };
}

/** Options of `createWatchSender`. */
export type WatchSenderOptions = {
  clock: Clock;
  metrics?: ServerMetrics;
  /** @default DEFAULT_WATCH_COALESCE_THRESHOLD_BYTES */
  coalesceThresholdBytes?: number;
  /** @default DEFAULT_WATCH_MAX_QUEUED_BYTES */
  maxQueuedBytes?: number;
  /** Called once when the sender has closed the socket or seen it close. */
  onClose?: () => void;
};

/** The sender of one watch socket. */
export interface WatchSender {
  /** Sends `frame` now, or queues it behind the socket's backlog; never blocks. */
  push(frame: WatchFrame): void;
  /** Frames waiting to be sent. */
  readonly queuedFrames: number;
  /** UTF-8 bytes of the frames waiting to be sent. */
  readonly queuedBytes: number;
}

type Queued = { json: string; bytes: number };

/** Creates the sender of one watch socket. */
export function createWatchSender(ws: WebSocket, options: WatchSenderOptions): WatchSender {
  const threshold = options.coalesceThresholdBytes ?? DEFAULT_WATCH_COALESCE_THRESHOLD_BYTES;
  const maxQueued = options.maxQueuedBytes ?? DEFAULT_WATCH_MAX_QUEUED_BYTES;
  const metrics = options.metrics;
  // Insertion-ordered: deleting a key and setting it again moves that frame to the end, which is exactly
  // "the newest state last, every other frame in its order". Frames that never coalesce get a unique number.
  const queue = new Map<string | number, Queued>();
  let nextId = 0;
  let queuedBytes = 0;
  let drainTimer: Timer | undefined;
  let done = false;

  const addQueued = (delta: number) => {
    queuedBytes += delta;
    metrics?.inc('chatd_watch_queued_bytes', delta);
  };

  const finish = () => {
    if (done) return;
    done = true;
    drainTimer?.cancel();
    drainTimer = undefined;
    metrics?.inc('chatd_watch_events_dropped_total', queue.size);
    queue.clear();
    addQueued(-queuedBytes);
    options.onClose?.();
  };
  ws.once('close', finish);

  const send = (json: string) => {
    ws.send(json);
    metrics?.inc('chatd_watch_events_sent_total');
  };

  const cutTooSlow = () => {
    metrics?.inc('chatd_watch_clients_cut_total');
    try {
      ws.close(CLOSE_TOO_SLOW, WATCH_TOO_SLOW_REASON);
    } catch {
      ws.terminate();
    }
    finish();
  };

  /** Sends queued frames while the send buffer allows; polls on the clock while it does not (ws has no drain event). */
  const drain = () => {
    drainTimer = undefined;
    if (done || ws.readyState !== ws.OPEN) return;
    for (const [key, item] of queue) {
      if (ws.bufferedAmount > threshold) break;
      queue.delete(key);
      addQueued(-item.bytes);
      send(item.json);
    }
    if (queue.size > 0) drainTimer = options.clock.setTimeout(drain, DRAIN_POLL_MS, 'watch-drain');
  };

  return {
    push(frame) {
      if (done) return;
      if (ws.readyState !== ws.OPEN) {
        // Closing: its close event follows and nothing more can be sent.
        metrics?.inc('chatd_watch_events_dropped_total');
        return;
      }
      if (queue.size === 0 && ws.bufferedAmount <= threshold) {
        send(frame.json);
        return;
      }
      let key: string | number;
      if (frame.coalesceKey !== undefined) {
        key = frame.coalesceKey;
        const older = queue.get(key);
        if (older) {
          queue.delete(key);
          addQueued(-older.bytes);
          metrics?.inc('chatd_watch_events_coalesced_total');
        }
      } else {
        key = nextId++;
      }
      const bytes = Buffer.byteLength(frame.json, 'utf8');
      queue.set(key, { json: frame.json, bytes });
      addQueued(bytes);
      if (queuedBytes > maxQueued) {
        cutTooSlow();
        return;
      }
      drainTimer ??= options.clock.setTimeout(drain, DRAIN_POLL_MS, 'watch-drain');
    },
    get queuedFrames() {
      return queue.size;
    },
    get queuedBytes() {
      return queuedBytes;
    },
  };
}
