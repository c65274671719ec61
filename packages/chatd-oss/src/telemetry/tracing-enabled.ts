// Whether an OpenTelemetry SDK registered a tracer provider. Seams whose tracing costs more than a no-op call
// (an extra query, a header) ask this first, so a replica without tracing does no such work at all.
import { ProxyTracerProvider, trace } from '@opentelemetry/api';

// A fresh proxy's delegate is the API's no-op provider (a singleton), the one to compare against.
const NOOP_DELEGATE = new ProxyTracerProvider().getDelegate();

/** True once a real tracer provider is registered globally. */
export function tracingEnabled(): boolean {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider ? provider.getDelegate() !== NOOP_DELEGATE : true;
}
