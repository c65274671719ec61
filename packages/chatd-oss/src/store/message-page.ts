// One page of a chat's visible messages, capped by count AND by bytes of content, in one statement. The byte
// cap is applied inside PostgreSQL by a recursive walk of the (chat_id, id) index in chunks of growing size
// that stops at the first chunk passing the cap, so a page of huge messages is never read (or even sized) far
// beyond the message that ends it: at most about twice the page's messages are sized, none is sent twice.
// It does not check ownership or parse cursors: its callers check ownership, and cursors arrive parsed (the
// routes parse query strings).
import { INT64_MAX } from '@chatd/protocol';
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
  const asc = q.order === 'asc';
  const start = asc ? (q.afterId ?? '0') : (q.beforeId ?? INT64_MAX.toString());
  const args: unknown[] = [q.chatId, q.limit, q.maxBytes, start];
  // The bound the walk does not start from is checked on each row (the walk stops at the first row past it).
  const far: string[] = [];
  if (asc && q.beforeId !== undefined) {
    args.push(q.beforeId);
    far.push(`AND s.id < $${args.length}::bigint`);
  }
  if (!asc && q.afterId !== undefined) {
    args.push(q.afterId);
    far.push(`AND s.id > $${args.length}::bigint`);
  }
  const dir = asc ? 'ASC' : 'DESC';
  const { rows } = await db.query<MessageRow & { has_more: boolean }>(
    `WITH RECURSIVE ${messagePageCtes({ chat: '$1::uuid', limit: '$2', maxBytes: '$3', start: '$4::bigint', order: q.order, far: far.join(' ') })}
     SELECT ${MESSAGE_COLUMNS}, (SELECT count(*) FROM walk WHERE n >= 1) > (SELECT count(*) FROM page) AS has_more
       FROM chat_messages JOIN page USING (id)
      ORDER BY id ${dir}`,
    args,
  );
  return { rows, hasMore: rows[0]?.has_more ?? false };
}

/**
 * The page's CTEs, `walk` and `page` (ids of the page's messages), for a statement that begins `WITH RECURSIVE`:
 * SQL expressions for the chat, the limits and the exclusive start id; `far` checks the other bound on `s.id`.
 * Shared by `readMessagePage` and the subscription setup read, so both page exactly alike.
 */
export function messagePageCtes(p: { chat: string; limit: string; maxBytes: string; start: string; order: 'asc' | 'desc'; far?: string }): string {
  const [cmp, dir] = p.order === 'asc' ? ['>', 'ASC'] : ['<', 'DESC'];
  // Each step reads the next chunk of rows after the previous chunk's last one and sizes them with running
  // totals. A chunk is twice the one before, but no more than the count limit leaves, nor than the byte cap
  // leaves at the average size so far (plus one: the probe), so about the page's own messages are sized. The row comparison on (chat_id, id) makes the planner walk the
  // index in order (an equality on chat_id lets it sort the chat's whole rest instead, per step); rows of the
  // next chat are dropped after the LIMIT, before any sizing. The walk stops after a chunk whose last row is
  // past the count limit or the byte cap; rows past them are the `has_more` probe and are never returned.
  return `walk (id, n, total, last, k) AS (
       SELECT ${p.start}, 0::bigint, 0::bigint, true, 1::bigint
       UNION ALL
       SELECT c.id, c.n, c.total, c.n = w.n + c.cnt,
              greatest(1, least(w.k * 2, ${p.limit} - c.n + 1, floor((${p.maxBytes} - c.total)::numeric * c.n / greatest(c.total, 1)) + 1))::bigint
         FROM walk w
         CROSS JOIN LATERAL (
           SELECT s.id,
                  (w.n + row_number() OVER (ORDER BY s.id ${dir}))::bigint AS n,
                  (w.total + sum(octet_length(s.content::text)) OVER (ORDER BY s.id ${dir}))::bigint AS total,
                  count(*) OVER () AS cnt
             FROM (SELECT chat_id, id, content FROM chat_messages
                    WHERE (chat_id, id) ${cmp} (${p.chat}, w.id) AND NOT deleted AND visibility IN ('user', 'both')
                    ORDER BY chat_id ${dir}, id ${dir} LIMIT w.k) s
            WHERE s.chat_id = ${p.chat} ${p.far ?? ''}
         ) c
        WHERE w.last AND w.n <= ${p.limit} AND (w.total <= ${p.maxBytes} OR w.n <= 1)
     ),
     page AS (SELECT id FROM walk WHERE n >= 1 AND n <= ${p.limit} AND (total <= ${p.maxBytes} OR n = 1))`;
}
