// Spans around the chat store's writes and catch-up reads, and the trace context of each acquired chat: a
// decorator, so the store itself stays free of tracing. The writes' spans are the parents of the trace
// context their messages store (transaction-begin.ts); `acquireChats` then reads, for each chat it took, the
// `traceparent` of its newest message that has one, which parents the run (run-span.ts). Only that read
// costs anything when tracing is off, and it is skipped then.
import { SpanKind } from '@opentelemetry/api';
import type pg from 'pg';
import type { AcquiredChat, ChatStore } from '../store/chat-store.js';
import { tracingEnabled } from './tracing-enabled.js';
import { withSpan } from './tracer.js';

const DB_ATTRIBUTES = { 'db.system.name': 'postgresql' } as const;

/** An acquired chat with the trace context of the write that made it pending, when one was stored. */
export type TracedAcquiredChat = AcquiredChat & { traceparent?: string };

async function withTraceparents(pool: pg.Pool, acquired: AcquiredChat[]): Promise<TracedAcquiredChat[]> {
  if (acquired.length === 0 || !tracingEnabled()) return acquired;
  const { rows } = await pool.query<{ chat_id: string; traceparent: string }>(
    `SELECT DISTINCT ON (chat_id) chat_id, traceparent FROM chat_messages
     WHERE chat_id = ANY($1::uuid[]) AND traceparent IS NOT NULL ORDER BY chat_id, id DESC`,
    [acquired.map((a) => a.chat.id)],
  );
  const byChat = new Map(rows.map((r) => [r.chat_id, r.traceparent]));
  return acquired.map((a) => {
    const tp = byChat.get(a.chat.id);
    return tp === undefined ? a : { ...a, traceparent: tp };
  });
}

/** Wraps `store` with spans (`chatd.store.*`); `pool` is the store's, for the acquisition's trace read. */
export function createTracedChatStore(store: ChatStore, pool: pg.Pool): ChatStore {
  const span = <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>, attrs: (...args: A) => Record<string, string | number>) =>
    (...args: A): Promise<R> => withSpan(name, { kind: SpanKind.CLIENT, attributes: { ...DB_ATTRIBUTES, ...attrs(...args) } }, () => fn(...args));
  return {
    ...store,
    createChat: span('chatd.store.create_chat', store.createChat, () => ({})),
    sendMessage: span('chatd.store.send_message', store.sendMessage, (i) => ({ 'chatd.chat_id': i.chatId })),
    persistMessage: span('chatd.store.persist_message', store.persistMessage, (i) => ({ 'chatd.chat_id': i.chatId, 'chatd.run_id': i.runId, 'chatd.message.role': i.role })),
    finishRun: span('chatd.store.finish_run', store.finishRun, (i) => ({ 'chatd.chat_id': i.chatId, 'chatd.run_id': i.runId, 'chatd.run.outcome': i.outcome })),
    messagesAfter: span('chatd.store.catch_up', store.messagesAfter, (chatId, afterId) => ({ 'chatd.chat_id': chatId, 'chatd.after_id': String(afterId) })),
    async acquireChats(workerId, limit) {
      return withTraceparents(pool, await store.acquireChats(workerId, limit));
    },
  };
}
