// The pino mixin that puts the active span's `trace_id` and `span_id` on every log line, so a log search and
// a trace viewer meet on the same ids. Lines logged outside any span (or with tracing off) get no fields.
import { isSpanContextValid, trace } from '@opentelemetry/api';

/** Fields of a log line logged inside a span: `{trace_id, span_id}`; `{}` elsewhere. */
export function traceLogMixin(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}
