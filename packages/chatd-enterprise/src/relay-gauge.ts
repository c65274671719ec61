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
      parts: {
        async *[Symbol.asyncIterator]() {
          try {
            yield* parts;
          } finally {
            closed();
          }
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
