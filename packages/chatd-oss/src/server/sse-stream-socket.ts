// A stream as Server-Sent Events (contract.md#sse): an HTTP response the stream sender writes to as it writes to a
// WebSocket. Each frame is one event, `id:` the cursor after it (the stream query's own encoding, so
// `Last-Event-ID` resumes exactly as `?after_id=&after_seq=&run_id=` does), `data:` the frame's bare JSON array.
// The send buffer the sender measures is `res.writableLength`. It does not subscribe, authenticate or keep alive.
import type { ServerResponse } from 'node:http';
import type { Clock } from '@chatd/clock';
import { setStreamQuery, type ChatStreamEvent, type StreamCursorQuery } from '@chatd/protocol';
import type { StreamSocket } from './stream-sender.js';

/** Response headers of an SSE stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  // Proxies such as nginx buffer responses unless told otherwise.
  'x-accel-buffering': 'no',
} as const;

/**
 * How long an ended stream may take to hand its last bytes to a client before the connection is cut (a client that
 * stopped reading would otherwise hold it, and its cap slot, forever; ws closes its sockets after the same wait).
 * @default 30000
 */
export const SSE_CLOSE_TIMEOUT_MS = 30_000;

/** The SSE `id:` of a cursor: the stream query's encoding (`after_id=..&after_seq=..&run_id=..`), empty for none. */
export function sseEventId(cursor: StreamCursorQuery): string {
  return setStreamQuery(new URLSearchParams(), cursor).toString();
}

/** An SSE response as a StreamSocket, plus the comment line of its keep-alive. */
export interface SseStreamSocket extends StreamSocket {
  /** Writes a comment line (`:`), which keeps proxies from timing the stream out. */
  comment(text?: string): void;
  /** The cursor after every frame sent so far. */
  cursor(): StreamCursorQuery;
}

/** Wraps `res` (headers not yet sent) and sends the SSE headers. `start` is the cursor the stream began at. */
export function createSseStreamSocket(res: ServerResponse, start: StreamCursorQuery, clock: Clock): SseStreamSocket {
  // The client's cursor rules (contract.md#part-cursor), kept on the server: messages raise after_id, a part
  // names its run and seq, a discontinuity forgets the run, a history reset starts over.
  let afterId = start.afterId ?? 0n;
  let runId = start.runId;
  let afterSeq = start.afterSeq;
  const accept = (event: ChatStreamEvent) => {
    switch (event.type) {
      case 'message': {
        const id = BigInt(event.message.id);
        if (id > afterId) afterId = id;
        break;
      }
      case 'message_part':
        runId = event.message_part.run_id;
        afterSeq = event.message_part.seq;
        break;
      case 'discontinuity':
        runId = undefined;
        afterSeq = undefined;
        break;
      case 'history_reset':
        afterId = 0n;
        runId = undefined;
        afterSeq = undefined;
        break;
      default:
        break;
    }
  };
  const cursor = (): StreamCursorQuery => ({ ...(afterId > 0n ? { afterId } : {}), ...(runId !== undefined ? { runId, afterSeq: afterSeq ?? 0 } : {}) });
  const isOpen = () => !res.writableEnded && !res.destroyed;

  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();

  return {
    get bufferedAmount() {
      return res.writableLength;
    },
    get isOpen() {
      return isOpen();
    },
    sendFrame(frame, events) {
      for (const e of events) accept(e);
      res.cork();
      res.write(`id: ${sseEventId(cursor())}\ndata: `);
      res.write(frame);
      res.write('\n\n');
      process.nextTick(() => res.uncork());
    },
    // SSE has no close code: the stream ends; a client that was cut reconnects with its Last-Event-ID.
    close: () => {
      if (!isOpen()) return;
      res.end();
      const cut = clock.setTimeout(() => res.destroy(), SSE_CLOSE_TIMEOUT_MS, 'sse-close');
      res.once('close', () => cut.cancel());
    },
    terminate: () => res.destroy(),
    onClose: (listener) => void res.once('close', listener),
    comment(text = '') {
      if (isOpen()) res.write(`:${text}\n\n`);
    },
    cursor,
  };
}
