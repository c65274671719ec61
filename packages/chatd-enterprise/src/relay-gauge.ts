// The `chatd_relays` gauge: a dialer decorator that counts the relay connections open through it, from a
// successful dial until its parts end or it is cancelled (whichever comes first, counted once). Wrapped around
// the WebSocket dialer, under the sharing layer, it counts real connections, not the subscribers sharing them.
import type { ServerMetrics } from '@chatd/oss';
import type { RelayConnection, RelayDialer } from './relay-dialer.js';

/** `dialer`, with every connection it opens counted in `metrics`' `chatd_relays` while open. */
export function countRelayConnections(dialer: RelayDialer, metrics: ServerMetrics): RelayDialer {
  return async (params) => {
    const conn = await dialer(params);
    metrics.inc('chatd_relays');
    let open = true;
    const closed = () => {
      if (!open) return;
      open = false;
      metrics.inc('chatd_relays', -1);
    };
    const parts = conn.parts;
    const counted: RelayConnection = {
      snapshot: conn.snapshot,
      // A plain iterator over the parts, not an async generator around `yield*`: that cost several promises per part.
      parts: {
        [Symbol.asyncIterator]() {
          const inner = parts[Symbol.asyncIterator]();
          return {
            next: () =>
              inner.next().then(
                (result) => {
                  if (result.done) closed();
                  return result;
                },
                (err: unknown) => {
                  closed();
                  throw err;
                },
              ),
            return: (value?: unknown) => {
              closed();
              return inner.return ? inner.return(value) : Promise.resolve({ value: undefined, done: true as const });
            },
          };
        },
      },
      cancel() {
        closed();
        conn.cancel();
      },
    };
    return counted;
  };
}
