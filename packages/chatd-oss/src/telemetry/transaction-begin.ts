// The statement that opens a store transaction: `BEGIN`, plus the active span's `traceparent` in the
// transaction-local setting that the message columns default to (migration 0012), in the same round trip.
import { activeTraceparent } from './traceparent.js';

/** `BEGIN`, with `set_config('chatd.traceparent', ...)` when a span is active. */
export function transactionBegin(): string {
  const tp = activeTraceparent();
  // Inlined, not a parameter: a multi-statement text needs the simple query protocol. `tp` is our own
  // formatting of hex ids (formatTraceparent), so it cannot carry a quote.
  return tp === undefined ? 'BEGIN' : `BEGIN; SELECT set_config('chatd.traceparent', '${tp}', true)`;
}
