// Issue 34 acceptance (traces half): one message sent on replica A for a chat generated on replica B gives ONE
// trace holding A's request and its store write, B's run, step, model call and persist/finish transactions,
// A's relay dial and B's stream span of the relay leg. Both replicas run in this process (in-process
// `startChatdServer` with the enterprise hook, registry and credential check, as `chatd-enterprise serve` wires
// them; real ws sockets on port 0, real PostgreSQL) and share one tracer provider with an in-memory exporter:
// the trace context crosses between them only the way it crosses between processes (the message row's
// traceparent, the `running` notification over PostgreSQL NOTIFY, the relay dial's `traceparent` header).
import { context, trace, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { migrate, type ChatStreamEvent, type RunningChatd } from '@chatd/oss';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ENTERPRISE_MIGRATIONS_KEY, ENTERPRISE_MIGRATION_SOURCES } from '../src/enterprise-migrations.js';
import { apiClient } from './helpers/replica-process.js';
import { startInProcessReplica, type InProcessReplica } from './helpers/in-process-replica.js';
import type { RelayMode } from '../src/index.js';

const db = useTestDatabase({ key: ENTERPRISE_MIGRATIONS_KEY, migrate: (url) => migrate(url, { sources: ENTERPRISE_MIGRATION_SOURCES }).then(() => undefined) });

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

type Replica = InProcessReplica;

async function startReplica(databaseUrl: string, worker: boolean, relayMode: RelayMode): Promise<Replica> {
  // A reply of about a second: long enough for A to dial B and relay parts.
  return startInProcessReplica(databaseUrl, { worker, relayMode, env: { CHATD_DEMO_TOKENS_PER_SECOND: '60', CHATD_DEMO_REPLY_TOKENS: '60' } });
}

/** Subscribing replicas (no worker), one per relay mode, and B, which generates. */
const subscribers = new Map<RelayMode, Replica>();
let B: Replica;
let token: string;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
  // A runs no worker, so the chat runs on B and A's subscriber reaches it through a relay leg.
  let perSubscriber: Replica, link: Replica;
  [perSubscriber, link, B] = await Promise.all([startReplica(db.url, false, 'per-subscriber'), startReplica(db.url, false, 'link'), startReplica(db.url, true, 'link')]);
  subscribers.set('per-subscriber', perSubscriber).set('link', link);
  const { user } = await B.running.chatd.identity.ensureUser({ username: 'traced' });
  token = (await B.running.chatd.identity.createToken(user.id, 'test')).token;
}, 60_000);

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  for (const r of [...subscribers.values(), B]) {
    await r?.running.close();
    await r?.registry.deregister();
  }
  await provider.shutdown();
  trace.disable();
  context.disable();
});

