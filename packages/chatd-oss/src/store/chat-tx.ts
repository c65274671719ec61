// Statements shared by the chat store's transactions. Each helper runs on a client that is already
// inside a transaction holding the chat row lock (`lockChat`), so the queue, the run and the status
// change together. "now" always comes from the caller's clock.
import type pg from 'pg';
import type { ChatMessagePart, ChatMessageUsage, ChatStatus, ChatStreamError } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { CHAT_COLUMNS, type ChatRow, type MessageRow, type MessageVisibility, type QueuedRow } from './chat-rows.js';

/** How a run ended (contract.md#part-cursor: every run is recorded with its outcome). */
export type RunOutcome = 'finished' | 'interrupted' | 'failed' | 'lost';

/** Columns of `chat_messages` the stores read. */
export const MESSAGE_COLUMNS = 'id, chat_id, run_id, last_seq, model_config_id, created_by, role, content, visibility, deleted, usage, created_at';
/** Columns of `chat_queued_messages` the stores read. */
export const QUEUED_COLUMNS = 'id, chat_id, model_config_id, created_by, content, created_at';

/** Locks and reads the chat row (`FOR UPDATE`); NOT_FOUND when absent or, with `ownerId`, not that user's. */
export async function lockChat(client: pg.PoolClient, chatId: string, ownerId?: string): Promise<ChatRow> {
  const { rows } = await client.query<ChatRow>(`SELECT ${CHAT_COLUMNS} FROM chats WHERE id = $1 FOR UPDATE`, [chatId]);
  const row = rows[0];
  if (!row || (ownerId !== undefined && row.owner_id !== ownerId)) throw notFound();
  return row;
}

/** The 404 of an unknown chat (or one the caller may not read). */
export function notFound(): ChatdError {
  return new ChatdError('NOT_FOUND', 'Resource not found or you do not have access to this resource');
}

/** Fields of a status write; unset fields keep their value. */
export type StatusWrite = {
  status: ChatStatus;
  workerId?: string | null;
  runId?: string | null;
  startedAt?: Date | null;
  heartbeatAt?: Date | null;
  lastError?: ChatStreamError | null;
  lastModelConfigId?: string;
};

/** Writes the chat's status (and the given run fields) and bumps `updated_at`; returns the new row. */
export async function writeStatus(client: pg.PoolClient, chatId: string, w: StatusWrite, now: Date): Promise<ChatRow> {
  const sets = ['status = $2', 'updated_at = $3'];
  const args: unknown[] = [chatId, w.status, now];
  const add = (col: string, v: unknown) => {
    args.push(v);
    sets.push(`${col} = $${args.length}`);
  };
  if (w.workerId !== undefined) add('worker_id', w.workerId);
  if (w.runId !== undefined) add('run_id', w.runId);
  if (w.startedAt !== undefined) add('started_at', w.startedAt);
  if (w.heartbeatAt !== undefined) add('heartbeat_at', w.heartbeatAt);
  if (w.lastError !== undefined) add('last_error', w.lastError === null ? null : JSON.stringify(w.lastError));
  if (w.lastModelConfigId !== undefined) add('last_model_config_id', w.lastModelConfigId);
  const { rows } = await client.query<ChatRow>(`UPDATE chats SET ${sets.join(', ')} WHERE id = $1 RETURNING ${CHAT_COLUMNS}`, args);
  return rows[0]!;
}

/** The write that hands a chat to the next run: `pending`, no worker, no run, no error. */
export function pendingWrite(lastModelConfigId?: string): StatusWrite {
  const w: StatusWrite = { status: 'pending', workerId: null, runId: null, startedAt: null, heartbeatAt: null, lastError: null };
  if (lastModelConfigId !== undefined) w.lastModelConfigId = lastModelConfigId;
  return w;
}

