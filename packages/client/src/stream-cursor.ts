// The client side of the stream cursor (contract.md#part-cursor): what a reconnecting client has seen,
// the query that resumes after it, and the filter that lets each message and part through once. Messages
// dedupe by id (ids rise within a chat), parts by (run_id, seq); a discontinuity forgets the in-flight
// run, so its parts, if ever sent again, count as new; a history reset forgets everything. Pure state: no
// socket, no timer.
import { parseInt64Text, setStreamQuery, type ChatStreamEvent } from '@chatd/protocol';

/** Runs whose highest seen seq is remembered (older ones cannot stream again). @default 8 */
export const REMEMBERED_RUNS = 8;

/** Where a stream resumes. */
export type StreamPosition = {
  /** Highest durable message id seen (`after_id`); 0n when none. */
  afterId: bigint;
  /** The run whose parts were seen last and not yet given up (`run_id`), with its highest seq (`after_seq`). */
  runId?: string;
  afterSeq?: number;
};

/** Cursor state of one logical stream across reconnects. */
export interface StreamCursor {
  /** Whether `event` is new (and records it). Call once per received event, in order. */
  accept(event: ChatStreamEvent): boolean;
  /** The query string (with `?`, or empty) that resumes after everything accepted so far. */
  query(): string;
  /** The current position. */
  position(): StreamPosition;
}

/** Parses an `after_id` given as a number, bigint or decimal string. */
export function toAfterId(value: number | bigint | string | undefined): bigint {
  if (value === undefined) return 0n;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`after_id must be a non-negative integer, got ${value}`);
    return BigInt(value);
  }
  const n = parseInt64Text(value);
  if (n === undefined) throw new RangeError(`after_id must be a non-negative int64, got "${value}"`);
  return n;
}

/** Creates a cursor starting at `start`. */
export function createStreamCursor(start: Partial<StreamPosition> = {}): StreamCursor {
  let afterId = start.afterId ?? 0n;
  let runId = start.runId;
  /** Highest seq seen per run, most recent run last. */
  const seen = new Map<string, number>();
  if (runId !== undefined) seen.set(runId, start.afterSeq ?? 0);

  const remember = (id: string, seq: number) => {
    seen.delete(id);
    seen.set(id, seq);
    while (seen.size > REMEMBERED_RUNS) seen.delete(seen.keys().next().value as string);
  };

  return {
    accept(event) {
      switch (event.type) {
        case 'message': {
          const id = BigInt(event.message.id);
          if (id <= afterId) return false;
          afterId = id;
          return true;
        }
        case 'message_part': {
          const { run_id: id, seq } = event.message_part;
          if (seq <= (seen.get(id) ?? 0)) return false;
          remember(id, seq);
          runId = id;
          return true;
        }
        case 'discontinuity':
          // The in-flight parts are gone (run_lost, relay_failed) or were cut short (too_slow): forget the
          // run, so a later snapshot's parts of it (from seq 1) are delivered again to a client that dropped them.
          if (runId !== undefined) seen.delete(runId);
          runId = undefined;
          return true;
        case 'history_reset':
          // The whole visible history follows again (an edit replaced part of it), ids below what was seen
          // included; the client drops what it held, and so does the cursor.
          afterId = 0n;
          seen.clear();
          runId = undefined;
          return true;
        default:
          return true;
      }
    },
    query() {
      const q = setStreamQuery(new URLSearchParams(), { afterId: afterId > 0n ? afterId : undefined, runId, afterSeq: runId === undefined ? undefined : (seen.get(runId) ?? 0) });
      const s = q.toString();
      return s ? `?${s}` : '';
    },
    position() {
      return runId === undefined ? { afterId } : { afterId, runId, afterSeq: seen.get(runId) ?? 0 };
    },
  };
}
