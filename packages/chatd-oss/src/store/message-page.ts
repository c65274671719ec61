// One page of a chat's visible messages, capped by count AND by bytes of content, in one statement. The byte
// cap is applied inside PostgreSQL by a recursive walk of the (chat_id, id) index that stops at the first
// message over the cap, so a page of huge messages is never read (or sized) beyond the one that ends it.
// It does not check ownership or parse cursors: callers (listMessages, messagesAfter) do.
import type pg from 'pg';
import type { MessageRow } from './chat-rows.js';
import { MESSAGE_COLUMNS } from './chat-tx.js';

/** What to read. Bounds are exclusive int64 ids as text; `order` is the walk's direction. */
export type MessagePageQuery = {
  chatId: string;
  /** Only ids above this. */
  afterId?: string;
  /** Only ids below this. */
  beforeId?: string;
  order: 'asc' | 'desc';
  /** Most messages in the page. */
  limit: number;
  /** Most bytes of content (`octet_length(content::text)`) in the page; a first message larger than this comes alone. */
  maxBytes: number;
};

/** Rows of a page in walk order, and whether more messages follow in that direction. */
export type MessagePageRows = { rows: MessageRow[]; hasMore: boolean };

/** Reads one page of visible (`user`/`both`, not deleted) messages. */
export async function readMessagePage(db: Pick<pg.Pool, 'query'>, q: MessagePageQuery): Promise<MessagePageRows> {
  const args: unknown[] = [q.chatId, q.limit, q.maxBytes];
  const bounds: string[] = [];
  if (q.afterId !== undefined) {
    args.push(q.afterId);
    bounds.push(`id > $${args.length}::bigint`);
  }
  if (q.beforeId !== undefined) {
    args.push(q.beforeId);
    bounds.push(`id < $${args.length}::bigint`);
  }
  const dir = q.order === 'asc' ? 'ASC' : 'DESC';
  const next = q.order === 'asc' ? '>' : '<';
  const visible = `chat_id = $1 AND NOT deleted AND visibility IN ('user', 'both')${bounds.map((b) => ` AND ${b}`).join('')}`;
  // The walk takes one message per step, keeping a running byte total. It goes one message past the page
  // (the message over the byte cap, or number limit + 1) so that `has_more` needs no second query; that probe
  // is sized in the database but never returned.
  const { rows } = await db.query<MessageRow & { has_more: boolean }>(
    `WITH RECURSIVE walk (id, n, total, spill) AS (
       (SELECT id, 1, octet_length(content::text)::bigint, false
          FROM chat_messages WHERE ${visible} ORDER BY id ${dir} LIMIT 1)
       UNION ALL
       SELECT m.id, w.n + 1, w.total + m.bytes, w.total + m.bytes > $3
         FROM walk w
         CROSS JOIN LATERAL (
           SELECT id, octet_length(content::text)::bigint AS bytes
             FROM chat_messages WHERE ${visible} AND id ${next} w.id ORDER BY id ${dir} LIMIT 1
         ) m
        WHERE NOT w.spill AND w.n <= $2
     )
     SELECT ${MESSAGE_COLUMNS}, (SELECT bool_or(spill OR n > $2) FROM walk) AS has_more
       FROM chat_messages JOIN walk USING (id)
      WHERE NOT walk.spill AND walk.n <= $2
      ORDER BY id ${dir}`,
    args,
  );
  return { rows, hasMore: rows[0]?.has_more ?? false };
}
