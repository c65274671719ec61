// Publishes what a chat store change says happened (contract.md#publishing): hints on `chat:stream:<chat>`
// (error, messages, queue, full refresh, status, retry), `ChatEvent`s on `chat:owner:<owner>` and inbox
// notifications. NOTIFY is a hint and the tables are the record, so a failed publish is logged and never
// thrown. It keeps no per-chat state: the durable-message cache and local fan-out belong to `subscribe`.
import type { Clock } from '@chatd/clock';
import type { Chat, ChatStreamError, ChatStreamRetry } from '@chatd/protocol';
import {
  chatEventChannel,
  chatStreamNotifyChannel,
  encodeChatEventForNotify,
  encodeChatStreamNotify,
  encodeInboxNotificationEvent,
  inboxNotificationForOwnerEventChannel,
  type ChatEventKind,
  type ChatStreamNotifyMessage,
  type PubSub,
} from '@chatd/pubsub';
import type { ChatChange } from '../store/chat-store.js';
import { NOOP_LOGGER, type Logger } from '../logger.js';
import { buildRunInboxNotification, type RunNotificationKind } from './inbox-notification.js';
import { activeTraceparent } from '../telemetry/traceparent.js';
import { CHAT_PENDING_HINT_CHANNEL } from './pending-hint.js';

/** Extra `ChatEvent`s to publish with a change. */
export type PublishChangeOptions = {
  /** ChatEvent kinds to publish after `status_change` (e.g. `created`, `title_change`, `deleted`). */
  chatEvents?: readonly ChatEventKind[];
  /**
   * The change created the chat (POST /chats): its id was unknown until now and its writes are committed, so no
   * subscription can miss anything the stream hints would say (a stream opened now reads the new message and status
   * in its snapshot, after subscribing). Only its `ChatEvent`s are published; the stream hints are left out (issue 36:
   * two NOTIFYs per create that nobody heard, and a worker that took the chat re-read its state for the `pending`).
   */
  newChat?: boolean;
};

/** Options of `createChatPublisher`. */
export type ChatPublisherOptions = {
  pubsub: PubSub;
  /** Dates inbox notifications. */
  clock: Clock;
  logger?: Logger;
  /**
   * Called after a change that leaves its chat `pending` was published: this replica's worker takes it at once
   * instead of at its next acquisition tick (contract.md#acquisition). Must not throw.
   */
  onPending?: (chat: Chat) => void;
  /**
   * Whether a change that leaves its chat `pending` also carries a `chat:pending` hint in its NOTIFY batch, for the
   * workers of other replicas (contract.md#acquisition). On for a replica without a worker. @default false
   */
  pendingHint?: boolean;
};

/** Publishes chat changes; every method resolves (failures are logged). */
export interface ChatPublisher {
  /**
   * Publishes, in order: the error (`{error_payload, error}`), the new messages (one `{after_message_id}`
   * with the smallest id - 1), `{queue_update}`, `{full_refresh}`, then `{status, worker_id}` and a
   * `status_change` ChatEvent unless the store already NOTIFYed them in its transaction, then `chatEvents`
   * (with `newChat`, only the ChatEvents).
   * A `waiting` status that comes with a non-empty queue (an interrupt that hands over to a queued
   * message) is not published: the run's end publishes `pending` next, so no client sees a terminal status
   * between the reply and the queued message's reply (contract.md#status-rule); the worker reacts to the queue update.
   */
  publishChange(change: ChatChange, options?: PublishChangeOptions): Promise<void>;
  /** Publishes one raw notification on `chat:stream:<chatId>`. */
  publishNotify(chatId: string, message: ChatStreamNotifyMessage): Promise<void>;
  /** `{retry}` on the chat's stream channel. */
  publishRetry(chatId: string, retry: ChatStreamRetry): Promise<void>;
  /** `{error_payload, error}` on the chat's stream channel (an empty message is ignored). */
  publishError(chatId: string, error: ChatStreamError): Promise<void>;
  /**
   * A `ChatEvent` on the owner's channel; one whose encoding would exceed the NOTIFY limit goes out
   * truncated (contract.md#oversized-events), never dropped for its size.
   */
  publishChatEvent(kind: ChatEventKind, chat: Chat): Promise<void>;
  /** Tells the chat's owner that a run finished or failed (`InboxNotificationEvent` kind `new`). */
  publishRunNotification(chat: Chat, kind: RunNotificationKind): Promise<void>;
}

/** Whether a change is an interrupt handing over to queued messages (its `waiting` is not shown). */
export function isHandOverToQueue(change: ChatChange): boolean {
  return change.chat.status === 'waiting' && change.queue !== undefined && change.queue.length > 0;
}

