// The sync safety net's one query (contract.md#sync-safety-net): for a replica's followed chats, each with the
// highest message id its subscribers were sent, the chats whose newest visible durable message is newer. One
// statement for every chat: each chat costs one descent of the (chat_id, id) index from its cursor, which
// finds nothing in the common case (nothing was missed), so a tick over 10,000 chats reads no message rows.
// It only finds; the subscribers catch up through their own catch-up path.
import type pg from 'pg';

/** A followed chat and the highest message id delivered to its subscribers (int64). */
export type FollowedChat = { chatId: string; deliveredId: bigint };

/** A chat with a visible durable message newer than what was delivered, and that message's id. */
export type ChatBehind = { chatId: string; newestId: bigint };

/**
 * Reads which of `followed` have a visible (`user`/`both`, not deleted) message after their `deliveredId`, as
 * `readMessagePage` counts visibility. One round trip however many chats; an empty list asks nothing.
 */
export async function readChatsBehind(db: Pick<pg.Pool, 'query'>, followed: readonly FollowedChat[]): Promise<ChatBehind[]> {
  if (followed.length === 0) return [];
  const ids: string[] = [];
  const delivered: string[] = [];
  for (const f of followed) {
    ids.push(f.chatId);
    delivered.push(f.deliveredId.toString());
  }
  // LATERAL + LIMIT 1: an index range scan per chat starting past its cursor (newest first, so the first visible
  // row is the answer), instead of a max() over each chat's whole history.
  const { rows } = await db.query<{ chat_id: string; id: string }>(
    `SELECT f.chat_id, m.id
       FROM unnest($1::uuid[], $2::bigint[]) AS f (chat_id, delivered)
       CROSS JOIN LATERAL (
         SELECT id FROM chat_messages
          WHERE chat_id = f.chat_id AND id > f.delivered AND NOT deleted AND visibility IN ('user', 'both')
          ORDER BY id DESC LIMIT 1
       ) m`,
    [ids, delivered],
  );
  return rows.map((r) => ({ chatId: r.chat_id, newestId: BigInt(r.id) }));
}
