// `subscribe` (seed 002, contract.md#subscribe): one subscriber of one chat's stream. It
// subscribes to pubsub and the local live buffer FIRST, then reads the database, pushes the snapshot
// (status, discontinuity?, messages after the cursor, queue, in-flight parts), and then runs one serial
// merge loop over pubsub notifications, local parts and relay events from the optional enterprise hook.
// A long history (snapshot or catch-up) is read in pages of about SNAPSHOT_PAGE_BYTES, each pushed before the
// next is read and only once the sink says it can take more (`ready`); pushing itself never blocks (the socket
// layer coalesces or cuts slow clients). It owns no socket.
import type { Clock, Timer } from '@chatd/clock';
import {
  INT64_MAX,
  RELAY_SOURCE_HEADER,
  eventJson,
  isRelayGiveUpError,
  type Chat,
  type ChatMessage,
  type ChatStatus,
  type ChatStreamEvent,
  type DiscontinuityReason,
} from '@chatd/protocol';
import {
  chatStreamNotifyChannel,
  handleChatStreamNotify,
  type ChatStreamNotifyMessage,
  type PubSub,
  type PubSubError,
  type Unsubscribe,
} from '@chatd/pubsub';
import { ChatdError } from '../chatd-error.js';
import type { LiveListener, LivePart, LiveStreams } from '../live/live-buffer.js';
import type { ChatRun, ChatStore, MessagesAfterPage } from '../store/chat-store.js';
import type { SubscriptionSetup } from '../store/subscription-setup.js';
import type { Logger } from '../logger.js';
import type { ServerMetrics } from '../server/server-metrics.js';
import type { StatusNotification, SubscribeFn } from '../subscribe-fn.js';
import { createPushIterable, type PushIterable } from './push-iterable.js';
import { createTurnSharedRead } from './turn-shared-read.js';
import { actionRequiredCalls } from '../tools/client-tools.js';
import type { SyncSafetyNet } from './sync-safety-net.js';

/** First delay before re-subscribing to pubsub after a failed subscribe. @default 250 */
export const PUBSUB_RETRY_MIN_MS = 250;
/** Longest delay between pubsub re-subscribe attempts. @default 10000 */
export const PUBSUB_RETRY_MAX_MS = 10_000;

/** Most messages in one page of a snapshot or catch-up; a longer history is read in pages. @default 10000 */
export const MESSAGES_PAGE_SIZE = 10_000;
/**
 * Bytes of message content after which a snapshot or catch-up page stops (at least one message per page):
 * a subscriber holds at most about one page that its sink has not taken. @default 1 MiB
 */
export const SNAPSHOT_PAGE_BYTES = 1024 * 1024;

/**
 * The abort reason of every closed subscription's signal (`SubscribeFnParams.signal`): one shared value, because
 * `abort()` without a reason builds an AbortError DOMException, with its stack, per close (a reconnect storm closes
 * thousands at once).
 */
export const SUBSCRIPTION_CLOSED: Error = new ChatdError('UNAVAILABLE', 'The subscription was closed.');

/** Where a live part's lag (`chatd_part_lag_seconds`) starts: its append here, or its receipt from a relay. */
export type PartLagSource = { readonly atMs: number; readonly path: 'local' | 'relay' };

/** One event for the sink, with its JSON encoded once (`lag` rides beside it and never reaches the wire). */
export type OutEvent = { readonly event: ChatStreamEvent; readonly json: string; readonly lag?: PartLagSource };

/** Where a subscription delivers. `push` and `end` must return at once (never block). */
export interface StreamSink {
  /** The next event, in order. */
  push(out: OutEvent): void;
  /** The stream ended (after `close`, or on a fatal pubsub error). Called once. */
  end(error?: Error): void;
  /**
   * Back-pressure for bulk reads (history pages): resolves true when the sink can take more, false once it
   * has ended (cut or closed); never rejects. The subscriber reads the next page only after it resolved true,
   * and closes itself on false. Absent: always ready.
   */
  ready?(): Promise<boolean>;
}

/** Cursor and context of one subscription. */
export type SubscribeOptions = {
  /** Messages with id > afterId are sent (int64; `INT64_MAX` means none). @default 0n */
  afterId?: bigint;
  /** Part cursor (contract.md#part-cursor): parts of `runId` after `afterSeq`. Both or neither. */
  afterSeq?: number;
  runId?: string;
  /** Headers of the subscriber's request; a relay request (RELAY_SOURCE_HEADER) is served from local state only. */
  requestHeader?: Headers;
  /**
   * Called with the chat the setup read, before anything is pushed to the sink: a rejection (e.g. NOT_FOUND for
   * another user's chat) ends the subscription and `subscribe` rejects with it. The stream route checks ownership
   * and upgrades the socket here, so the setup's chat read serves the upgrade's 404 too.
   */
  admit?: (chat: Chat) => Promise<void>;
};

