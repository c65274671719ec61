// Trace context stored with messages (issue 34, migration 0012), on real PostgreSQL: a write made inside a span
// stores that span's `traceparent` with the message (or queued message) it creates; a queued message keeps
// its own when it is promoted; the traced store hands each acquired chat the context of its newest message;
// without a span nothing is stored, and without a registered SDK the acquisition reads nothing extra.
import { context, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { User } from '../src/identity/identity-store.js';
import { createTracedChatStore, type TracedAcquiredChat } from '../src/telemetry/traced-chat-store.js';
import { formatTraceparent } from '../src/telemetry/traceparent.js';
import { createStoreFixture, ensureModel, makeUser, parkPendingChats, text, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let f: StoreFixture;
let user: User;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  f = createStoreFixture(db.url, { maxQueueSize: 20 });
  await ensureModel(f);
  user = await makeUser(f);
});
afterAll(async () => {
  await f.close();
  trace.disable();
  context.disable();
});
beforeEach(async () => {
  await parkPendingChats(f);
});

/** Runs `fn` inside a fresh span; returns its result and the span's traceparent. */
async function inSpan<T>(fn: () => Promise<T>): Promise<{ value: T; traceparent: string }> {
  const tracer = trace.getTracer('test');
  return tracer.startActiveSpan('request', async (span: Span) => {
    try {
      return { value: await fn(), traceparent: formatTraceparent(span.spanContext())! };
    } finally {
      span.end();
    }
  });
}

async function traceparentOf(table: 'chat_messages' | 'chat_queued_messages', id: number): Promise<string | null> {
  const { rows } = await f.pool.query<{ traceparent: string | null }>(`SELECT traceparent FROM ${table} WHERE id = $1`, [id]);
  return rows[0]!.traceparent;
}

describe('traceparent with messages', () => {
  it('a create inside a span stores its traceparent with the message; outside any span nothing', async () => {
    const traced = await inSpan(() => f.chats.createChat({ ownerId: user.id, content: text('traced') }));
    expect(traced.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(await traceparentOf('chat_messages', traced.value.message.id)).toBe(traced.traceparent);

    const plain = await f.chats.createChat({ ownerId: user.id, content: text('untraced') });
    expect(await traceparentOf('chat_messages', plain.message.id)).toBeNull();
  });

  it('a queued message keeps the trace of the request that queued it when it is promoted', async () => {
    const { value: created } = await inSpan(() => f.chats.createChat({ ownerId: user.id, content: text('first') }));
    const chatId = created.chat.id;
    const [acquired] = await f.chats.acquireChats('worker-t', 1);
    expect(acquired?.chat.id).toBe(chatId);
    const queued = await inSpan(() => f.chats.sendMessage({ chatId, ownerId: user.id, content: text('queued') }));
    expect(queued.value.queued).toBe(true);
    expect(await traceparentOf('chat_queued_messages', queued.value.queued_message!.id)).toBe(queued.traceparent);
    // The run ends inside another span: the promoted message still carries the queuing request's context.
    const finishing = await inSpan(() => f.chats.finishRun({ chatId, runId: acquired!.runId, outcome: 'finished' }));
    const promoted = finishing.value.messages.find((m) => m.role === 'user');
    expect(promoted).toBeDefined();
    expect(await traceparentOf('chat_messages', promoted!.id)).toBe(queued.traceparent);
    expect(finishing.traceparent).not.toBe(queued.traceparent);
  });

  it("the traced store gives each acquired chat its newest message's traceparent and spans its writes", async () => {
    const store = createTracedChatStore(f.chats, f.pool);
    exporter.reset();
    const sent = await inSpan(() => store.createChat({ ownerId: user.id, content: text('for the run') }));
    const write = exporter.getFinishedSpans().find((s) => s.name === 'chatd.store.create_chat');
    expect(write?.parentSpanContext?.spanId).toBe(sent.traceparent.split('-')[2]);
    // The stored context is the write span's: the run becomes the write's child.
    const stored = await traceparentOf('chat_messages', sent.value.message.id);
    expect(stored).toBe(formatTraceparent(write!.spanContext()));
    const acquired = (await store.acquireChats('worker-t', 10)) as TracedAcquiredChat[];
    const mine = acquired.find((a) => a.chat.id === sent.value.chat.id);
    expect(mine?.traceparent).toBe(stored);
  });
});
