// The port between a chat stream and a WebSocket implementation: the stream opens one socket per connection
// and hears its frames, a refused upgrade (where the implementation can read one) and its end. Node dials with
// `ws` (headers, back-pressure, the refusal's status); browsers with the global WebSocket (same-origin cookie,
// neither). It carries no stream logic.

/** An upgrade the server refused with an HTTP answer. */
export type StreamRefusal = {
  status: number;
  body: string;
  /** The answer's `Retry-After` header. */
  retryAfter?: string;
};

/** What a socket reports to its stream. `ended` may come more than once; the first one counts. */
export type StreamSocketEvents = {
  /** The socket is open. */
  opened(): void;
  /** One text frame (binary frames are not passed on). */
  frame(text: string): void;
  /** The upgrade was refused (`ended` follows). */
  refused(refusal: StreamRefusal): void;
  /** The socket closed (`code` once it had opened) or failed. */
  ended(code?: number): void;
};

/** One open (or opening) socket. */
export interface StreamSocket {
  /** Stops reading, so the server sees a slow client (a no-op where the implementation cannot). */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /** Closes the socket (1000) or abandons it while it opens. */
  close(): void;
}

/** Opens stream sockets. */
export interface StreamSocketFactory {
  open(url: string, events: StreamSocketEvents): StreamSocket;
  /** Whether a refused upgrade is reported with its status; a browser only sees a socket that failed. */
  readonly readsRefusals: boolean;
}
