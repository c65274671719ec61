// Spans of the agent loop: one per model step (`chatd.step`), one per model call inside it (`chat <model>`,
// GenAI semantic conventions: gen_ai.system, gen_ai.request.model, token usage, finish reasons; a retried
// step has one call span per attempt) and one per server tool execution (`execute_tool <name>`).
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { chatdTracer, recordSpanError, withSpan } from './tracer.js';

/** The model a call span describes. */
export type ModelCallSubject = { provider: string; kind?: string | undefined; model: { modelId: string; provider: string } };

/** The step events the call span reads (the rest pass through untouched). */
type StepEventLike = { type: string };
type FinishLike = { type: 'finish'; finishReason: string; usage?: { inputTokens: { total?: number | undefined }; outputTokens: { total?: number | undefined } } | undefined };

/** Runs model step number `step` of a run inside its span. */
export function traceStep<T>(step: number, fn: () => Promise<T>): Promise<T> {
  return withSpan('chatd.step', { attributes: { 'chatd.step': step } }, async (span) => {
    const result = await fn();
    const kind = (result as { kind?: unknown }).kind;
    if (typeof kind === 'string') span.setAttribute('chatd.step.result', kind);
    return result;
  });
}

/** A model call's span, driven by its consumer: `observe` each event, `fail` on an error, `end` once. */
export type ModelCallSpan = {
  /** Reads usage and the finish reason from a `finish` event; other events cost one comparison. */
  observe(ev: StepEventLike): void;
  fail(err: unknown): void;
  end(): void;
};

/**
 * Starts a model call's client span. The run loop drives it from its own `for await` over the step's events, so
 * a streamed part costs no extra async-generator hop (wrapping the events in another generator cost ~4 promises
 * per part on the worker's hot path).
 */
export function startModelCallSpan(subject: ModelCallSubject): ModelCallSpan {
  const model = subject.model.modelId;
  const attributes: Attributes = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.system': subject.kind ?? subject.model.provider,
    'gen_ai.request.model': model,
    'chatd.provider': subject.provider,
  };
  const span = chatdTracer().startSpan(`chat ${model}`, { kind: SpanKind.CLIENT, attributes });
  return {
    observe(ev) {
      if (ev.type !== 'finish') return;
      const f = ev as unknown as FinishLike;
      span.setAttribute('gen_ai.response.finish_reasons', [f.finishReason]);
      const input = f.usage?.inputTokens.total;
      const output = f.usage?.outputTokens.total;
      if (input !== undefined) span.setAttribute('gen_ai.usage.input_tokens', input);
      if (output !== undefined) span.setAttribute('gen_ai.usage.output_tokens', output);
    },
    fail: (err) => recordSpanError(span, err),
    end: () => span.end(),
  };
}

/** Passes a model call's events through, inside a client span that ends with the stream (usage from `finish`). */
export async function* traceModelCall<E extends StepEventLike>(subject: ModelCallSubject, events: AsyncIterable<E>): AsyncGenerator<E> {
  const span = startModelCallSpan(subject);
  try {
    for await (const ev of events) {
      span.observe(ev);
      yield ev;
    }
  } catch (err) {
    span.fail(err);
    throw err;
  } finally {
    span.end();
  }
}

/** Runs one server tool call inside its span; an `isError` outcome marks the span failed. */
export function traceToolCall<T extends { isError?: boolean }>(call: { toolCallId: string; toolName: string }, fn: () => Promise<T>): Promise<T> {
  const attributes = { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': call.toolName, 'gen_ai.tool.call.id': call.toolCallId };
  return withSpan(`execute_tool ${call.toolName}`, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    const outcome = await fn();
    if (outcome.isError) span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool returned an error result' });
    return outcome;
  });
}