/** A live subscription. */
export interface Subscription {
  /** Ends the subscription and releases everything it holds. Idempotent. */
  close(): void;
  readonly closed: boolean;
}

/** Counters of the subscribe side (for /metrics). */
export type SubscriberMetrics = {
  /** Subscriptions open now (gauge). */
  active: number;
  /** Database catch-up reads run after notifications (counter; subscribers of one chat at one cursor share a read). */
  catchUpQueries: number;
  /** Catch-ups served by a read another subscriber of the chat started in the same turn (counter). */
  catchUpsShared: number;
  /** Snapshot pages read from the database (counter; subscribers of one chat at one cursor share a read). */
  snapshotPagesRead: number;
  /** Snapshot pages served by a read another subscriber of the chat started in the same turn (counter). */
  snapshotPagesShared: number;
  /** Discontinuity events emitted (counter). */
  discontinuities: number;
};

/** The part of the chat store `subscribe` reads. */
export type SubscriberStore = Pick<ChatStore, 'getChat' | 'messagesAfter' | 'getQueue' | 'getRun' | 'getChatRunState' | 'subscriptionSetup'> &
  Partial<Pick<ChatStore, 'pendingToolCalls' | 'cursorHidden'>>;

/** Dependencies of `createChatSubscriber`. */
export type ChatSubscriberOptions = {
  store: SubscriberStore;
  pubsub: PubSub;
  live: LiveStreams;
  clock: Clock;
  logger: Logger;
  /** This replica's id (the worker id of chats it runs); read lazily. */
  replicaId: () => string;
  /** The enterprise hook (multi-replica relay), when configured. */
  subscribeFn?: SubscribeFn;
  /** The sync safety net (contract.md#sync-safety-net): each subscription follows its chat there once set up. */
  syncNet?: Pick<SyncSafetyNet, 'follow'>;
  /** Discontinuities by reason and catch-up read times go here (and it is handed to `subscribeFn`). */
  metrics?: ServerMetrics;
};

/** Opens subscriptions to chat streams. */
export interface ChatSubscriber {
  /**
   * Subscribes to `chatId`. Resolves once the snapshot has been pushed to `sink` (page by page, as fast as
   * `sink.ready` allows; a sink that ends meanwhile leaves the subscription closed); live events follow.
   * Rejects with ChatdError NOT_FOUND when the chat does not exist (the caller checks ownership first, or in `admit`).
   */
  subscribe(chatId: string, options: SubscribeOptions, sink: StreamSink): Promise<Subscription>;
  metrics(): SubscriberMetrics;
}

type Input =
  | { kind: 'notify'; message: ChatStreamNotifyMessage }
  | { kind: 'pubsub_error'; error: PubSubError }
  | { kind: 'resubscribed' }
  | { kind: 'part'; part: LivePart }
  | { kind: 'run_ended'; runId: string; persisted: boolean }
  | { kind: 'relay'; event: ChatStreamEvent; receivedAtMs: number }
  | { kind: 'sync' };

const encode = (event: ChatStreamEvent): OutEvent => ({ event, json: eventJson(event) });

/**
 * A run whose parts were not all turned into durable messages: lost, ended without persisting, or (steps)
 * ended with parts after `heldSeq`, the highest seq a subscriber holds, that no message of it covers.
 */
function runLost(run: ChatRun | undefined, heldSeq = 0): boolean {
  if (!run) return true;
  if (run.outcome === 'lost') return true;
  if (run.outcome !== null && run.lastSeq !== null && heldSeq > run.lastSeq) return true;
  return run.outcome !== null && run.messageIds.length === 0 && run.outcome !== 'finished';
}

