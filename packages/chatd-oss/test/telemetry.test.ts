// The tracing helpers (issue 34) without a database: W3C traceparent text, the pino mixin, the "is an SDK
// registered" probe, the bins' SDK loader (loads nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set), the model
// call span's GenAI attributes and the tool span's error status.
import { Writable } from 'node:stream';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { traceLogMixin } from '../src/telemetry/log-mixin.js';
import { traceModelCall, traceToolCall } from '../src/telemetry/model-spans.js';
import { contextFromTraceparent, formatTraceparent, parseTraceparent } from '../src/telemetry/traceparent.js';
import { transactionBegin } from '../src/telemetry/transaction-begin.js';
import { liveRunSpanContext, traceRun, watchRunsOf } from '../src/telemetry/run-span.js';
import { tracingEnabled } from '../src/telemetry/tracing-enabled.js';
import { startTracingFromEnv, type TracingSdkModules } from '../src/telemetry/tracing-sdk.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

describe('without an SDK', () => {
  it('tracing is off, spans are no-ops: no traceparent, a bare BEGIN, no log fields', () => {
    expect(tracingEnabled()).toBe(false);
    trace.getTracer('t').startActiveSpan('s', (span) => {
      expect(formatTraceparent(span.spanContext())).toBeUndefined();
      expect(transactionBegin()).toBe('BEGIN');
      expect(traceLogMixin()).toEqual({});
      span.end();
    });
  });

  it('startTracingFromEnv loads nothing unless an OTLP endpoint is set', async () => {
    const load = vi.fn(async () => ({}) as TracingSdkModules);
    expect(await startTracingFromEnv({}, { load })).toBeUndefined();
    expect(await startTracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, { load })).toBeUndefined();
    expect(load).not.toHaveBeenCalled();
  });

  it('startTracingFromEnv starts the SDK with the OTLP exporter when the endpoint is set, and warns when it cannot load', async () => {
    const started: Record<string, unknown>[] = [];
    const shutdown = vi.fn(async () => {});
    class NodeSDK {
      constructor(readonly config: Record<string, unknown>) {}
      start() {
        started.push(this.config);
      }
      shutdown = shutdown;
    }
    class OTLPTraceExporter {}
    const stop = await startTracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, { load: async () => ({ NodeSDK, OTLPTraceExporter }), serviceName: 'chatd-x' });
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ serviceName: 'chatd-x', instrumentations: [] });
    expect(started[0]!.traceExporter).toBeInstanceOf(OTLPTraceExporter);
    await stop!();
    expect(shutdown).toHaveBeenCalledTimes(1);

    const warnings: string[] = [];
    const none = await startTracingFromEnv(
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' },
      { load: () => Promise.reject(new Error('Cannot find package')), warn: (l) => warnings.push(l) },
    );
    expect(none).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining('Cannot find package')]);
  });
});