/** A message to insert. */
export type NewMessage = {
  chatId: string;
  role: MessageRow['role'];
  content: ChatMessagePart[];
  visibility?: MessageVisibility;
  modelConfigId?: string | null;
  createdBy?: string | null;
  runId?: string | null;
  /** The `seq` of the last streamed part of run `runId` the message covers (contract.md#steps). */
  lastSeq?: number | null;
  usage?: ChatMessageUsage | null;
  /** The W3C trace context to store; default the writing transaction's (migration 0012). */
  traceparent?: string | null;
};

/** Inserts one message and returns its row. */
export async function insertMessage(client: pg.PoolClient, m: NewMessage, now: Date): Promise<MessageRow> {
  const { rows } = await client.query<MessageRow>(
    `INSERT INTO chat_messages (chat_id, role, content, visibility, model_config_id, created_by, run_id, last_seq, usage, created_at, traceparent)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, chatd_current_traceparent())) RETURNING ${MESSAGE_COLUMNS}`,
    [
      m.chatId,
      m.role,
      JSON.stringify(m.content),
      m.visibility ?? 'both',
      m.modelConfigId ?? null,
      m.createdBy ?? null,
      m.runId ?? null,
      m.lastSeq ?? null,
      m.usage ? JSON.stringify(m.usage) : null,
      now,
      m.traceparent ?? null,
    ],
  );
  return rows[0]!;
}

/** The chat's queue, oldest first. */
export async function readQueue(client: pg.PoolClient | Pick<pg.Pool, 'query'>, chatId: string): Promise<QueuedRow[]> {
  const { rows } = await client.query<QueuedRow>(`SELECT ${QUEUED_COLUMNS} FROM chat_queued_messages WHERE chat_id = $1 ORDER BY id`, [chatId]);
  return rows;
}

/** Number of queued messages of the chat. */
export async function queueLength(client: pg.PoolClient, chatId: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_queued_messages WHERE chat_id = $1', [chatId]);
  return rows[0]?.n ?? 0;
}

/**
 * Moves the oldest queued message (or the one with `queuedId`) into history as a `user` message and sets
 * the chat `pending` (no worker, no run). Returns undefined when there is no such queued message.
 */
export async function promoteQueued(
  client: pg.PoolClient,
  chat: ChatRow,
  now: Date,
  queuedId?: number,
): Promise<{ chat: ChatRow; message: MessageRow } | undefined> {
  // The promoted message keeps the trace of the request that queued it, not the promoting transaction's.
  const { rows } = await client.query<QueuedRow & { traceparent: string | null }>(
    queuedId === undefined
      ? `DELETE FROM chat_queued_messages WHERE id = (SELECT id FROM chat_queued_messages WHERE chat_id = $1 ORDER BY id LIMIT 1) RETURNING ${QUEUED_COLUMNS}, traceparent`
      : `DELETE FROM chat_queued_messages WHERE chat_id = $1 AND id = $2 RETURNING ${QUEUED_COLUMNS}, traceparent`,
    queuedId === undefined ? [chat.id] : [chat.id, queuedId],
  );
  const q = rows[0];
  if (!q) return undefined;
  const modelConfigId = q.model_config_id ?? chat.last_model_config_id;
  const message = await insertMessage(
    client,
    { chatId: chat.id, role: 'user', content: q.content, modelConfigId, createdBy: q.created_by, traceparent: q.traceparent },
    now,
  );
  const next = await writeStatus(client, chat.id, pendingWrite(modelConfigId ?? undefined), now);
  return { chat: next, message };
}

/** Ends the run `runId` with `outcome` if it is still open. */
export async function endRun(client: pg.PoolClient, runId: string, outcome: RunOutcome, now: Date, error?: ChatStreamError): Promise<void> {
  await client.query('UPDATE chat_runs SET ended_at = $2, outcome = $3, error = $4 WHERE id = $1 AND ended_at IS NULL', [
    runId,
    now,
    outcome,
    error ? JSON.stringify(error) : null,
  ]);
}
