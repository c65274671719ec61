// The watch and inbox sockets of one replica, grouped by user and topic: the first socket of a user on a topic
// subscribes to that topic's channel (chat events for the watch socket, inbox notifications for the inbox socket,
// contract.md#inbox-socket) and the last one to leave unsubscribes. Each event is decoded, framed (and, when it
// arrived truncated, its chat read from the database) once per user, not once per socket, and the same frame
// object reaches every socket's deliverer, so a flood of events costs one JSON text per event however many tabs
// watch. Frames leave in the order their events arrived.
import {
  chatEventChannel,
  handleChatEvent,
  handleInboxNotificationEvent,
  inboxNotificationForOwnerEventChannel,
  type PubSub,
  type TruncatedChatEvent,
  type Unsubscribe,
} from '@chatd/pubsub';
import { actionRequiredCalls } from '../tools/client-tools.js';
import type { ChatGitSync } from '../gitsync/chat-git-sync.js';
import type { ChatStore } from '../store/chat-store.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from './server-metrics.js';
import { chatEventFrame, type WatchFrame } from './watch-sender.js';

/** Dependencies of `createWatchHub`. */
export type WatchHubOptions = {
  pubsub: PubSub;
  chats: Pick<ChatStore, 'getChat'> & Partial<Pick<ChatStore, 'pendingToolCalls'>>;
  gitsync?: Pick<ChatGitSync, 'withDiffStatus'>;
  metrics: ServerMetrics;
  logger: Logger;
};

/** Receives the frames of one socket; must not block. */
export type WatchDeliver = (frame: WatchFrame) => void;

/** What a socket watches: the user's chat events (the watch socket) or inbox notifications (the inbox socket). */
export type WatchTopic = 'chats' | 'inbox';

/** The watch sockets of one replica. */
export interface WatchHub {
  /**
   * Adds a watcher of `userId`'s events on `topic` (default `chats`). Resolves, once the topic's channel is
   * subscribed, with the function that removes the watcher (idempotent); rejects when subscribing fails (the
   * watcher is then not added). Inbox watchers receive the notification's JSON as `json`.
   */
  join(userId: string, deliver: WatchDeliver, topic?: WatchTopic): Promise<() => void>;
  /** Users with at least one watcher (of either topic). */
  readonly users: number;
}

type UserWatch = {
  watchers: Set<WatchDeliver>;
  ready: Promise<void>;
  unsubs: Unsubscribe[];
  /** Set once the last watcher left: subscriptions that complete later are released at once. */
  closed: boolean;
  /** Frames wait here behind a truncated event's database read, so they leave in arrival order. */
  tail: Promise<void>;
  pending: number;
};

/** Creates the hub; one per server. */
export function createWatchHub(options: WatchHubOptions): WatchHub {
  const { metrics, logger } = options;
  /** Entries by `${topic}:${userId}`. */
  const users = new Map<string, UserWatch>();

  const deliverAll = (entry: UserWatch, frame: WatchFrame) => {
    for (const deliver of entry.watchers) {
      try {
        deliver(frame);
      } catch (err) {
        logger.error({ err }, 'watch: delivering a frame failed');
      }
    }
  };

  /** A truncated event (too large for NOTIFY, contract.md#oversized-events) goes out with the full chat; a chat that is gone, or a failed read, forwards it as it came. */
  const fullFrame = async (userId: string, event: TruncatedChatEvent): Promise<WatchFrame> => {
    try {
      const chat = await options.chats.getChat(event.chat.id, userId);
      if (chat) {
        metrics.inc('chatd_watch_events_refetched_total');
        return chatEventFrame({ kind: event.kind, chat: options.gitsync ? await options.gitsync.withDiffStatus(chat) : chat });
      }
    } catch (err) {
      logger.warn({ err, chatId: event.chat.id }, "watch: reading a truncated event's chat failed; forwarding it truncated");
    }
    return chatEventFrame(event);
  };

  /** `{kind: 'action_required', chat, tool_calls}` read from the database (contract.md#client-tools). */
  const actionRequiredFrame = async (userId: string, chatId: string): Promise<WatchFrame | undefined> => {
    try {
      const [chat, calls] = await Promise.all([options.chats.getChat(chatId, userId), options.chats.pendingToolCalls?.(chatId)]);
      if (!chat || !calls) return undefined; // answered meanwhile: its status event follows
      return { json: JSON.stringify({ kind: 'action_required', chat, tool_calls: actionRequiredCalls(calls) }) };
    } catch (err) {
      logger.warn({ err, chatId }, 'watch: reading pending tool calls failed');
      return undefined;
    }
  };

  const forward = (entry: UserWatch, frame: WatchFrame | Promise<WatchFrame | undefined>) => {
    if (entry.pending === 0 && !(frame instanceof Promise)) {
      deliverAll(entry, frame);
      return;
    }
    entry.pending++;
    entry.tail = entry.tail
      .then(() => frame)
      .then(
        (f) => {
          if (f) deliverAll(entry, f);
        },
        (err: unknown) => logger.error({ err }, 'watch: forwarding an event failed'),
      )
      .finally(() => entry.pending--);
  };

  const release = (entry: UserWatch) => {
    for (const u of entry.unsubs.splice(0)) u();
  };

  const open = (userId: string, topic: WatchTopic, key: string): UserWatch => {
    const entry: UserWatch = { watchers: new Set(), ready: Promise.resolve(), unsubs: [], closed: false, tail: Promise.resolve(), pending: 0 };
    const onChat = handleChatEvent((event) => {
      if (!event) return;
      forward(entry, event.truncated ? fullFrame(userId, event) : chatEventFrame(event));
      // A chat that now waits for client tool results: `action_required` with its calls follows its status.
      if (event.kind === 'status_change' && event.chat.status === 'requires_action') forward(entry, actionRequiredFrame(userId, event.chat.id));
    });
    const onInbox = handleInboxNotificationEvent((event) => {
      if (event) forward(entry, { json: JSON.stringify(event.inbox_notification) });
    });
    const subscribed = topic === 'inbox' ? options.pubsub.subscribe(inboxNotificationForOwnerEventChannel(userId), onInbox) : options.pubsub.subscribe(chatEventChannel(userId), onChat);
    entry.ready = Promise.allSettled([subscribed]).then(
      (results) => {
        for (const r of results) if (r.status === 'fulfilled') entry.unsubs.push(r.value);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed || entry.closed) {
          // A failed entry is forgotten so that the next socket of this user tries again.
          entry.closed = true;
          if (users.get(key) === entry) users.delete(key);
          release(entry);
        }
        if (failed) throw failed.reason;
      },
    );
    return entry;
  };

  return {
    async join(userId, deliver, topic = 'chats') {
      const key = `${topic}:${userId}`;
      let entry = users.get(key);
      if (!entry) {
        entry = open(userId, topic, key);
        users.set(key, entry);
      }
      const joined = entry;
      joined.watchers.add(deliver);
      try {
        await joined.ready;
      } catch (err) {
        joined.watchers.delete(deliver);
        throw err;
      }
      let left = false;
      return () => {
        if (left) return;
        left = true;
        joined.watchers.delete(deliver);
        if (joined.watchers.size > 0 || joined.closed) return;
        joined.closed = true;
        if (users.get(key) === joined) users.delete(key);
        release(joined);
      };
    },
    get users() {
      return new Set([...users.keys()].map((k) => k.slice(k.indexOf(':') + 1))).size;
    },
  };
}
