// The span of one relay dial (`chatd.relay.dial`, a client span that ends with the handshake). Its parent is
// the run it relays when the run's `running` notification carried the run's trace context, so the dial (and,
// through the `traceparent` header the WebSocket dialer sends, the serving replica's stream span) belong to
// the trace of the request that started the run; it links to the subscriber's own stream session, and that
// session links to the run.
import { context, SpanKind, SpanStatusCode, trace, type Link } from '@opentelemetry/api';
import { contextFromTraceparent, parseTraceparent } from '@chatd/oss';

/** Instrumentation scope name of the spans @chatd/enterprise starts. */
export const ENTERPRISE_TRACER_NAME = '@chatd/enterprise';

/** Runs `dial` inside the relay dial's span. */
export function traceRelayDial<T>(chatId: string, workerId: string, runTraceparent: string | undefined, dial: () => Promise<T>): Promise<T> {
  const active = context.active();
  const session = trace.getSpan(active)?.spanContext();
  const links: Link[] = session && trace.isSpanContextValid(session) ? [{ context: session, attributes: { 'chatd.link': 'subscriber_session' } }] : [];
  const parent = contextFromTraceparent(runTraceparent, active);
  // The subscriber's session links to the remote run it now follows.
  const run = parseTraceparent(runTraceparent);
  const sessionSpan = trace.getSpan(active);
  if (run && sessionSpan?.isRecording()) sessionSpan.addLink({ context: run, attributes: { 'chatd.link': 'run' } });
  const span = trace.getTracer(ENTERPRISE_TRACER_NAME).startSpan(
    'chatd.relay.dial',
    { kind: SpanKind.CLIENT, links, attributes: { 'chatd.chat_id': chatId, 'chatd.relay.worker_id': workerId } },
    parent,
  );
  let pending: Promise<T>;
  try {
    pending = context.with(trace.setSpan(parent, span), dial);
  } catch (err) {
    pending = Promise.reject(err);
  }
  return pending.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, ...(err instanceof Error ? { message: err.message } : {}) });
      span.end();
      throw err;
    },
  );
}
