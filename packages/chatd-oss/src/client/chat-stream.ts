// A chat's stream socket as an async iterator that outlives its sockets (contract.md#stream, contract.md#part-cursor):
// it reconnects by itself with the cursor (after_id, run_id + after_seq), waits between failed attempts
// on the injected clock, passes discontinuities on, and yields each message and part once. It does not
// interpret events beyond the cursor; what to do with a discontinuity is the consumer's (and replyText's).
// A consumer slower than the stream stops the socket reading, so the server's slow-client rules apply.
import type { Clock } from '@chatd/clock';
import { decodeStreamFrame, type ChatStreamEvent } from '@chatd/protocol';
import WebSocket from 'ws';
import { errorFromResponse, isRetryableStatus } from './http-error.js';
import { reconnectDelayMs, type ReconnectBackoffOptions } from './reconnect-backoff.js';
import { createStreamCursor, toAfterId, type StreamPosition } from './stream-cursor.js';

/** Largest frame the client accepts: above the original SDK's 4 MiB, since one durable message may hold 4 MiB of content. @default 16 MiB */
export const MAX_STREAM_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * Frames buffered for a consumer that has not caught up, above which the socket stops reading (so the
 * server sees a slow client and coalesces, or cuts it with `too_slow`); reading resumes once they are taken. @default 64
 */
export const MAX_BUFFERED_FRAMES = 64;
/** Tag of the clock timer a stream waits on before reconnecting. */
export const RECONNECT_TIMER_TAG = 'chat-stream:reconnect';


/** The ws-compatible WebSocket class the client dials with (injectable for tests and proxies). */
export type WebSocketClass = typeof WebSocket;

/** Why a connection of the stream ended. */
export type StreamConnectionEnd = {
  /** Connections made so far, this one included. */
  attempt: number;
  /** Frames this connection delivered. */
  frames: number;
  /** WebSocket close code, when the socket had opened and closed. */
  closeCode?: number;
  /** HTTP status, when the upgrade was refused. */
  status?: number;
  /** Milliseconds the stream waits before the next attempt. */
  delayMs: number;
};

/** Options of one stream. */
export type ChatStreamOptions = {
  /** Ends the stream (the iterator returns); the socket is closed. */
  signal?: AbortSignal;
  /** Start after this durable message id (int64: number, bigint or decimal string). @default 0 (the whole history) */
  afterId?: number | bigint | string;
  /** Resume a run's parts after `afterSeq` (both or neither). */
  runId?: string;
  afterSeq?: number;
  /** Called when a connection ends and the stream is about to reconnect. */
  onReconnect?: (end: StreamConnectionEnd) => void;
};

/** What `openChatStream` needs from its client. */
export type ChatStreamDeps = {
  /** `ws://` or `wss://` URL of the chat's stream route, without a query. */
  url: string;
  headers: Record<string, string>;
  WebSocket: WebSocketClass;
  clock: Clock;
  backoff?: ReconnectBackoffOptions;
};

type Connection = {
  /** The next batch of events, or undefined once the socket has ended. */
  next(): Promise<ChatStreamEvent[] | undefined>;
  close(): void;
  readonly frames: number;
  readonly closeCode: number | undefined;
  readonly rejected: { status: number; body: string } | undefined;
};

/** Parses one frame: a bare JSON array of events (`decodeStreamFrame`). A frame that is not one is dropped, as are malformed or unknown entries. */
function parseFrame(data: unknown): ChatStreamEvent[] | undefined {
  // The decoder checks each event's type and cursor fields (streamEventSchema); the rest is the server's shape.
  return decodeStreamFrame(String(data))?.events as ChatStreamEvent[] | undefined;
}

function connect(deps: ChatStreamDeps, query: string): Connection {
  const batches: ChatStreamEvent[][] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  let frames = 0;
  let closeCode: number | undefined;
  let rejected: { status: number; body: string } | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const finish = () => {
    ended = true;
    notify();
  };
  const ws = new deps.WebSocket(`${deps.url}${query}`, { headers: deps.headers, perMessageDeflate: false, maxPayload: MAX_STREAM_FRAME_BYTES });
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const events = parseFrame(data);
    if (!events) return;
    frames++;
    batches.push(events);
    if (batches.length >= MAX_BUFFERED_FRAMES && !ws.isPaused) ws.pause();
    notify();
  });
  ws.on('unexpected-response', (_req, res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (body.length < 64 * 1024) body += chunk;
    });
    res.on('end', () => {
      rejected = { status: res.statusCode ?? 0, body };
      ws.terminate();
      finish();
    });
    res.on('error', () => {
      rejected = { status: res.statusCode ?? 0, body };
      ws.terminate();
      finish();
    });
  });
  ws.on('error', finish);
  ws.on('close', (code) => {
    closeCode = code;
    finish();
  });
  return {
    async next() {
      for (;;) {
        const batch = batches.shift();
        if (batch) {
          if (ws.isPaused && batches.length < MAX_BUFFERED_FRAMES / 2) ws.resume();
          return batch;
        }
        if (ended) return undefined;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    close() {
      if (ws.readyState === ws.OPEN) ws.close(1000, 'client done');
      else ws.terminate();
      finish();
    },
    get frames() {
      return frames;
    },
    get closeCode() {
      return closeCode;
    },
    get rejected() {
      return rejected;
    },
  };
}

/**
 * Streams a chat's events across reconnects. Ends when `signal` aborts or the consumer stops; throws a
 * ChatdError when the server refuses the stream for good (400, 401, 403, 404). Every other failure
 * (network, 5xx, a cut socket, a `too_slow` close) is retried with the cursor.
 */
export async function* openChatStream(deps: ChatStreamDeps, options: ChatStreamOptions = {}): AsyncGenerator<ChatStreamEvent, void, undefined> {
  const { signal } = options;
  const start: Partial<StreamPosition> = { afterId: toAfterId(options.afterId) };
  if ((options.runId === undefined) !== (options.afterSeq === undefined)) throw new RangeError('runId and afterSeq go together');
  if (options.runId !== undefined) {
    start.runId = options.runId;
    start.afterSeq = options.afterSeq ?? 0;
  }
  const cursor = createStreamCursor(start);
  let failures = 0;
  let attempt = 0;
  while (!signal?.aborted) {
    attempt++;
    const conn = connect(deps, cursor.query());
    const onAbort = () => conn.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const batch = await conn.next();
        if (!batch) break;
        for (const event of batch) if (cursor.accept(event)) yield event;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      conn.close();
    }
    if (signal?.aborted) return;
    const rejected = conn.rejected;
    if (rejected && !isRetryableStatus(rejected.status)) throw errorFromResponse(rejected.status, rejected.body, 'opening the chat stream');
    // A socket that delivered something was healthy: come back at once. Otherwise back off.
    failures = conn.frames > 0 ? 0 : failures + 1;
    const delayMs = reconnectDelayMs(failures, deps.backoff);
    options.onReconnect?.({
      attempt,
      frames: conn.frames,
      delayMs,
      ...(conn.closeCode !== undefined ? { closeCode: conn.closeCode } : {}),
      ...(rejected ? { status: rejected.status } : {}),
    });
    if (delayMs > 0) {
      try {
        await deps.clock.sleep(delayMs, signal, RECONNECT_TIMER_TAG);
      } catch {
        return;
      }
    }
  }
}
