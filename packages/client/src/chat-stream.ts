// A chat's stream socket as an async iterator that outlives its sockets (contract.md#stream, contract.md#part-cursor): it
// reconnects by itself with the cursor (after_id, run_id + after_seq), waits between failed attempts on the
// injected clock, passes discontinuities on, and yields each message and part once. It does not interpret events
// beyond the cursor; what to do with a discontinuity is the consumer's (and replyText's). Sockets come from a
// StreamSocketFactory (ws in Node, the standard WebSocket in browsers). Where the socket can pause, a consumer
// slower than the stream stops the socket reading, so the server's slow-client rules apply.
import type { Clock } from '@chatd/clock';
import { decodeStreamFrame, type ChatStreamEvent } from '@chatd/protocol';
import { isChatdClientError } from './chatd-client-error.js';
import { errorFromResponse, isRetryableStatus, parseRetryAfterMs } from './http-error.js';
import { reconnectDelayMs, type ReconnectBackoffOptions } from './reconnect-backoff.js';
import type { StreamRefusal, StreamSocketFactory } from './stream-socket.js';
import { createStreamCursor, toAfterId, type StreamPosition } from './stream-cursor.js';

/**
 * Frames buffered for a consumer that has not caught up, above which the socket stops reading (so the
 * server sees a slow client and coalesces, or cuts it with `too_slow`); reading resumes once they are taken. @default 64
 */
export const MAX_BUFFERED_FRAMES = 64;
/** Tag of the clock timer a stream waits on before reconnecting. */
export const RECONNECT_TIMER_TAG = 'chat-stream:reconnect';
/** Failed attempts in a row, on a socket that hides refusals (browsers), after which the stream asks the REST API why. @default 3 */
export const PROBE_AFTER_FAILURES = 3;

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
  /** Called when a connection has opened (`attempt` counts connections, this one included). */
  onOpen?: (attempt: number) => void;
  /** Called when a connection ends and the stream is about to reconnect. */
  onReconnect?: (end: StreamConnectionEnd) => void;
};

/** Extra query parameters of each stream connection (e.g. a single-use socket ticket), asked for before each attempt. */
export type StreamQueryProvider = (chatId: string) => Record<string, string> | Promise<Record<string, string>>;

/** What `openChatStream` needs from its client. */
export type ChatStreamDeps = {
  /** `ws://` or `wss://` URL of the chat's stream route, without a query. */
  url: string;
  /** Opens the sockets. */
  socket: StreamSocketFactory;
  clock: Clock;
  backoff?: ReconnectBackoffOptions;
  /** Extra query of each connection (called without arguments: the client binds the chat). */
  query?: () => Record<string, string> | Promise<Record<string, string>>;
  /**
   * Asks the REST API about the chat (e.g. `GET /{chat}`) after `PROBE_AFTER_FAILURES` failed attempts on a socket
   * that hides refusals: a ChatdClientError of a status not worth retrying (401, 404) then ends the stream.
   */
  probe?: () => Promise<unknown>;
};

type Connection = {
  /** The next batch of events, or undefined once the socket has ended. */
  next(): Promise<ChatStreamEvent[] | undefined>;
  close(): void;
  readonly opened: boolean;
  readonly frames: number;
  readonly closeCode: number | undefined;
  readonly rejected: StreamRefusal | undefined;
};

/** Parses one frame: a bare JSON array of events (`decodeStreamFrame`). A frame that is not one is dropped, as are malformed or unknown entries. */
function parseFrame(text: string): ChatStreamEvent[] | undefined {
  // The decoder checks each event's type and cursor fields (streamEventSchema); the rest is the server's shape.
  return decodeStreamFrame(text)?.events as ChatStreamEvent[] | undefined;
}

function connect(deps: ChatStreamDeps, url: string, onOpen: () => void): Connection {
  const batches: ChatStreamEvent[][] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  let opened = false;
  let frames = 0;
  let closeCode: number | undefined;
  let rejected: StreamRefusal | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const finish = () => {
    ended = true;
    notify();
  };
  const socket = deps.socket.open(url, {
    opened() {
      opened = true;
      onOpen();
    },
    frame(text) {
      const events = parseFrame(text);
      if (!events) return;
      frames++;
      batches.push(events);
      if (batches.length >= MAX_BUFFERED_FRAMES && !socket.paused) socket.pause();
      notify();
    },
    refused(refusal) {
      rejected = refusal;
    },
    ended(code) {
      if (code !== undefined && closeCode === undefined) closeCode = code;
      finish();
    },
  });
  return {
    async next() {
      for (;;) {
        const batch = batches.shift();
        if (batch) {
          if (socket.paused && batches.length < MAX_BUFFERED_FRAMES / 2) socket.resume();
          return batch;
        }
        if (ended) return undefined;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    close() {
      socket.close();
      finish();
    },
    get opened() {
      return opened;
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

/** The URL of one attempt: the cursor's query, then the provider's parameters. */
function attemptUrl(url: string, cursorQuery: string, extra: Record<string, string> | undefined): string {
  if (!extra || Object.keys(extra).length === 0) return `${url}${cursorQuery}`;
  const params = new URLSearchParams(cursorQuery);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return `${url}?${params.toString()}`;
}

/**
 * Streams a chat's events across reconnects. Ends when `signal` aborts or the consumer stops; throws a
 * ChatdClientError when the server refuses the stream for good (400, 401, 403, 404). Every other failure
 * (network, 5xx, 429, a cut socket, a `too_slow` close) is retried with the cursor.
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
    // Without a query provider the socket opens at once, in the same turn as the iterator's first `next()`.
    const url = attemptUrl(deps.url, cursor.query(), deps.query ? await deps.query() : undefined);
    if (signal?.aborted) return;
    const thisAttempt = attempt;
    const conn = connect(deps, url, () => options.onOpen?.(thisAttempt));
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
    if (rejected && !isRetryableStatus(rejected.status)) {
      throw errorFromResponse(rejected.status, rejected.body, 'opening the chat stream', { retryAfter: rejected.retryAfter, tooManyCode: 'TOO_MANY_CONNECTIONS' });
    }
    // A socket that delivered something was healthy: come back at once. Otherwise back off.
    failures = conn.frames > 0 ? 0 : failures + 1;
    if (!conn.opened && !rejected && !deps.socket.readsRefusals && deps.probe && failures >= PROBE_AFTER_FAILURES) {
      // A browser cannot read a refused upgrade's status: ask the REST API whether the chat is still ours.
      try {
        await deps.probe();
      } catch (err) {
        if (isChatdClientError(err) && err.status !== undefined && !isRetryableStatus(err.status)) throw err;
      }
      if (signal?.aborted) return;
    }
    // A rate-limited refusal says when to come back: never sooner.
    const delayMs = Math.max(reconnectDelayMs(failures, deps.backoff), parseRetryAfterMs(rejected?.retryAfter) ?? 0);
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
