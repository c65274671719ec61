// Stream "sockets" over Server-Sent Events read with `fetch` (contract.md#sse), for browsers and proxies where a
// WebSocket is not wanted: unlike EventSource, fetch can send the token header. Each connection is one GET with
// `Accept: text/event-stream`; the resume point travels as `Last-Event-ID`, which the server reads in the stream
// query's encoding (the SSE id is that encoding), so the URL's cursor and the header always agree. Frames are the
// events' `data:` lines; pausing stops reading the body, so the server sees a slow client. A refusal's status and
// body are read (`readsRefusals`).
import type { StreamSocketFactory } from './stream-socket.js';

/** Options of `createSseSocketFactory`. */
export type SseSocketFactoryOptions = {
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Headers of every connection (the session token). */
  headers?: Record<string, string>;
};

/** The `http(s)` URL of a stream URL given as `ws(s)`. */
function httpUrl(url: string): string {
  return url.replace(/^ws/, 'http');
}

/** Splits SSE text into events: each event's data lines (joined by `\n`); comments and ids are consumed. */
function createSseParser(onData: (data: string) => void) {
  let buffer = '';
  return (chunk: string) => {
    buffer += chunk.replace(/\r\n?/g, '\n');
    let at: number;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      const data: string[] = [];
      for (const line of block.split('\n')) if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      if (data.length > 0) onData(data.join('\n'));
    }
  };
}

/** Stream connections over SSE with `fetch`. */
export function createSseSocketFactory(options: SseSocketFactoryOptions = {}): StreamSocketFactory {
  const fetchFn = options.fetch ?? ((...args: Parameters<typeof globalThis.fetch>) => globalThis.fetch(...args));
  return {
    readsRefusals: true,
    open(url, events) {
      const controller = new AbortController();
      const target = new URL(httpUrl(url));
      // The cursor of this attempt as the SSE resume header (the server's id encoding is the stream query's).
      const cursor = new URLSearchParams();
      for (const key of ['after_id', 'after_seq', 'run_id']) {
        const v = target.searchParams.get(key);
        if (v !== null) cursor.set(key, v);
      }
      let paused = false;
      let wakeReader: (() => void) | undefined;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        events.ended();
      };
      void (async () => {
        let res: Response;
        try {
          res = await fetchFn(target.toString(), {
            headers: { ...options.headers, accept: 'text/event-stream', ...(cursor.size > 0 ? { 'last-event-id': cursor.toString() } : {}) },
            signal: controller.signal,
          });
        } catch {
          end();
          return;
        }
        if (!res.ok || !res.body) {
          const body = await res.text().catch(() => '');
          const retryAfter = res.headers.get('retry-after');
          events.refused({ status: res.status, body, ...(retryAfter ? { retryAfter } : {}) });
          end();
          return;
        }
        events.opened();
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        const parse = createSseParser((data) => events.frame(data));
        try {
          for (;;) {
            while (paused && !controller.signal.aborted) await new Promise<void>((resolve) => (wakeReader = resolve));
            const { done, value } = await reader.read();
            if (done) break;
            parse(decoder.decode(value, { stream: true }));
          }
        } catch {
          // Aborted or cut: the stream reconnects with its cursor.
        }
        end();
      })();
      const wake = () => {
        const w = wakeReader;
        wakeReader = undefined;
        w?.();
      };
      return {
        pause() {
          paused = true;
        },
        resume() {
          paused = false;
          wake();
        },
        get paused() {
          return paused;
        },
        close() {
          controller.abort();
          wake();
        },
      };
    },
  };
}
