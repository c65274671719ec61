// A `StatusNotifier` for the chat store that NOTIFYs a status change inside the transaction that wrote
// it (`notifyInTransaction`), so status notifications reach listeners in commit order. It sends what
// `ChatPublisher.publishChange` would have sent for the status: `{status, worker_id}` and `status_change`,
// with the same hand-over rule. Only the PostgreSQL pubsub hears these; a memory pubsub needs the publisher.
import type pg from 'pg';
import { chatEventChannel, chatStreamNotifyChannel, encodeChatEventForNotify, encodeChatStreamNotify, notifyInTransaction, type ChatStreamNotifyMessage } from '@chatd/pubsub';
import type { StatusNotifier } from '../store/chat-store.js';

/**
 * Whether the chat is `waiting` only until its run ends and promotes its queue (an interrupt with messages
 * queued): contract.md#status-rule says no client sees that `waiting`, so `{queue_update}` is sent instead, which is also
 * what makes the run re-read its state and stop.
 */
async function handsOverToQueue(client: pg.PoolClient, chatId: string): Promise<boolean> {
  const { rows } = await client.query<{ hand_over: boolean }>(
    `SELECT (c.run_id IS NOT NULL AND EXISTS (SELECT 1 FROM chat_queued_messages q WHERE q.chat_id = c.id)) AS hand_over
     FROM chats c WHERE c.id = $1`,
    [chatId],
  );
  return rows[0]?.hand_over === true;
}

/** Creates the in-transaction status notifier (pass it as the store's `notifyStatusInTransaction`). */
export function createTransactionalStatusNotifier(): StatusNotifier {
  return async (client, chat, runId) => {
    const channel = chatStreamNotifyChannel(chat.id);
    if (chat.status === 'waiting' && (await handsOverToQueue(client, chat.id))) {
      await notifyInTransaction(client, channel, encodeChatStreamNotify({ queue_update: true }));
      return;
    }
    const status: ChatStreamNotifyMessage = { status: chat.status };
    if (chat.worker_id) status.worker_id = chat.worker_id;
    if (chat.status === 'running' && runId) status.run_id = runId;
    await notifyInTransaction(client, channel, encodeChatStreamNotify(status));
    await notifyInTransaction(client, chatEventChannel(chat.owner_id), encodeChatEventForNotify({ kind: 'status_change', chat }));
  };
}
