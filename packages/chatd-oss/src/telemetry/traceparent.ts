// W3C `traceparent` text for the places where a trace context crosses a process boundary that no
// OpenTelemetry propagator sees: a message row (migration 0012), a pubsub status notification and the relay
// dial header. Formatting and parsing are done here rather than through the global propagator, so they work
// the same whatever propagators the SDK (when loaded) is configured with. Invalid text parses to undefined.
import { context, isSpanContextValid, trace, TraceFlags, type Context, type SpanContext } from '@opentelemetry/api';

/** The header (and column) name of the W3C trace context. */
export const TRACEPARENT_HEADER = 'traceparent';

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** `00-<trace id>-<span id>-<flags>` of a valid span context; undefined for an invalid (no-op) one. */
export function formatTraceparent(sc: SpanContext): string | undefined {
  if (!isSpanContextValid(sc)) return undefined;
  const flags = (sc.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  return `00-${sc.traceId}-${sc.spanId}-${flags}`;
}

/** The span context a `traceparent` names (remote), or undefined when the text is no valid version-00 value. */
export function parseTraceparent(text: string | null | undefined): SpanContext | undefined {
  if (typeof text !== 'string') return undefined;
  const m = TRACEPARENT_RE.exec(text.trim().toLowerCase());
  if (!m) return undefined;
  const sc: SpanContext = { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(sc) ? sc : undefined;
}

/** The `traceparent` of the active span; undefined when there is none (tracing off). */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  return span ? formatTraceparent(span.spanContext()) : undefined;
}

/** `base` (default the active context) with the span context `text` names as its parent; `base` when invalid. */
export function contextFromTraceparent(text: string | null | undefined, base: Context = context.active()): Context {
  const sc = parseTraceparent(text);
  return sc ? trace.setSpanContext(base, sc) : base;
}
