// The tables side of generated titles (contract.md#compaction): where a chat's title came from (`title_source`:
// `rule` at creation, `generated` once a model or the fallback replaced it, `manual` after PATCH) and the one
// conditional write that replaces a `rule` title. The write's condition is the guarantee that a generated title
// happens once and never overwrites a title a user set, whatever races with it.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import { requireUuid } from './chat-input.js';
import { CHAT_COLUMNS, toChat, type ChatRow } from './chat-rows.js';

/** Where a chat's title came from. */
export type TitleSource = 'rule' | 'generated' | 'manual';

/** What title generation reads of a chat. */
export type TitleState = {
  source: TitleSource;
  /** The text of the chat's first visible user message ('' when it has none). */
  firstMessageText: string;
};

/** The title columns. */
export interface ChatTitleStore {
  /** The chat's title source and first message, or undefined when the chat does not exist. */
  titleState(chatId: string): Promise<TitleState | undefined>;
  /** Sets the title and marks it `generated`, only while the source is still `rule`; the chat when it was written. */
  setGeneratedTitle(chatId: string, title: string): Promise<Chat | undefined>;
}

/** Creates the title store. */
export function createChatTitleStore(options: { pool: pg.Pool; clock: Clock }): ChatTitleStore {
  const { pool, clock } = options;
  return {
    async titleState(chatId) {
      const id = requireUuid(chatId, 'chat ID');
      const { rows } = await pool.query<{ title_source: TitleSource; content: { type: string; text?: string }[] | null }>(
        `SELECT c.title_source,
                (SELECT m.content FROM chat_messages m
                  WHERE m.chat_id = c.id AND m.role = 'user' AND NOT m.deleted AND m.visibility IN ('user', 'both')
                  ORDER BY m.id LIMIT 1) AS content
           FROM chats c WHERE c.id = $1`,
        [id],
      );
      const row = rows[0];
      if (!row) return undefined;
      const text = (row.content ?? []).flatMap((p) => (p.type === 'text' && typeof p.text === 'string' ? [p.text] : [])).join(' ');
      return { source: row.title_source, firstMessageText: text };
    },

    async setGeneratedTitle(chatId, title) {
      const id = requireUuid(chatId, 'chat ID');
      const { rows } = await pool.query<ChatRow>(
        `UPDATE chats SET title = $2, title_source = 'generated', updated_at = $3 WHERE id = $1 AND title_source = 'rule' RETURNING ${CHAT_COLUMNS}`,
        [id, title, clock.now()],
      );
      return rows[0] ? toChat(rows[0]) : undefined;
    },
  };
}
