// The tables side of compaction (contract.md#compaction): a run saves a compaction's three messages (the hidden
// model-only summary, the visible `chat_summarized` tool call and its `tool` result) in ONE transaction fenced by
// its run id, so a replica killed mid-way leaves either all three or none; and `POST /{chat}/compact` records a
// manual request on the chat row, which the chat's next run honours. Which messages the model then sees is
// `ChatStore.modelHistory`'s rule (from the newest summary on); what to summarize is the worker's (worker/compaction.ts).
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import type { Chat, ChatMessage, ChatMessagePart } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { MAX_PERSISTED_CONTENT_BYTES, assertContentSize, requireUuid } from './chat-input.js';
import { CHAT_COLUMNS, toChat, toMessage, type ChatRow, type MessageRow } from './chat-rows.js';
import type { ChatChange, StatusNotifier } from './chat-store.js';
import { insertMessage, lockChat, pendingWrite, writeStatus } from './chat-tx.js';
import { inTransaction } from './db.js';

/** A manual compaction request: before the run's next step, or a run that only compacts (the chat was resting). */
export type CompactionRequest = 'next_step' | 'only';

/** Input of `persistCompaction`. */
export type PersistCompactionInput = {
  chatId: string;
  runId: string;
  /** The hidden model-only message the model sees in place of what it covers (role `user`). */
  summary: ChatMessagePart[];
  /** The oldest message the summary does not replace; absent: it replaces everything before it. */
  keptFromId?: number;
  /** The visible assistant message with the `chat_summarized` tool call, covering parts up to `callLastSeq`. */
  call: ChatMessagePart[];
  callLastSeq: number;
  /** The visible `tool` message with its result, covering parts up to `resultLastSeq`. */
  result: ChatMessagePart[];
  resultLastSeq: number;
};

/** Test seams of the compaction store. */
export type CompactionStoreHooks = {
  /** Called inside the transaction after the summary row is inserted, before the visible ones (a throw rolls back). */
  afterSummaryInsert?: () => void | Promise<void>;
};

/** Options of `createCompactionStore`. */
export type CompactionStoreOptions = {
  pool: pg.Pool;
  clock: Clock;
  /** As the chat store's: NOTIFYs a status written inside the transaction. */
  notifyStatusInTransaction?: StatusNotifier;
  hooks?: CompactionStoreHooks;
};

/** Compaction's writes and its request flag. Rejects with `ChatdError`; nothing is written on a refusal. */
export interface CompactionStore {
  /**
   * `POST /{chat}/compact`: NOT_FOUND for another user's chat, CONFLICT in `requires_action`. A chat that runs or is
   * about to (pending, or a run still ending) gets `next_step`; a resting chat gets `only` and is set `pending`, so
   * a worker compacts it through the normal, fenced acquisition. `change` is set when the status was written.
   */
  requestCompaction(input: { chatId: string; ownerId?: string }): Promise<{ request: CompactionRequest; change?: ChatChange }>;
  /** The chat's pending manual request, if any. */
  pendingRequest(chatId: string): Promise<CompactionRequest | undefined>;
  /** Drops the request of run `runId`'s chat (a compaction that failed or found nothing to summarize). RUN_FENCED. */
  clearRequest(chatId: string, runId: string): Promise<void>;
  /** Saves the three messages of a compaction and clears the request, in one transaction. RUN_FENCED. */
  persistCompaction(input: PersistCompactionInput): Promise<{ summaryId: number; messages: ChatMessage[]; change: ChatChange }>;
}

function fenced(runId: string): ChatdError {
  return new ChatdError('RUN_FENCED', `run ${runId} is not the chat's current run`);
}

