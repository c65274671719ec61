// loadUIMessages and the history reads the transport needs, over REST (contract.md#history-order): with
// `after_id` > 0 a page is ascending; without it newest first.
import type { ChatClient } from '@chatd/client';
import type { ChatMessage } from '@chatd/protocol';
import type { UIMessage } from 'ai';
import { historyToUIMessages } from './history-to-ui-messages.js';

/** Messages asked for per history page (the server's maximum). @default 200 */
export const HISTORY_PAGE_SIZE = 200;

/** The stored messages of `chatId` with an id above `afterId` (> 0), ascending, every page. */
export async function readHistoryAfter(client: ChatClient, chatId: string, afterId: bigint): Promise<ChatMessage[]> {
  if (afterId <= 0n) return readWholeHistory(client, chatId);
  const all: ChatMessage[] = [];
  let after = afterId.toString();
  for (;;) {
    const page = await client.messages(chatId, { afterId: after, limit: HISTORY_PAGE_SIZE });
    all.push(...page.messages);
    const last = page.messages[page.messages.length - 1];
    if (!page.has_more || !last) return all;
    after = String(last.id);
  }
}

/** The whole visible history of `chatId`, ascending (read newest first, page by page). */
export async function readWholeHistory(client: ChatClient, chatId: string): Promise<ChatMessage[]> {
  const pages: ChatMessage[][] = [];
  let before: string | undefined;
  for (;;) {
    const page = await client.messages(chatId, { limit: HISTORY_PAGE_SIZE, ...(before !== undefined ? { beforeId: before } : {}) });
    pages.push(page.messages);
    const oldest = page.messages[page.messages.length - 1];
    if (!page.has_more || !oldest) break;
    before = String(oldest.id);
  }
  return pages.flat().reverse();
}

/** The newest visible user message of `chatId`, or undefined when it has none (read newest first). */
export async function lastUserMessage(client: ChatClient, chatId: string): Promise<ChatMessage | undefined> {
  let before: string | undefined;
  for (;;) {
    const page = await client.messages(chatId, { limit: HISTORY_PAGE_SIZE, ...(before !== undefined ? { beforeId: before } : {}) });
    const found = page.messages.find((m) => m.role === 'user');
    if (found) return found;
    const oldest = page.messages[page.messages.length - 1];
    if (!page.has_more || !oldest) return undefined;
    before = String(oldest.id);
  }
}

/** The chat's durable history as UIMessages: one user message per user message, one assistant message per turn. */
export async function loadUIMessages(client: ChatClient, chatId: string): Promise<UIMessage[]> {
  return historyToUIMessages(await readWholeHistory(client, chatId));
}