/** Creates the publisher over `pubsub`. */
export function createChatPublisher(options: ChatPublisherOptions): ChatPublisher {
  const { pubsub, clock } = options;
  const logger = options.logger ?? NOOP_LOGGER;

  async function send(channel: () => string, payload: () => Buffer, what: string, fields: object): Promise<void> {
    try {
      await pubsub.publish(channel(), payload());
    } catch (err) {
      logger.warn({ ...fields, err }, `publish ${what} failed`);
    }
  }

  /**
   * Sends the notifications in order, as one `publishAll` when the pubsub has it. One that cannot be encoded is
   * logged and left out, as `send` would; a failed batch is logged for each of its notifications.
   */
  async function sendAll(list: { channel: () => string; payload: () => Buffer; what: string }[], fields: object): Promise<void> {
    if (!pubsub.publishAll || list.length < 2) {
      for (const n of list) await send(n.channel, n.payload, n.what, fields);
      return;
    }
    const batch: { channel: string; payload: Buffer; what: string }[] = [];
    for (const n of list) {
      try {
        batch.push({ channel: n.channel(), payload: n.payload(), what: n.what });
      } catch (err) {
        logger.warn({ ...fields, err }, `publish ${n.what} failed`);
      }
    }
    try {
      await pubsub.publishAll(batch);
    } catch (err) {
      for (const n of batch) logger.warn({ ...fields, err }, `publish ${n.what} failed`);
    }
  }

  const publisher: ChatPublisher = {
    publishNotify(chatId, message) {
      return send(() => chatStreamNotifyChannel(chatId), () => encodeChatStreamNotify(message), 'chat stream notification', { chatId });
    },

    publishRetry(chatId, retry) {
      return publisher.publishNotify(chatId, { retry });
    },

    async publishError(chatId, error) {
      if (error.message.trim() === '') return;
      await publisher.publishNotify(chatId, { error_payload: error, error: error.message });
    },

    publishChatEvent(kind, chat) {
      return send(() => chatEventChannel(chat.owner_id), () => encodeChatEventForNotify({ kind, chat }), `chat event ${kind}`, { chatId: chat.id });
    },

    publishRunNotification(chat, kind) {
      const notification = buildRunInboxNotification(chat, kind, clock.now());
      return send(
        () => inboxNotificationForOwnerEventChannel(chat.owner_id),
        () => encodeInboxNotificationEvent({ kind: 'new', inbox_notification: notification }),
        'inbox notification',
        { chatId: chat.id },
      );
    },

    async publishChange(change, opts = {}) {
      const { chat } = change;
      // Encoded first, sent together (issue 36): with the PostgreSQL pubsub they are one NOTIFY transaction, one
      // commit on the server's global notify lock instead of one per notification; order is kept either way.
      const out: { channel: () => string; payload: () => Buffer; what: string }[] = [];
      const notify = (message: ChatStreamNotifyMessage) => {
        if (opts.newChat) return; // nobody can be listening on a new chat's stream channel (PublishChangeOptions.newChat)
        out.push({ channel: () => chatStreamNotifyChannel(chat.id), payload: () => encodeChatStreamNotify(message), what: 'chat stream notification' });
      };
      const chatEvent = (kind: ChatEventKind) =>
        out.push({ channel: () => chatEventChannel(chat.owner_id), payload: () => encodeChatEventForNotify({ kind, chat }), what: `chat event ${kind}` });
      if (change.error && change.error.message.trim() !== '') notify({ error_payload: change.error, error: change.error.message });
      if (change.messages.length > 0) {
        const first = Math.min(...change.messages.map((m) => m.id));
        notify({ after_message_id: first - 1 });
      }
      if (change.queue !== undefined) notify({ queue_update: true });
      if (change.fullRefresh) notify({ full_refresh: true });
      if (change.statusChanged && !change.statusNotified && !isHandOverToQueue(change)) {
        const status: ChatStreamNotifyMessage = { status: chat.status };
        if (chat.worker_id) status.worker_id = chat.worker_id;
        if (chat.status === 'running' && change.runId) status.run_id = change.runId;
        // A run publishes its own `running`: a relay dial on another replica then joins the run's trace.
        const traceparent = chat.status === 'running' ? activeTraceparent() : undefined;
        if (traceparent) status.traceparent = traceparent;
        notify(status);
        chatEvent('status_change');
      }
      for (const kind of opts.chatEvents ?? []) chatEvent(kind);
      const pending = chat.status === 'pending' && !chat.archived;
      if (pending && options.pendingHint) out.push({ channel: () => CHAT_PENDING_HINT_CHANNEL, payload: () => Buffer.from(chat.id), what: 'pending hint' });
      await sendAll(out, { chatId: chat.id });
      if (pending) options.onPending?.(chat);
    },
  };
  return publisher;
}
