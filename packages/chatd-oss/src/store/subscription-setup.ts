// The reads a stream subscription starts with, in one statement (issue 36): the chat row (with its current run
// id), whether the cursor's message was hidden by an edit, the first snapshot page from the cursor (from the start
// when it was hidden), the queue, and the runs the subscriber asks about. One round trip instead of up to six, all
// from one snapshot of the database. Later pages are read by `readMessagePage` as before; both page alike
// (`messagePageCtes`). The page, queue and runs come back as JSON built from their columns, with int8 as text and
// times parsed by the driver's own timestamptz parser, so every value maps exactly as the separate reads' did.
import type { Chat, ChatQueuedMessage } from '@chatd/protocol';
import { INT64_MAX } from '@chatd/protocol';
import pg from 'pg';
import { CHAT_COLUMNS, toChat, toChatRun, toMessage, toQueued, type ChatRow, type ChatRunRow, type MessageRow, type QueuedRow } from './chat-rows.js';
import type { ChatRun, MessagesAfterPage } from './chat-store.js';
import { messagePageCtes } from './message-page.js';

/** What a subscription's setup reads. */
export type SubscriptionSetupQuery = {
  chatId: string;
  /** The cursor: messages with id > afterId (`INT64_MAX`: no page is read). */
  afterId: bigint;
  /** Most messages of the first page. */
  limit: number;
  /** Most bytes of content of the first page (at least one message). */
  maxBytes: number;
  /** Runs to read (ids already checked as UUIDs); unknown ones are absent from `runs`. */
  runIds: readonly string[];
  /** Whether to read the queue. */
  queue: boolean;
};

/** A subscription's setup, read in one statement. Shared by subscribers: never change it. */
export type SubscriptionSetup = {
  chat: Chat;
  /** The chat's current run (`chats.run_id`), as of the same snapshot as `chat.status`. */
  runId: string | null;
  /** The cursor's newest message at or below it is hidden (contract.md#history-reset); false for 0 and `INT64_MAX`. */
  cursorHidden: boolean;
  /** The first page after the cursor (after 0 when `cursorHidden`); undefined when the cursor is `INT64_MAX`. */
  page: MessagesAfterPage | undefined;
  /** The queue, oldest first, when asked for. */
  queue: ChatQueuedMessage[] | undefined;
  /** The asked-for runs found. */
  runs: ReadonlyMap<string, ChatRun>;
};

const parseTime = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (text: string) => Date;

type JsonMessage = Omit<MessageRow, 'created_at'> & { created_at: string };
type JsonQueued = Omit<QueuedRow, 'created_at'> & { created_at: string };
type JsonRun = Omit<ChatRunRow, 'started_at' | 'ended_at'> & { started_at: string; ended_at: string | null };

const SQL = `WITH RECURSIVE
  c AS (SELECT ${CHAT_COLUMNS} FROM chats WHERE id = $1::uuid),
  cur AS (
    SELECT $4::bigint > 0 AND $4::bigint < ${INT64_MAX}::bigint
           AND coalesce((SELECT deleted FROM chat_messages WHERE chat_id = $1::uuid AND id <= $4::bigint ORDER BY id DESC LIMIT 1), false) AS hidden
  ),
  ${messagePageCtes({ chat: '$1::uuid', limit: '$2', maxBytes: '$3', start: '(SELECT CASE WHEN hidden THEN 0 ELSE $4::bigint END FROM cur)', order: 'asc' })}
SELECT c.*, cur.hidden AS setup_cursor_hidden,
       (SELECT coalesce(json_agg(json_build_object(
                 'id', m.id::text, 'chat_id', m.chat_id, 'run_id', m.run_id, 'last_seq', m.last_seq, 'model_config_id', m.model_config_id,
                 'created_by', m.created_by, 'role', m.role, 'content', m.content, 'visibility', m.visibility, 'deleted', m.deleted,
                 'usage', m.usage, 'created_at', m.created_at::text) ORDER BY m.id), '[]'::json)
          FROM chat_messages m JOIN page USING (id)) AS setup_page,
       (SELECT count(*) FROM walk WHERE n >= 1) > (SELECT count(*) FROM page) AS setup_page_has_more,
       CASE WHEN $5::boolean THEN
         (SELECT coalesce(json_agg(json_build_object(
                   'id', q.id::text, 'chat_id', q.chat_id, 'model_config_id', q.model_config_id, 'created_by', q.created_by,
                   'content', q.content, 'created_at', q.created_at::text) ORDER BY q.id), '[]'::json)
            FROM chat_queued_messages q WHERE q.chat_id = $1::uuid)
       END AS setup_queue,
       (SELECT coalesce(json_agg(json_build_object(
                 'id', r.id, 'chat_id', r.chat_id, 'worker_id', r.worker_id, 'started_at', r.started_at::text, 'ended_at', r.ended_at::text,
                 'outcome', r.outcome, 'message_ids', r.message_ids::text[], 'error', r.error,
                 'last_seq', (SELECT max(m.last_seq) FROM chat_messages m WHERE m.id = ANY (r.message_ids)))), '[]'::json)
          FROM chat_runs r WHERE r.id = ANY ($6::uuid[])) AS setup_runs
  FROM c CROSS JOIN cur`;

/**
 * The setup statement's name: prepared once per connection. PostgreSQL took longer to plan it than to run it (300
 * opens of a short chat, loaded host: 5.5 ms planning against 1.6 ms executing per call) and, estimating a custom
 * plan cheaper, planned it again on every call; on a session with `force_generic_plan` (the store's `setupPool`)
 * it is planned once per connection. Its plan follows the indexes on the chat's id, not the values.
 */
export const SUBSCRIPTION_SETUP_STATEMENT = 'chatd_subscription_setup';

/** Reads a subscription's setup; undefined when the chat does not exist. */
export async function readSubscriptionSetup(db: Pick<pg.Pool, 'query'>, q: SubscriptionSetupQuery): Promise<SubscriptionSetup | undefined> {
  const { rows } = await db.query<ChatRow & { setup_cursor_hidden: boolean; setup_page: JsonMessage[]; setup_page_has_more: boolean; setup_queue: JsonQueued[] | null; setup_runs: JsonRun[] }>({
    name: SUBSCRIPTION_SETUP_STATEMENT,
    text: SQL,
    values: [q.chatId, q.limit, q.maxBytes, q.afterId.toString(), q.queue, q.runIds],
  });
  const row = rows[0];
  if (!row) return undefined;
  const runs = new Map<string, ChatRun>();
  for (const r of row.setup_runs) runs.set(r.id, toChatRun({ ...r, started_at: parseTime(r.started_at), ended_at: r.ended_at === null ? null : parseTime(r.ended_at) }));
  return {
    chat: toChat(row),
    runId: row.run_id,
    cursorHidden: row.setup_cursor_hidden,
    page:
      q.afterId < INT64_MAX
        ? { messages: row.setup_page.map((m) => toMessage({ ...m, created_at: parseTime(m.created_at) })), hasMore: row.setup_page_has_more }
        : undefined,
    queue: row.setup_queue === null ? undefined : row.setup_queue.map((m) => toQueued({ ...m, created_at: parseTime(m.created_at) })),
    runs,
  };
}