/** Creates the compaction store. */
export function createCompactionStore(options: CompactionStoreOptions): CompactionStore {
  const { pool, clock } = options;
  const notifier = options.notifyStatusInTransaction;

  const plainChange = (chat: Chat, messages: MessageRow[]): ChatChange => ({
    chat,
    statusChanged: false,
    statusNotified: false,
    messages: messages.filter((m) => m.visibility !== 'model').map(toMessage),
    fullRefresh: false,
  });

  return {
    async requestCompaction(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const owner = input.ownerId === undefined ? undefined : requireUuid(input.ownerId, 'user ID');
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        const row = await lockChat(client, chatId, owner);
        if (row.status === 'requires_action') {
          throw new ChatdError('CONFLICT', 'The chat is waiting for tool results.', { detail: 'Submit the tool results (or interrupt) before compacting.' });
        }
        const { rows } = await client.query<{ compact_request: CompactionRequest | null }>('SELECT compact_request FROM chats WHERE id = $1', [chatId]);
        const current = rows[0]?.compact_request ?? null;
        // A run is, or will be, on the chat: it compacts before its next step.
        if (row.status === 'running' || row.status === 'pending' || row.run_id !== null) {
          const request: CompactionRequest = current ?? 'next_step';
          if (current === null) await client.query(`UPDATE chats SET compact_request = 'next_step' WHERE id = $1`, [chatId]);
          return { request };
        }
        await client.query(`UPDATE chats SET compact_request = 'only' WHERE id = $1`, [chatId]);
        const next = await writeStatus(client, chatId, pendingWrite(), now);
        const chat = toChat(next);
        let statusNotified = false;
        if (notifier) {
          await notifier(client, chat);
          statusNotified = true;
        }
        return { request: 'only' as const, change: { chat, statusChanged: true, statusNotified, messages: [], fullRefresh: false } };
      });
    },

    async pendingRequest(chatId) {
      const id = requireUuid(chatId, 'chat ID');
      const { rows } = await pool.query<{ compact_request: CompactionRequest | null }>('SELECT compact_request FROM chats WHERE id = $1', [id]);
      return rows[0]?.compact_request ?? undefined;
    },

    async clearRequest(chatId, runId) {
      const id = requireUuid(chatId, 'chat ID');
      const run = requireUuid(runId, 'run ID');
      const res = await pool.query('UPDATE chats SET compact_request = NULL WHERE id = $1 AND run_id = $2', [id, run]);
      if ((res.rowCount ?? 0) === 0) throw fenced(run);
    },

    async persistCompaction(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const runId = requireUuid(input.runId, 'run ID');
      for (const content of [input.summary, input.call, input.result]) assertContentSize(content, MAX_PERSISTED_CONTENT_BYTES);
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        const row = await lockChat(client, chatId);
        if (row.run_id !== runId) throw fenced(runId);
        const base = { chatId, runId, modelConfigId: row.last_model_config_id };
        const summary = await insertMessage(client, { ...base, role: 'user', content: input.summary, visibility: 'model' }, now);
        await client.query('UPDATE chat_messages SET summary = true, summary_kept_from = $2 WHERE id = $1', [summary.id, input.keptFromId ?? null]);
        await options.hooks?.afterSummaryInsert?.();
        const call = await insertMessage(client, { ...base, role: 'assistant', content: input.call, visibility: 'user', lastSeq: input.callLastSeq }, now);
        const result = await insertMessage(client, { ...base, role: 'tool', content: input.result, visibility: 'user', lastSeq: input.resultLastSeq }, now);
        const ids = [summary.id, call.id, result.id];
        await client.query('UPDATE chat_runs SET message_ids = message_ids || $2::bigint[] WHERE id = $1', [runId, ids]);
        const { rows } = await client.query<ChatRow>(`UPDATE chats SET compact_request = NULL, updated_at = $2 WHERE id = $1 RETURNING ${CHAT_COLUMNS}`, [
          chatId,
          now,
        ]);
        const change = plainChange(toChat(rows[0]!), [summary, call, result]);
        return { summaryId: Number(summary.id), messages: change.messages, change };
      });
    },
  };
}