/** Creates the subscribe side of one replica. */
export function createChatSubscriber(deps: ChatSubscriberOptions): ChatSubscriber {
  const counters = { active: 0, discontinuities: 0 };

  /** One page of the visible messages of `chatId` after `after`, ascending. */
  const readPage = (chatId: string, after: bigint) =>
    deps.store.messagesAfter(chatId, after, { limit: MESSAGES_PAGE_SIZE, maxBytes: SNAPSHOT_PAGE_BYTES });
  /** A catch-up page read, timed once per database read (subscribers sharing it do not count it again). */
  const timedCatchUpPage = async (chatId: string, after: bigint) => {
    const startMs = deps.clock.nowMs();
    try {
      return await readPage(chatId, after);
    } finally {
      deps.metrics?.observe('chatd_catch_up_query_seconds', (deps.clock.nowMs() - startMs) / 1000);
    }
  };

  // One notification reaches every subscriber of a chat in the same turn: their catch-ups at the same cursor,
  // and their run lookups, share one read each (see turn-shared-read.ts). Snapshot pages are shared the same
  // way (subscribers that connect together, or whose sinks become ready together, at one cursor), counted apart.
  const catchUpReads = createTurnSharedRead<MessagesAfterPage>();
  const snapshotReads = createTurnSharedRead<MessagesAfterPage>();
  const runReads = createTurnSharedRead<ChatRun | undefined>();
  const sharedCatchUpPage = (chatId: string, after: bigint) => catchUpReads(`${chatId}:${after}`, () => timedCatchUpPage(chatId, after));
  const sharedSnapshotPage = (chatId: string, after: bigint) => snapshotReads(`${chatId}:${after}`, () => readPage(chatId, after));
  const sharedGetRun = (runId: string) => runReads(runId, () => deps.store.getRun(runId));
  const readSetup = (chatId: string, after: bigint, runIds: string[], queue: boolean) => {
    const read = () => deps.store.subscriptionSetup({ chatId, afterId: after, limit: MESSAGES_PAGE_SIZE, maxBytes: SNAPSHOT_PAGE_BYTES, runIds, queue });
    return (after < INT64_MAX ? setupPageReads : setupReads)(`${chatId}:${after}:${runIds.join(',')}:${queue}`, read);
  };
  // A subscription's setup (chat, cursor check, first page, queue, runs: one statement) is shared the same way by
  // the subscribers that join one chat at one cursor in one turn; one that reads a page counts as a page read.
  const setupPageReads = createTurnSharedRead<SubscriptionSetup | undefined>();
  const setupReads = createTurnSharedRead<SubscriptionSetup | undefined>();
  /** The `message` event of a message from a shared read, encoded once for every subscriber it reaches. */
  const messageEvents = new WeakMap<ChatMessage, OutEvent>();
  const messageEvent = (chatId: string, message: ChatMessage): OutEvent => {
    let o = messageEvents.get(message);
    if (!o) {
      o = encode({ type: 'message', chat_id: chatId, message });
      messageEvents.set(message, o);
    }
    return o;
  };

  async function subscribe(chatId: string, options: SubscribeOptions, sink: StreamSink): Promise<Subscription> {
    if ((options.afterSeq === undefined) !== (options.runId === undefined)) {
      throw new ChatdError('INVALID_INPUT', 'after_seq and run_id go together');
    }
    const fromRelay = options.requestHeader?.has(RELAY_SOURCE_HEADER) ?? false;
    const cursorRun = options.runId;
    const cursorSeq = options.afterSeq ?? 0;

    let closed = false;
    let lastMessageId = options.afterId ?? 0n;
    /** Run whose parts this subscriber has been sent and which has not yet been persisted or declared lost. */
    let partsRun: string | undefined;
    /**
     * Highest seq per run that this subscriber's client holds or needs no more: parts sent, the cursor, and the
     * `last_seq` of the run's messages sent (contract.md#steps); a part at or below it is never sent.
     */
    const sentSeq = new Map<string, number>();
    /** Runs whose reply message has been sent (see settleRunOf, for messages without `last_seq`). */
    const settledRuns = new Set<string>();
    if (cursorRun !== undefined) sentSeq.set(cursorRun, cursorSeq);
    let lastStatus: ChatStatus | undefined;
    /**
     * Set once this subscription sent a `history_reset` (contract.md#history-reset): from then on the parts of a run
     * this subscriber has not sent flow only once `verdict` found the run in flight, so a run the edit fenced never
     * reaches the client however late its parts arrive. Relay parts of an unknown run are checked the same way
     * always: a shared relay may still hold a fenced run's parts for a subscriber that joins after the edit.
     */
    let reset = false;
    /** Runs `verdict` looked up: true when the run was still in flight (a dead one also goes into settledRuns). */
    const runVerdicts = new Map<string, boolean>();

    // Serial merge loop: inputs queue while an async step (a catch-up query) runs; parts take a
    // synchronous fast path when nothing is queued.
    const inputs: Input[] = [];
    let busy = true; // held during setup, so early inputs wait behind the snapshot
    const abort = new AbortController();
    let statusNotifications: PushIterable<StatusNotification> | undefined;
    let unsubscribePubsub: Unsubscribe | undefined;
    let unsubscribeLive: (() => void) | undefined;
    let retryTimer: Timer | undefined;
    let retryDelay = PUBSUB_RETRY_MIN_MS;
    let unfollow: (() => void) | undefined;

    const out = (event: ChatStreamEvent) => {
      if (!closed) sink.push(encode(event));
    };

    /** Waits until the sink can take another page; false once it cannot (this subscription is then closed). */
    const sinkReady = async (): Promise<boolean> => {
      if (closed) return false;
      if (sink.ready && !(await sink.ready())) close(undefined, false); // the sink has ended itself
      return !closed;
    };

    /** Whether a part of `runId` must wait for `verdict` before it may be sent. */
    const needsVerdict = (runId: string, relay: boolean) => (relay || reset) && !sentSeq.has(runId) && !settledRuns.has(runId) && !runVerdicts.has(runId);

    /** Looks `runId` up once: a run of another chat, an unknown one or one that has ended sends no more parts. */
    const verdict = async (runId: string) => {
      let alive = true; // a failed lookup lets the parts through, as before there was any check
      try {
        const run = await sharedGetRun(runId);
        alive = run !== undefined && run.chatId === chatId && run.outcome === null;
      } catch (err) {
        deps.logger.warn({ err, chatId }, 'run lookup failed');
      }
      runVerdicts.set(runId, alive);
      if (!alive) settledRuns.add(runId);
    };

    /**
     * Sends a part unless this subscriber holds it. `live`: it arrived live, so its lag is observed (a snapshot
     * part's age is not a delivery delay). A live local part goes to the sink as the LivePart itself, the one
     * object every subscriber of the chat shares (no allocation per socket); a relayed one as one new object.
     */
    const sendPart = (part: LivePart | undefined, event: ChatStreamEvent, live: boolean, relayLag?: PartLagSource) => {
      if (event.type !== 'message_part') return;
      const { run_id: runId, seq } = event.message_part;
      if (seq <= (sentSeq.get(runId) ?? 0) || settledRuns.has(runId)) return;
      sentSeq.set(runId, seq);
      partsRun = runId;
      if (closed) return;
      if (part) sink.push(live ? part : { event: part.event, json: part.json });
      else sink.push(live && relayLag ? { event, json: eventJson(event), lag: relayLag } : encode(event));
    };
    const countDiscontinuity = (reason: DiscontinuityReason) => {
      counters.discontinuities++;
      deps.metrics?.inc('chatd_discontinuities_total', 1, { reason });
    };

    /**
     * Settles per step (contract.md#steps): once a message of run R with `last_seq` L was sent, R's parts with
     * seq <= L are in it, so a later one (a relay part overtaken by the notify, a snapshot part) is dropped,
     * while R's parts after L still flow. When the message covers every part sent, nothing of R is in flight.
     */
    const settleStep = (m: ChatMessage) => {
      if (m.run_id === undefined || m.last_seq === undefined) return;
      const held = sentSeq.get(m.run_id) ?? 0;
      if (partsRun === m.run_id && m.last_seq >= held) partsRun = undefined;
      if (m.last_seq > held) sentSeq.set(m.run_id, m.last_seq);
    };

    /**
     * Messages without `last_seq` (written by a replica from before steps, during a rolling upgrade): such a
     * run persisted its reply once, after its last part, so nothing of it may follow that message.
     * `sentAssistantIds`: ids of those assistant messages just sent.
     */
    const settleRunOf = async (sentAssistantIds: number[]) => {
      const runId = partsRun;
      if (runId === undefined || sentAssistantIds.length === 0) return;
      try {
        const run = await sharedGetRun(runId);
        if (run && sentAssistantIds.some((id) => run.messageIds.includes(id))) {
          settledRuns.add(runId);
          if (partsRun === runId) partsRun = undefined;
        }
      } catch (err) {
        deps.logger.warn({ err, chatId }, 'run lookup failed');
      }
    };

    /**
     * Pushes a page's messages after the cursor, moving it and settling the steps they carry; returns the ids
     * of the assistant messages among them that carry no `last_seq` (see settleRunOf).
     */
    const pushPage = (page: MessagesAfterPage): number[] => {
      const assistantIds: number[] = [];
      for (const m of page.messages) {
        const id = BigInt(m.id);
        if (id <= lastMessageId) continue;
        lastMessageId = id;
        sink.push(messageEvent(chatId, m));
        settleStep(m);
        if (m.role === 'assistant' && m.last_seq === undefined) assistantIds.push(m.id);
      }
      return assistantIds;
    };

    const catchUp = async () => {
      // Only ids, and only while parts of a run were sent (settleRunOf's question): a long catch-up (a
      // full_refresh) keeps no page once the sink has taken it.
      const assistantIds: number[] | undefined = partsRun !== undefined ? [] : undefined;
      while (!closed && lastMessageId < INT64_MAX) {
        let page: MessagesAfterPage;
        try {
          // Shared with the chat's other subscribers at the same cursor; the page is read, never changed.
          page = await sharedCatchUpPage(chatId, lastMessageId);
        } catch (err) {
          deps.logger.warn({ err, chatId }, 'catch-up query failed');
          break;
        }
        if (closed) return;
        const ids = pushPage(page);
        if (assistantIds) assistantIds.push(...ids);
        if (!page.hasMore || page.messages.length === 0) break;
        if (!(await sinkReady())) return;
      }
      if (assistantIds) await settleRunOf(assistantIds);
    };

    const discontinuity = async (reason: DiscontinuityReason) => {
      countDiscontinuity(reason);
      partsRun = undefined;
      out({ type: 'discontinuity', chat_id: chatId, discontinuity: { reason, resync_after_id: Number(lastMessageId < INT64_MAX ? lastMessageId : 0n) } });
      await catchUp();
    };

    /** After a run we sent parts of ended elsewhere: if its output was not persisted, say so and resync. */
    const checkPartsRun = async () => {
      const runId = partsRun;
      if (runId === undefined) return;
      let run: ChatRun | undefined;
      try {
        run = await sharedGetRun(runId);
      } catch (err) {
        deps.logger.warn({ err, chatId }, 'run lookup failed');
        return;
      }
      if (run && run.outcome === null) return; // still going (e.g. interrupted but persisting)
      if (partsRun !== runId) return;
      if (runLost(run, sentSeq.get(runId) ?? 0)) await discontinuity('run_lost');
      else partsRun = undefined;
    };

    /** `queue_update` with the chat's queue; none on a relay leg (the relaying replica forwards parts only). */
    const queueUpdate = async () => {
      if (fromRelay) return;
      const queue = await deps.store.getQueue(chatId);
      out(queue.length ? { type: 'queue_update', chat_id: chatId, queued_messages: queue } : { type: 'queue_update', chat_id: chatId });
    };

    /** `action_required` with the calls a chat in `requires_action` waits for (contract.md#client-tools); none on a relay leg. */
    const actionRequired = async () => {
      if (fromRelay) return;
      try {
        const calls = await deps.store.pendingToolCalls?.(chatId);
        if (calls && !closed) out({ type: 'action_required', chat_id: chatId, action_required: { tool_calls: actionRequiredCalls(calls) } });
      } catch (err) {
        deps.logger.warn({ err, chatId }, 'pending tool calls read failed');
      }
    };

    /**
     * The history was rewritten (an edit; contract.md#history-reset): `history_reset`, the whole visible history
     * again (paged like a snapshot), then status, queue and pending calls. The client drops what it held, parts
     * included, so no part of a run sent before is sent again (its messages, if any, come as messages).
     */
    const historyReset = async () => {
      reset = true;
      for (const runId of sentSeq.keys()) settledRuns.add(runId);
      sentSeq.clear();
      runVerdicts.clear(); // a run in flight before the edit may be the one it fenced
      partsRun = undefined;
      out({ type: 'history_reset', chat_id: chatId });
      lastMessageId = options.afterId !== undefined && options.afterId >= INT64_MAX ? INT64_MAX : 0n;
      await catchUp();
      try {
        const state = await deps.store.getChatRunState(chatId);
        if (closed || !state) return;
        lastStatus = state.status;
        out({ type: 'status', chat_id: chatId, status: { status: state.status } });
        statusNotifications?.push({ status: state.status, workerId: state.workerId, historyReset: true });
        await queueUpdate();
        if (state.status === 'requires_action') await actionRequired();
      } catch (err) {
        deps.logger.warn({ err, chatId }, 'history reset read failed');
      }
    };

    const handleNotify = async (n: ChatStreamNotifyMessage) => {
      if (n.full_refresh) {
        await historyReset();
      } else if (n.after_message_id !== undefined && n.after_message_id > 0) {
        await catchUp();
      }
      if (n.status) {
        lastStatus = n.status;
        // A `running` status names its run: in commit order, so that run is in flight now and its relayed parts
        // need no lookup (a later fence comes as a later notification, whose history reset clears this).
        if (n.status === 'running' && n.run_id !== undefined && !settledRuns.has(n.run_id)) runVerdicts.set(n.run_id, true);
        out({ type: 'status', chat_id: chatId, status: { status: n.status } });
        statusNotifications?.push({ status: n.status, workerId: n.worker_id ?? null, ...(n.traceparent ? { traceparent: n.traceparent } : {}) });
        if (n.status !== 'running') await checkPartsRun();
        if (n.status === 'requires_action') await actionRequired();
      }
      if (n.retry) out({ type: 'retry', chat_id: chatId, retry: n.retry });
      if (n.error_payload) out({ type: 'error', chat_id: chatId, error: n.error_payload });
      else if (n.error && n.error.trim() !== '') out({ type: 'error', chat_id: chatId, error: { message: n.error } });
      if (n.queue_update) {
        try {
          await queueUpdate();
        } catch (err) {
          deps.logger.warn({ err, chatId }, 'queue read failed');
        }
      }
    };

    /** After a (re)subscribe, a dropped-messages signal or a safety-net tick: catch up messages, status and queue from the database. */
    const resync = async () => {
      await catchUp();
      try {
        const state = await deps.store.getChatRunState(chatId);
        if (state && state.status !== lastStatus) {
          lastStatus = state.status;
          out({ type: 'status', chat_id: chatId, status: { status: state.status } });
          statusNotifications?.push({ status: state.status, workerId: state.workerId });
          if (state.status !== 'running') await checkPartsRun();
        }
        await queueUpdate();
        if (lastStatus === 'requires_action') await actionRequired();
      } catch (err) {
        deps.logger.warn({ err, chatId }, 'resync read failed');
      }
    };

    const step = async (input: Input): Promise<void> => {
      switch (input.kind) {
        case 'part':
          if (needsVerdict(input.part.runId, false)) await verdict(input.part.runId);
          sendPart(input.part, input.part.event, true);
          return;
        case 'relay':
          if (input.event.type === 'message_part') {
            if (needsVerdict(input.event.message_part.run_id, true)) await verdict(input.event.message_part.run_id);
            sendPart(undefined, input.event, true, { atMs: input.receivedAtMs, path: 'relay' });
          } else if (input.event.type === 'error' && isRelayGiveUpError(input.event.error)) {
            if (partsRun !== undefined) await discontinuity('relay_failed');
            else out(input.event);
          } else if (input.event.type === 'error') out(input.event);
          return;
        case 'run_ended':
          if (partsRun !== input.runId) return;
          if (input.persisted) partsRun = undefined;
          else await checkPartsRun();
          return;
        case 'notify':
          await handleNotify(input.message);
          return;
        case 'resubscribed':
        case 'sync':
          await resync();
          return;
        case 'pubsub_error':
          if (input.error.code === 'MESSAGES_DROPPED') {
            await resync();
            return;
          }
          out({ type: 'error', chat_id: chatId, error: { message: `stream notifications failed: ${input.error.message}` } });
          close(input.error);
          return;
      }
    };

    const drain = async () => {
      busy = true;
      try {
        while (!closed && inputs.length > 0) {
          const next = inputs.shift()!;
          try {
            await step(next);
          } catch (err) {
            deps.logger.error({ err, chatId }, 'merge loop step failed');
          }
        }
      } finally {
        busy = false;
      }
    };

    const enqueue = (input: Input) => {
      if (closed) return;
      if (!busy && inputs.length === 0) {
        // Parts take a synchronous fast path: nothing is queued ahead of them, and sending one never waits.
        if (input.kind === 'part' && !needsVerdict(input.part.runId, false)) {
          sendPart(input.part, input.part.event, true);
          return;
        }
        if (input.kind === 'relay' && input.event.type === 'message_part' && !needsVerdict(input.event.message_part.run_id, true)) {
          sendPart(undefined, input.event, true, { atMs: input.receivedAtMs, path: 'relay' });
          return;
        }
      }
      inputs.push(input);
      if (!busy) void drain();
    };

    function close(error?: Error, tellSink = true) {
      if (closed) return;
      closed = true;
      counters.active--;
      inputs.length = 0;
      retryTimer?.cancel();
      unsubscribeLive?.();
      unsubscribePubsub?.();
      unfollow?.();
      statusNotifications?.end();
      abort.abort(SUBSCRIPTION_CLOSED);
      if (!tellSink) return;
      try {
        sink.end(error);
      } catch (err) {
        deps.logger.warn({ err, chatId }, 'sink end failed');
      }
    }

    counters.active++;
    // 1. Local live parts (snapshot taken atomically with the subscription).
    const onLive: LiveListener = (signal) => {
      if (signal.kind === 'part') enqueue({ kind: 'part', part: signal.part });
      else if (signal.kind === 'run_ended') enqueue({ kind: 'run_ended', runId: signal.runId, persisted: signal.persisted });
    };
    const liveSub = deps.live.subscribe(chatId, onLive);
    unsubscribeLive = liveSub.unsubscribe;

    // 2. Pubsub before any read, so no notification falls between the read and the subscription.
    const listener = handleChatStreamNotify((message, error) => {
      if (error) enqueue({ kind: 'pubsub_error', error });
      else if (message) enqueue({ kind: 'notify', message });
    });
    const subscribePubsub = async (): Promise<boolean> => {
      try {
        const unsub = await deps.pubsub.subscribe(chatStreamNotifyChannel(chatId), listener, { signal: abort.signal });
        if (closed) {
          unsub();
          return false;
        }
        unsubscribePubsub = unsub;
        retryDelay = PUBSUB_RETRY_MIN_MS;
        return true;
      } catch (err) {
        if (closed) return false;
        deps.logger.warn({ err, chatId, retryInMs: retryDelay }, 'pubsub subscribe failed; retrying');
        // Seed 002: success is tracked from the actual subscription, and a failure is retried, never ignored.
        retryTimer = deps.clock.setTimeout(() => {
          void subscribePubsub().then((ok) => ok && enqueue({ kind: 'resubscribed' }));
        }, retryDelay, 'subscribe-pubsub-retry');
        retryDelay = Math.min(retryDelay * 2, PUBSUB_RETRY_MAX_MS);
        return false;
      }
    };
    const handle: Subscription = {
      close: () => close(),
      get closed() {
        return closed;
      },
    };
    try {
      await subscribePubsub();

      // 3. Snapshot: status (and a discontinuity) at once, then the history page by page, each pushed only once
      // the sink can take it and each after the first read only then, so a client that does not read costs about
      // one page beyond its sender's limit.
      // One statement reads the chat, the cursor check, the first page, the queue and the runs asked about (the
      // cursor's and the one in flight here), all after the pubsub subscription (subscription-setup.ts).
      const live = liveSub.snapshot;
      const setup = await readSetup(chatId, lastMessageId, [...new Set([cursorRun, live.runId].filter((id) => id !== undefined))], !fromRelay);
      if (!setup) throw new ChatdError('NOT_FOUND', 'chat not found');
      const chat: Chat = setup.chat;
      await options.admit?.(chat);
      lastStatus = chat.status;
      const head: ChatStreamEvent[] = [{ type: 'status', chat_id: chatId, status: { status: chat.status } }];

      let liveParts = live.parts;
      // A cursor whose last message was hidden by an edit made after the client read it: the client holds a
      // history that is no more, so it gets `history_reset` and the whole visible history instead of a resume.
      if (setup.cursorHidden) {
        reset = true;
        head.push({ type: 'history_reset', chat_id: chatId });
        lastMessageId = 0n;
        sentSeq.clear();
        // The client drops the parts it held: the run in flight here is sent whole; any other run of the cursor never.
        if (cursorRun !== undefined && cursorRun !== live.runId) settledRuns.add(cursorRun);
      } else if (cursorRun !== undefined && cursorRun !== live.runId) {
        // The cursor names a run that is not the one in flight here: finished (its message follows),
        // still running elsewhere (the relay continues it), or lost/unknown (discontinuity).
        // Runs are looked up within this chat: another chat's run answers exactly as an unknown one (run_lost).
        const found = setup.runs.get(cursorRun);
        const run = found?.chatId === chatId ? found : undefined;
        const remoteCurrent = run && run.outcome === null && chat.worker_id !== null && chat.worker_id !== deps.replicaId();
        if (!remoteCurrent && runLost(run, cursorSeq)) {
          countDiscontinuity('run_lost');
          head.push({ type: 'discontinuity', chat_id: chatId, discontinuity: { reason: 'run_lost', resync_after_id: Number(lastMessageId < INT64_MAX ? lastMessageId : 0n) } });
        } else if (run && run.outcome === null) {
          // Still in flight elsewhere: the client holds parts of it, so when it ends, check whether it
          // was persisted (and send run_lost if its worker died), as for parts sent by this subscriber.
          partsRun = cursorRun;
        }
      } else if (cursorRun !== undefined) {
        liveParts = liveParts.filter((p) => p.seq > cursorSeq);
      }

      for (const e of head) out(e);
      const snapshotFrom = lastMessageId;
      let lastAssistantId = 0;
      // The first page came with the setup (read from the cursor, or from the start after a hidden cursor).
      let firstPage = setup.page;
      let pages = 0;
      while (lastMessageId < INT64_MAX) {
        // The setup's page goes out with the head without asking the sink (it holds only the head yet, and one page
        // is what any page may cost): the status and the history reach the client in one frame, not two.
        if (firstPage ? closed : !(await sinkReady())) return handle;
        const page = firstPage ?? (await sharedSnapshotPage(chatId, lastMessageId));
        firstPage = undefined;
        pages++;
        if (closed) return handle;
        lastAssistantId = pushPage(page).at(-1) ?? lastAssistantId;
        if (!page.hasMore || page.messages.length === 0) break;
      }
      // A relay leg's queue and pending calls are not read: the relaying replica forwards parts only.
      if (setup.queue?.length) out({ type: 'queue_update', chat_id: chatId, queued_messages: setup.queue });
      if (chat.status === 'requires_action') await actionRequired();

      if (live.runId !== undefined) {
        // The live snapshot is older than the pages (a paced snapshot can take long), and a client whose cursor
        // is past a step's message holds that step: the run's parts start after the last step it persisted
        // (max(after_seq, last_seq of its messages), contract.md#steps); a reply without last_seq settles all.
        // The setup read the run with the first page; after more pages it is read again, as late as they were.
        const run =
          pages <= 1
            ? setup.runs.get(live.runId)
            : await sharedGetRun(live.runId).catch((err: unknown) => {
                deps.logger.warn({ err, chatId }, 'run lookup failed');
                return undefined;
              });
        if (run && run.outcome !== null) {
          // The buffer still holds a run that has ended in the database: it was fenced (an edit, a takeover) and
          // its worker has not stopped yet. None of its parts, buffered or still to come, is worth sending.
          settledRuns.add(live.runId);
          liveParts = [];
        }
        if (run?.lastSeq != null && run.lastSeq > (sentSeq.get(live.runId) ?? 0)) sentSeq.set(live.runId, run.lastSeq);
        if (lastAssistantId > 0 && run?.messageIds.some((id) => BigInt(id) > snapshotFrom && BigInt(id) <= lastMessageId)) {
          settledRuns.add(live.runId);
          liveParts = [];
        }
      }
      for (const p of liveParts) sendPart(p, p.event, false);

      // 4. The enterprise hook (not for relay requests: they are served from local state only).
      if (deps.subscribeFn && !fromRelay) {
        statusNotifications = createPushIterable<StatusNotification>();
        const relay = await deps.subscribeFn({
          chatId,
          chat,
          workerId: chat.worker_id,
          afterSeq: options.afterSeq,
          runId: options.runId,
          statusNotifications,
          requestHeader: options.requestHeader ?? new Headers(),
          store: deps.store,
          logger: deps.logger,
          clock: deps.clock,
          signal: abort.signal,
          ...(deps.metrics ? { metrics: deps.metrics } : {}),
        });
        // A chat running elsewhere: its run, read by the setup after the pubsub subscription, is in flight as of
        // that read, so its first relayed part needs no lookup (a later fence comes as a later notification, whose
        // history reset clears this verdict, in commit order).
        if (chat.status === 'running' && chat.worker_id !== deps.replicaId() && setup.runId !== null) {
          if (!runVerdicts.has(setup.runId) && !settledRuns.has(setup.runId)) runVerdicts.set(setup.runId, true);
        }
        void (async () => {
          try {
            for await (const event of relay) {
              if (closed) break;
              enqueue({ kind: 'relay', event, receivedAtMs: deps.clock.nowMs() });
            }
          } catch (err) {
            if (!closed) deps.logger.warn({ err, chatId }, 'relay events failed');
          }
        })();
      }
    } catch (err) {
      // Setup failed: release everything; the caller answers the error (the sink was never started).
      close(undefined, false);
      throw err;
    }

    // The safety net asks the database for what this subscriber was not sent, from its cursor on (a relay leg
    // is served from local state, and its replica's own subscriber follows the chat).
    if (!fromRelay) unfollow = deps.syncNet?.follow(chatId, { deliveredId: () => lastMessageId, catchUp: () => enqueue({ kind: 'sync' }) });
    busy = false;
    if (inputs.length) void drain();
    return handle;
  }

  return {
    subscribe,
    metrics: () => ({
      ...counters,
      catchUpQueries: catchUpReads.counters.started,
      catchUpsShared: catchUpReads.counters.shared,
      snapshotPagesRead: snapshotReads.counters.started + setupPageReads.counters.started,
      snapshotPagesShared: snapshotReads.counters.shared + setupPageReads.counters.shared,
    }),
  };
}
