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

/** Passes a model call's events through, inside a client span that ends with the stream (usage from `finish`). */
export async function* traceModelCall<E extends StepEventLike>(subject: ModelCallSubject, events: AsyncIterable<E>): AsyncGenerator<E> {
  const model = subject.model.modelId;
  const attributes: Attributes = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.system': subject.kind ?? subject.model.provider,
    'gen_ai.request.model': model,
    'chatd.provider': subject.provider,
  };
  const span = chatdTracer().startSpan(`chat ${model}`, { kind: SpanKind.CLIENT, attributes });
  try {
    for await (const ev of events) {
      if (ev.type === 'finish') {
        const f = ev as unknown as FinishLike;
        span.setAttribute('gen_ai.response.finish_reasons', [f.finishReason]);
        const input = f.usage?.inputTokens.total;
        const output = f.usage?.outputTokens.total;
        if (input !== undefined) span.setAttribute('gen_ai.usage.input_tokens', input);
        if (output !== undefined) span.setAttribute('gen_ai.usage.output_tokens', output);
      }
      yield ev;
    }
  } catch (err) {
    recordSpanError(span, err);
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
