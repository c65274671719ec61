// The sync safety net (contract.md#sync-safety-net, after the original's poller): a NOTIFY can be lost without
// any sign a subscriber could see, so every interval this replica asks ONE query, over every chat its stream
// subscribers follow, which chats have a durable message newer than what their subscribers were sent, and tells
// exactly those subscribers to catch up through their own merge loop (so exactly-once holds). A lost NOTIFY thus
// costs at most one interval. It does not read or send messages itself, and it never follows relay legs.
import type { Clock, Ticker } from '@chatd/clock';
import { INT64_MAX } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import type { ChatBehind, FollowedChat } from '../store/chats-behind.js';
import type { Logger } from '../logger.js';

/** How often the safety net asks (`CHATD_SYNC_INTERVAL_MS`). @default 10000 */
export const DEFAULT_SYNC_INTERVAL_MS = 10_000;

/** One subscriber as the net sees it. */
export type SyncFollower = {
  /** The highest message id this subscriber was sent (its catch-up cursor); INT64_MAX: it takes no messages. */
  deliveredId(): bigint;
  /** Asks the subscriber to catch up from the database (queued into its merge loop; must not block). */
  catchUp(): void;
};

/** Counters of the net (for /metrics). */
export type SyncSafetyNetMetrics = {
  /** Ticks that ran a query (counter). */
  ticks: number;
  /** Subscribers told to catch up because their chat had a newer message (counter). */
  catchUps: number;
  /** Ticks whose query failed (counter; the next tick asks again). */
  failures: number;
  /** Chats followed now (gauge). */
  followedChats: number;
};

/** Options of `createSyncSafetyNet`. */
export type SyncSafetyNetOptions = {
  /** The one query per tick (`readChatsBehind` on the replica's pool). */
  readChatsBehind: (followed: readonly FollowedChat[]) => Promise<ChatBehind[]>;
  clock: Clock;
  logger: Logger;
  /** @default DEFAULT_SYNC_INTERVAL_MS */
  intervalMs?: number;
};

/** The safety net of one replica. */
export interface SyncSafetyNet {
  /** Registers a subscriber of `chatId`; returns its removal (idempotent). */
  follow(chatId: string, follower: SyncFollower): () => void;
  /** Starts ticking every interval on the clock. Idempotent. */
  start(): void;
  /** Stops ticking. Idempotent. */
  stop(): void;
  /** Runs one tick now (the interval calls this); never rejects. */
  tick(): Promise<void>;
  metrics(): SyncSafetyNetMetrics;
}

/** Creates the net; `start` it once the replica serves. Throws ChatdError CONFIG for an interval that is no positive integer. */
export function createSyncSafetyNet(options: SyncSafetyNetOptions): SyncSafetyNet {
  const intervalMs = options.intervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) throw new ChatdError('CONFIG', `sync interval must be a positive integer, got ${intervalMs}`);
  const chats = new Map<string, Set<SyncFollower>>();
  const counters = { ticks: 0, catchUps: 0, failures: 0 };
  let ticker: Ticker | undefined;

  const tick = async () => {
    // Per chat, the lowest cursor among its subscribers: the query then finds every chat any of them is behind in.
    const followed: FollowedChat[] = [];
    for (const [chatId, followers] of chats) {
      let lowest = INT64_MAX;
      for (const f of followers) {
        const d = f.deliveredId();
        if (d < lowest) lowest = d;
      }
      if (lowest < INT64_MAX) followed.push({ chatId, deliveredId: lowest });
    }
    if (followed.length === 0) return;
    counters.ticks++;
    let behind: ChatBehind[];
    try {
      behind = await options.readChatsBehind(followed);
    } catch (err) {
      counters.failures++;
      options.logger.warn({ err, chats: followed.length }, 'sync safety net: query failed; the next tick asks again');
      return;
    }
    for (const { chatId, newestId } of behind) {
      // Subscribers that caught up meanwhile (their NOTIFY arrived late) are left alone.
      for (const f of chats.get(chatId) ?? []) {
        if (f.deliveredId() >= newestId) continue;
        counters.catchUps++;
        try {
          f.catchUp();
        } catch (err) {
          options.logger.warn({ err, chatId }, 'sync safety net: a catch-up request failed');
        }
      }
    }
    if (behind.length > 0) options.logger.info({ chats: behind.length }, 'sync safety net: subscribers were behind the database (a lost notification); caught up');
  };

  return {
    follow(chatId, follower) {
      let set = chats.get(chatId);
      if (!set) chats.set(chatId, (set = new Set()));
      set.add(follower);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        set.delete(follower);
        if (set.size === 0 && chats.get(chatId) === set) chats.delete(chatId);
      };
    },
    start() {
      ticker ??= options.clock.setInterval(() => tick(), intervalMs, 'sync-safety-net');
    },
    stop() {
      ticker?.stop();
      ticker = undefined;
    },
    tick,
    metrics: () => ({ ...counters, followedChats: chats.size }),
  };
}
