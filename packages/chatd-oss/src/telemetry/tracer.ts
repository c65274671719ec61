// The tracer of @chatd/oss and the one helper every instrumented seam uses. Only `@opentelemetry/api` is
// imported: without a registered SDK (the bins load one only when OTEL_EXPORTER_OTLP_ENDPOINT is set) every
// call is the API's no-op, so a replica without tracing pays a few function calls per span and nothing else.
import { context, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type SpanKind, type Tracer } from '@opentelemetry/api';

/** Instrumentation scope name of the spans @chatd/oss starts. */
export const TRACER_NAME = '@chatd/oss';

/** The package's tracer (looked up per call: the SDK may be registered after this module loads). */
export function chatdTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** What a span is started with. */
export type SpanOptions = { kind?: SpanKind; attributes?: Attributes; links?: Link[]; parent?: Context };

/** Marks `span` failed with `err` (its message and type, as the semantic conventions' exception event). */
export function recordSpanError(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, ...(err instanceof Error ? { message: err.message } : {}) });
}

/**
 * Runs `fn` inside a new active span that ends when `fn` settles; a rejection is recorded on the span and
 * rethrown unchanged.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const { parent, ...spanOptions } = options;
  return chatdTracer().startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordSpanError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}