describe('traceparent text', () => {
  it('round-trips a valid value and refuses anything else', () => {
    const sc = parseTraceparent(TP)!;
    expect(sc).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
    expect(formatTraceparent(sc)).toBe(TP);
    for (const bad of [undefined, null, '', 'x', TP.replace(/^00/, '01'), TP.slice(0, -1), '00-00000000000000000000000000000000-b7ad6b7169203331-01', "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'; --"]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
    expect(trace.getSpanContext(contextFromTraceparent('nonsense', context.active()))).toBeUndefined();
  });
});

describe('with an SDK', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  it('log lines inside a span carry its trace_id and span_id (the pino mixin)', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(String(chunk)), done()) });
    const logger = pino({ mixin: traceLogMixin }, sink);
    expect(tracingEnabled()).toBe(true);
    trace.getTracer('t').startActiveSpan('s', (span) => {
      logger.info({ a: 1 }, 'inside');
      const sc = span.spanContext();
      expect(JSON.parse(lines[0]!)).toMatchObject({ a: 1, msg: 'inside', trace_id: sc.traceId, span_id: sc.spanId });
      expect(transactionBegin()).toBe(`BEGIN; SELECT set_config('chatd.traceparent', '${formatTraceparent(sc)}', true)`);
      span.end();
    });
    logger.info({}, 'outside');
    expect(JSON.parse(lines[1]!).trace_id).toBeUndefined();
  });

  it('a model call span has the GenAI attributes of its finish; a failing stream marks it failed', async () => {
    exporter.reset();
    async function* events() {
      yield { type: 'text-delta', text: 'hi' };
      yield { type: 'finish', finishReason: 'stop', usage: { inputTokens: { total: 7 }, outputTokens: { total: 3 } } };
    }
    const subject = { provider: 'acme', kind: 'openai', model: { modelId: 'gpt-x', provider: 'openai.chat' } };
    const seen: string[] = [];
    for await (const ev of traceModelCall(subject, events())) seen.push(ev.type);
    expect(seen).toEqual(['text-delta', 'finish']);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('chat gpt-x');
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-x',
      'gen_ai.usage.input_tokens': 7,
      'gen_ai.usage.output_tokens': 3,
      'gen_ai.response.finish_reasons': ['stop'],
    });

    exporter.reset();
    async function* failing(): AsyncGenerator<{ type: string }> {
      yield { type: 'text-delta' };
      throw new Error('provider down');
    }
    await expect(async () => {
      for await (const _ of traceModelCall(subject, failing())) void _;
    }).rejects.toThrow('provider down');
    expect(exporter.getFinishedSpans()[0]!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'provider down' });
  });

  it("a run is the child of its chat's stored traceparent, is active for its work, and links the open stream sessions of its chat", async () => {
    exporter.reset();
    const session = trace.getTracer('t').startSpan('chatd.stream');
    const unwatch = watchRunsOf('chat-1', session);
    let inside: string | undefined;
    let finish!: (r: { outcome: string }) => void;
    const run = traceRun({ chat: { id: 'chat-1' }, runId: 'run-1', traceparent: TP }, 'worker-1', () => {
      inside = trace.getActiveSpan()?.spanContext().spanId;
      return { done: new Promise<{ outcome: string }>((r) => (finish = r)) };
    });
    const runContext = liveRunSpanContext('chat-1');
    expect(runContext?.spanId).toBe(inside);
    finish({ outcome: 'failed' });
    await run.done;
    await new Promise((r) => setImmediate(r));
    expect(liveRunSpanContext('chat-1')).toBeUndefined();
    unwatch();
    session.end();
    const spans = exporter.getFinishedSpans();
    const runSpan = spans.find((s) => s.name === 'chatd.run')!;
    expect(runSpan.spanContext().traceId).toBe(TP.split('-')[1]);
    expect(runSpan.parentSpanContext?.spanId).toBe(TP.split('-')[2]);
    expect(runSpan.attributes).toMatchObject({ 'chatd.chat_id': 'chat-1', 'chatd.run_id': 'run-1', 'chatd.worker_id': 'worker-1', 'chatd.run.outcome': 'failed' });
    expect(runSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(spans.find((s) => s.name === 'chatd.stream')!.links.map((l) => l.context.spanId)).toEqual([runSpan.spanContext().spanId]);
  });

  it('a tool span is named after the tool and fails with an error result', async () => {
    exporter.reset();
    await traceToolCall({ toolCallId: 'c1', toolName: 'add' }, async () => ({ isError: false }));
    await traceToolCall({ toolCallId: 'c2', toolName: 'add' }, async () => ({ isError: true }));
    const [ok, bad] = exporter.getFinishedSpans();
    expect(ok!.name).toBe('execute_tool add');
    expect(ok!.attributes).toMatchObject({ 'gen_ai.tool.name': 'add', 'gen_ai.tool.call.id': 'c1' });
    expect(ok!.status.code).toBe(SpanStatusCode.UNSET);
    expect(bad!.status.code).toBe(SpanStatusCode.ERROR);
  });
});