function openStream(replica: Replica, chatId: string): Promise<ChatStreamEvent[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${replica.running.url.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream`, {
      headers: { 'coder-session-token': token },
      perMessageDeflate: false,
    });
    const events: ChatStreamEvent[] = [];
    ws.on('message', (data) => events.push(...(JSON.parse(String(data)) as ChatStreamEvent[])));
    ws.once('open', () => {
      sockets.push(ws);
      resolve(events);
    });
    ws.once('error', reject);
  });
}

const byName = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('traces across replicas', () => {
  // per-subscriber: the dial's `traceparent` rides the relay leg's upgrade; link: it rides the stream's `sub`.
  it.each(['per-subscriber', 'link'] as const)('%s: one message sent on A for a chat generated on B is one trace: request, run, step, model call, persist, relay on both replicas', async (mode) => {
    const A = subscribers.get(mode)!;
    const api = apiClient(A.running.url, token);
    const created = await api('POST', '', { content: [{ type: 'text', text: 'first turn' }] });
    const chatId = created.body.id as string;
    await waitFor(async () => (await api('GET', `/${chatId}`)).body.status === 'waiting', { what: 'the first turn to end', timeoutMs: 20_000 });

    // The subscriber on A is open before the message, so its relay session dials B when B's run starts.
    const events = await openStream(A, chatId);
    exporter.reset();
    const sent = await api('POST', `/${chatId}/messages`, { content: [{ type: 'text', text: 'second turn' }] });
    expect(sent.status).toBe(200);

    let spans: ReadableSpan[] = [];
    await waitFor(
      () => {
        spans = exporter.getFinishedSpans();
        const run = byName(spans, 'chatd.run')[0];
        // B's stream span of the relay leg ends when A closes the leg after the run.
        const legs = byName(spans, 'chatd.stream').filter((s) => s.attributes['chatd.chat_id'] === chatId && s.parentSpanContext !== undefined);
        return run !== undefined && byName(spans, 'chatd.relay.dial').length > 0 && legs.length > 0;
      },
      { what: 'the run, the relay dial and the relay leg to end', timeoutMs: 20_000 },
    );
    expect(events.some((e) => e.type === 'message_part')).toBe(true);

    const request = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /api/experimental/chats/{id}/messages');
    expect(request).toBeDefined();
    const traceId = request!.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const one = (name: string) => {
      const found = byName(inTrace, name);
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };

    // Replica A: the request and its write.
    const send = one('chatd.store.send_message');
    expect(parentOf(send)).toBe(request!.spanContext().spanId);

    // Replica B: the run, started from the database, is a child of A's write.
    const run = one('chatd.run');
    expect(parentOf(run)).toBe(send.spanContext().spanId);
    expect(run.attributes['chatd.worker_id']).toBe(B.running.replicaId);
    expect(run.attributes['chatd.run.outcome']).toBe('finished');
    const step = one('chatd.step');
    expect(parentOf(step)).toBe(run.spanContext().spanId);
    const model = inTrace.find((s) => s.name.startsWith('chat '));
    expect(model).toBeDefined();
    expect(parentOf(model!)).toBe(step.spanContext().spanId);
    expect(model!.kind).toBe(SpanKind.CLIENT);
    expect(model!.attributes['gen_ai.system']).toEqual(expect.any(String));
    expect(model!.attributes['gen_ai.request.model']).toEqual(expect.any(String));
    expect(model!.attributes['gen_ai.usage.input_tokens']).toEqual(expect.any(Number));
    expect(model!.attributes['gen_ai.usage.output_tokens']).toEqual(expect.any(Number));
    expect(model!.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);
    const persist = one('chatd.store.persist_message');
    expect(parentOf(persist)).toBe(run.spanContext().spanId);
    expect(parentOf(one('chatd.store.finish_run'))).toBe(run.spanContext().spanId);

    // Replica A's relay dial joins the run's trace (the `running` notification carried it) and links to A's
    // subscriber session; B's stream span of the leg is the dial's child (the `traceparent` header) and links
    // to the run it streams.
    const dial = one('chatd.relay.dial');
    expect(parentOf(dial)).toBe(run.spanContext().spanId);
    expect(dial.attributes['chatd.relay.worker_id']).toBe(B.running.replicaId);
    const leg = one('chatd.stream');
    expect(parentOf(leg)).toBe(dial.spanContext().spanId);
    expect(leg.links.map((l) => l.context.spanId)).toContain(run.spanContext().spanId);

    // Everything the turn did is in this one trace: no run, step or model call of it elsewhere.
    const otherTraces = spans.filter((s) => s.spanContext().traceId !== traceId && ['chatd.run', 'chatd.step', 'chatd.relay.dial'].includes(s.name));
    expect(otherTraces).toEqual([]);

    // The dial's link names A's subscriber session, whose span ends when the client closes its socket.
    const sessionLink = dial.links[0]?.context;
    expect(sessionLink).toBeDefined();
    for (const ws of sockets.splice(0)) ws.close();
    await waitFor(() => exporter.getFinishedSpans().some((s) => s.spanContext().spanId === sessionLink!.spanId), { what: "the subscriber session's span to end", timeoutMs: 10_000 });
    const session = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === sessionLink!.spanId)!;
    expect(session.name).toBe('chatd.stream');
    expect(session.kind).toBe(SpanKind.SERVER);
    expect(session.attributes['chatd.chat_id']).toBe(chatId);
    // ...and links to the run on B it followed through the relay.
    expect(session.links.map((l) => l.context.spanId)).toContain(run.spanContext().spanId);
  });
});
