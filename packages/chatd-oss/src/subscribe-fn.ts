// The enterprise hook of `subscribe` (seed 002): OSS owns pubsub, catch-up, queue, status and local
// parts; a `SubscribeFn` (the multi-replica relay) only returns relay `message_part` events, plus
// `error` events when a relay gives up. OSS tells it of every status change through `statusNotifications`.
import type { Clock } from '@chatd/clock';
import type { Chat, ChatStatus, ChatStreamEvent } from '@chatd/protocol';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './server/server-metrics.js';

/** A status change seen by the merge loop, forwarded to the hook so it can open, switch or close relays. */
export type StatusNotification = {
  status: ChatStatus;
  /** The replica running the chat, when known. */
  workerId: string | null;
  /**
   * The chat's history was rewritten (an edit): the subscriber sent `history_reset`, and every run whose parts
   * it saw before is over for it; a relay drops their parts from now on.
   */
  historyReset?: boolean;
  /** W3C trace context of the run that published a `running` status (a relay dial joins its trace). */
  traceparent?: string;
};

/** What the hook may read from the database: the chat's current status and worker (the relay's reconnect check). */
export interface SubscribeFnStore {
  /** The chat's current status and worker; rejects on a database error. */
  getChatRunState(chatId: string, signal?: AbortSignal): Promise<{ status: ChatStatus; workerId: string | null; runId: string | null } | undefined>;
}

/** Everything a `SubscribeFn` is given for one subscription. */
export type SubscribeFnParams = {
  chatId: string;
  /** The chat as read for the snapshot. */
  chat: Chat;
  /** The replica running the chat at subscribe time (null when none). */
  workerId: string | null;
  /** The subscriber's part cursor (contract.md#part-cursor): parts of `runId` after `afterSeq`. */
  afterSeq?: number;
  runId?: string;
  /** Status changes, in order; the iterable ends when the subscription ends. */
  statusNotifications: AsyncIterable<StatusNotification>;
  /** Headers of the subscriber's request (its credentials are forwarded to the peer). */
  requestHeader: Headers;
  store: SubscribeFnStore;
  logger: Logger;
  clock: Clock;
  /** Aborted when the subscription ends; the hook must then release every connection and timer. */
  signal: AbortSignal;
  /** The replica's metrics (the relay reports `chatd_relays` into them), when the server has them. */
  metrics?: ServerMetrics;
};

/**
 * The enterprise hook. Resolves once any synchronous initial relay is open (its snapshot parts are then
 * the first events); the returned iterable yields relay `message_part` and relay `error` events only (the
 * latter with `kind` `RELAY_GIVE_UP_ERROR_KIND` and a fixed message: they reach clients) and ends after
 * `signal` aborts.
 */
export type SubscribeFn = (params: SubscribeFnParams) => Promise<AsyncIterable<ChatStreamEvent>>;
