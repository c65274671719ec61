// A `StatusNotifier` for the chat store that NOTIFYs a status change inside the transaction that wrote
// it (`notifyInTransaction`), so status notifications reach listeners in commit order. It sends what
// `ChatPublisher.publishChange` would have sent for the status: `{status, worker_id}` and `status_change`.
// Only the PostgreSQL pubsub hears these; a memory pubsub needs the publisher instead.
import { chatEventChannel, chatStreamNotifyChannel, encodeChatEvent, encodeChatStreamNotify, notifyInTransaction, type ChatStreamNotifyMessage } from '@chatd/pubsub';
import type { StatusNotifier } from '../store/chat-store.js';

/** Creates the in-transaction status notifier (pass it as the store's `notifyStatusInTransaction`). */
export function createTransactionalStatusNotifier(): StatusNotifier {
  return async (client, chat) => {
    const status: ChatStreamNotifyMessage = { status: chat.status };
    if (chat.worker_id) status.worker_id = chat.worker_id;
    await notifyInTransaction(client, chatStreamNotifyChannel(chat.id), encodeChatStreamNotify(status));
    await notifyInTransaction(client, chatEventChannel(chat.owner_id), encodeChatEvent({ kind: 'status_change', chat }));
  };
}
