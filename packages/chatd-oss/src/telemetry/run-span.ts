// The span of one generation run. Its parent is the trace context stored with the chat's newest message
// (traced-chat-store.ts), so a run that another replica starts from the database continues the trace of the
// request that wrote that message; without one it is a root. The run's context is active for everything the
// run does (steps, model calls, tools, its writes and the status it publishes). Runs in flight are kept by
// chat so that a stream session on this replica can link to the run it streams, and the stream sessions open
// on this replica are kept by chat so that a run that starts while they are open links them to itself.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type SpanContext } from '@opentelemetry/api';
import { contextFromTraceparent } from './traceparent.js';
import { chatdTracer } from './tracer.js';

/** What the run span needs of an acquired chat. */
export type RunSpanSubject = { chat: { id: string }; runId: string; traceparent?: string };

/** What the run span needs of the run `start` returns. */
export type TracedRun = { done: Promise<{ outcome: string }> };

const live = new Map<string, SpanContext>();
const sessions = new Map<string, Set<Span>>();

/**
 * Registers the recording span of a stream session of `chatId` until the returned function is called: the runs
 * of that chat that start meanwhile on this replica are added to its links. Non-recording spans are not kept.
 */
export function watchRunsOf(chatId: string, session: Span): () => void {
  if (!session.isRecording()) return () => {};
  let set = sessions.get(chatId);
  if (!set) sessions.set(chatId, (set = new Set()));
  set.add(session);
  return () => {
    set.delete(session);
    if (set.size === 0 && sessions.get(chatId) === set) sessions.delete(chatId);
  };
}

/** The span context of the run in flight on this replica for `chatId`, if any. */
export function liveRunSpanContext(chatId: string): SpanContext | undefined {
  return live.get(chatId);
}

/** Starts the run's span, calls `start` inside it and ends the span with the run's outcome. */
export function traceRun<R extends TracedRun>(subject: RunSpanSubject, workerId: string, start: () => R): R {
  const parent = contextFromTraceparent(subject.traceparent, ROOT_CONTEXT);
  const span = chatdTracer().startSpan(
    'chatd.run',
    { kind: SpanKind.INTERNAL, attributes: { 'chatd.chat_id': subject.chat.id, 'chatd.run_id': subject.runId, 'chatd.worker_id': workerId } },
    parent,
  );
  const sc = span.spanContext();
  live.set(subject.chat.id, sc);
  for (const session of sessions.get(subject.chat.id) ?? []) session.addLink({ context: sc, attributes: { 'chatd.link': 'run' } });
  const run = context.with(trace.setSpan(parent, span), start);
  void run.done.then(
    (result) => {
      span.setAttribute('chatd.run.outcome', result.outcome);
      if (result.outcome === 'failed' || result.outcome === 'abandoned') span.setStatus({ code: SpanStatusCode.ERROR, message: result.outcome });
    },
    () => {},
  ).finally(() => {
    if (live.get(subject.chat.id) === sc) live.delete(subject.chat.id);
    span.end();
  });
  return run;
}
