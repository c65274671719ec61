// The channel router: in-memory, append-only message channels owned by processes and usable only by
// a process's submitter and executor, with the original's limits, check order and error texts.
// Appends are O(1) (no re-sort; see `insertEntry`) and delivery never blocks the appender. It keeps
// no persistence and does no replication: one router is one process's state.
import type { Clock } from '@chatd/clock';
import { createRealClock } from '@chatd/clock';
import type { Channel, NewChannel } from './channel.js';
import { ChannelsError } from './channels-error.js';
import type { MsgEntry } from './msg-entry.js';
import { MSG_TYPE_DATA } from './msg-entry.js';
import type { RateLimiter } from './rate-limiter.js';
import { createRateLimiter } from './rate-limiter.js';
import type { ChannelState, RouterWarning, Subscription, SubscriptionCallbacks } from './subscription.js';
import {
  SubscriptionImpl,
  createChannelState,
  cutSlowSubscribers,
  endSubscription,
  scheduleFlush,
  wakeParked,
} from './subscription.js';

/** Largest accepted payload in bytes (10 MiB; exactly 10 MiB is accepted). */
export const CHANNEL_MAX_MESSAGE_SIZE = 10 * 1024 * 1024;
/** Entries per channel log; the next append fails with CHANNEL_FULL (nothing is evicted). */
export const CHANNEL_MAX_LOG_ENTRIES = 10_000;
/** Channels one process may own. */
export const CHANNEL_MAX_CHANNELS_PER_PROCESS = 100;
/** Token-bucket capacity per process; buckets start full. */
export const CHANNEL_RATE_LIMIT_BURST_SIZE = 500;
/** Token-bucket refill per process, tokens per second. */
export const CHANNEL_RATE_LIMIT_MESSAGES_PER_SECOND = 100;
/** Unread live entries a subscriber may hold before it is cut. */
export const CHANNEL_SUBSCRIBER_BUFFER_SIZE = 10_000;

/** Options shared by the `createRouter*` factories. */
export type RouterOptions = {
  /** Time source for entry timestamps and rate-limit refills. @default createRealClock() */
  clock?: Clock;
  /** @default CHANNEL_MAX_MESSAGE_SIZE */
  maxMessageSize?: number;
  /** @default CHANNEL_MAX_LOG_ENTRIES */
  maxLogEntries?: number;
  /** @default CHANNEL_MAX_CHANNELS_PER_PROCESS */
  maxChannelsPerProcess?: number;
  /** Default buffer of new subscriptions; values below 1 count as 1. @default CHANNEL_SUBSCRIBER_BUFFER_SIZE */
  subscriberBufferSize?: number;
  /** Token-bucket rate limiting per process. @default true (false for createRouterWithoutRateLimit) */
  rateLimitEnabled?: boolean;
  /** @default CHANNEL_RATE_LIMIT_BURST_SIZE */
  rateLimitBurst?: number;
  /** @default CHANNEL_RATE_LIMIT_MESSAGES_PER_SECOND (0 for createRouterForTesting) */
  rateLimitPerSecond?: number;
  /** Receives the warnings the original logs (unauthorised callers, slow-cut subscribers, throwing callbacks). */
  onWarning?: (warning: RouterWarning) => void;
};

/** Options for `Router.subscribe`. */
export type SubscribeOptions = Partial<SubscriptionCallbacks> & {
  /**
   * Replay from this arrival index before live entries (0 = the whole log), with no gap and no
   * duplicate between the two; replayed entries never count against the buffer. Negative counts as 0.
   * @default the current end: live entries only, as in the original
   */
  afterIndex?: number;
  /** Overrides the router's subscriber buffer for this subscription; values below 1 count as 1. */
  bufferSize?: number;
};

/** Counts returned by `Router.stats`. */
export type RouterStats = {
  /** Channels currently stored. */
  channelCount: number;
  /** Processes owning at least one channel. */
  processCount: number;
};

/** The channel router. Methods throw ChannelsError; codes are listed per method. */
export interface Router {
  /**
   * Stores `channel` by reference (later edits to it are seen by the router), filling a missing
   * executor (''), sequence (0) and log ([]) in place. Returns the same object.
   * @throws CHANNEL_EXISTS (checked first), TOO_MANY_CHANNELS
   */
  create(channel: NewChannel): Channel;
  /** Like `create`, but an id that exists (in any process) is left alone and its channel returned. @throws TOO_MANY_CHANNELS */
  createIfNotExists(channel: NewChannel): Channel;
  /** The live channel object. @throws CHANNEL_NOT_FOUND */
  get(channelId: string): Channel;
  /** The first channel of that name in the process, in creation order. @throws CHANNEL_NOT_FOUND */
  getByProcessAndName(processId: string, name: string): Channel;
  /** The process's channels in creation order ([] for an unknown process). */
  getChannelsByProcess(processId: string): Channel[];
  /**
   * Appends a `data` entry. Checks, in the original's order: size, channel, caller, rate limit, log full.
   * The payload is stored without copying. A subscriber being cut never fails the append.
   * @throws MESSAGE_TOO_LARGE, CHANNEL_NOT_FOUND, UNAUTHORIZED, RATE_LIMIT_EXCEEDED, CHANNEL_FULL
   */
  append(channelId: string, senderId: string, sequence: number, inReplyTo: number, payload: Uint8Array | null): void;
  /** Like `append`, storing `msgType` as given (`data`, `end`, `error` or anything else). */
  appendWithType(
    channelId: string,
    senderId: string,
    sequence: number,
    inReplyTo: number,
    payload: Uint8Array | null,
    msgType: string,
  ): void;
  /**
   * Up to `limit` entries (0 or negative: all) from log position `afterIndex` (negative: 0); past the
   * end gives []. The list is fresh; the entries are the log's own objects.
   * @throws CHANNEL_NOT_FOUND, UNAUTHORIZED
   */
  readAfter(channelId: string, callerId: string, afterIndex: number, limit: number): MsgEntry[];
  /** Subscribes to entries appended from now on (or replayed from `options.afterIndex`). @throws CHANNEL_NOT_FOUND, UNAUTHORIZED */
  subscribe(channelId: string, callerId: string, options?: SubscribeOptions): Subscription;
  /** Ends and removes the subscription; a no-op for an unknown, already ended or foreign one. */
  unsubscribe(channelId: string, subscription: Subscription): void;
  /** Registered subscriptions of the channel (cut and cleaned-up ones no longer count); 0 if unknown. */
  subscriberCount(channelId: string): number;
  /** Sets the channel's executor ('' revokes it). @throws CHANNEL_NOT_FOUND */
  setExecutorId(channelId: string, executorId: string): void;
  /** Sets the executor of every channel of the process; an unknown process is a no-op. */
  setExecutorIdForProcess(processId: string, executorId: string): void;
  /** Removes the process's channels and rate-limit bucket and ends their subscriptions (no error entry). Idempotent. */
  cleanupProcess(processId: string): void;
  /** The channel's `sequence` as supplied at create (the router never changes it). @throws CHANNEL_NOT_FOUND */
  getSequence(channelId: string): number;
  /** Entries in the channel's log. @throws CHANNEL_NOT_FOUND */
  getLogSize(channelId: string): number;
  /** Channel and process counts. */
  stats(): RouterStats;
  /** Sets the log limit for later appends (no validation, as in the original). */
  setMaxLogEntries(max: number): void;
  /** Sets the per-process channel limit for later creates (no validation). */
  setMaxChannelsPerProcess(max: number): void;
  /** Turns rate limiting off (no tokens spent) or back on (existing buckets keep their state). */
  setRateLimitEnabled(enabled: boolean): void;
  /** Sets the buffer of later subscriptions; existing ones keep theirs. Values below 1 count as 1. */
  setSubscriberBufferSize(size: number): void;
}

function clampBuffer(size: number): number {
  // The original blocks the appender with a 0-size buffer; we never allow less than one slot.
  return size >= 1 ? Math.floor(size) : 1;
}

/** Creates a router with rate limiting on (burst 500, 100/s per process) and the original's limits. */
export function createRouter(options: RouterOptions = {}): Router {
  const clock = options.clock ?? createRealClock();
  let maxMessageSize = options.maxMessageSize ?? CHANNEL_MAX_MESSAGE_SIZE;
  let maxLogEntries = options.maxLogEntries ?? CHANNEL_MAX_LOG_ENTRIES;
  let maxChannelsPerProcess = options.maxChannelsPerProcess ?? CHANNEL_MAX_CHANNELS_PER_PROCESS;
  let subscriberBufferSize = clampBuffer(options.subscriberBufferSize ?? CHANNEL_SUBSCRIBER_BUFFER_SIZE);
  let rateLimitEnabled = options.rateLimitEnabled ?? true;
  const rateLimitBurst = options.rateLimitBurst ?? CHANNEL_RATE_LIMIT_BURST_SIZE;
  const rateLimitPerSecond = options.rateLimitPerSecond ?? CHANNEL_RATE_LIMIT_MESSAGES_PER_SECOND;
  const warn = options.onWarning;

  const channels = new Map<string, ChannelState>();
  const byProcess = new Map<string, ChannelState[]>();
  const buckets = new Map<string, RateLimiter>();

  function lookup(channelId: string): ChannelState {
    const state = channels.get(channelId);
    if (state === undefined) throw new ChannelsError('CHANNEL_NOT_FOUND');
    return state;
  }

  function authorise(ch: Channel, callerId: string, operation: 'append' | 'read' | 'subscribe'): void {
    // Deliberate deviation: the original lets '' in while no executor is assigned ('' === ''); we never do.
    if (callerId !== '' && (callerId === ch.submitterId || callerId === ch.executorId)) return;
    warn?.({ kind: 'unauthorized', operation, channelId: ch.id, callerId });
    throw new ChannelsError('UNAUTHORIZED');
  }

  function insertEntry(state: ChannelState, entry: MsgEntry): void {
    const log = state.channel.log;
    const n = log.length;
    // Never index with -1: a negative key sends the array load down V8's generic path.
    const prev = n === 0 ? undefined : log[n - 1];
    if (prev === undefined || prev.senderId !== entry.senderId || prev.sequence <= entry.sequence) {
      log.push(entry);
      if (state.arrivals !== log) state.arrivals.push(entry);
      return;
    }
    // Out-of-order sequence from the same sender: move back past the contiguous run of that sender's
    // entries with a greater sequence (what the original's re-sort does; see the README). Live
    // subscribers keep arrival order, so arrivals stop sharing the log array from here on.
    if (state.arrivals === log) state.arrivals = log.slice();
    state.arrivals.push(entry);
    let i = n - 1;
    while (i > 0) {
      const before = log[i - 1];
      if (before === undefined || before.senderId !== entry.senderId || before.sequence <= entry.sequence) break;
      i--;
    }
    log.splice(i, 0, entry);
  }

  /** Checks 1-5 of an append in the original's order; returns the channel state to append to. */
  function admit(channelId: string, senderId: string, payload: Uint8Array | null): ChannelState {
    // 1. size, before the lookup: an oversize payload to an unknown channel reports "too large".
    if (payload !== null && payload.byteLength > maxMessageSize) throw new ChannelsError('MESSAGE_TOO_LARGE');
    // 2. channel, 3. caller.
    const state = channels.get(channelId);
    if (state === undefined) throw new ChannelsError('CHANNEL_NOT_FOUND');
    const ch = state.channel;
    if (senderId === '' || (senderId !== ch.submitterId && senderId !== ch.executorId)) authorise(ch, senderId, 'append');
    // 4. rate limit: one bucket per process, created on the first authorised append.
    if (rateLimitEnabled) {
      let bucket = buckets.get(ch.processId);
      if (bucket === undefined) {
        bucket = createRateLimiter({ maxTokens: rateLimitBurst, refillRatePerSecond: rateLimitPerSecond, clock });
        buckets.set(ch.processId, bucket);
      }
      if (!bucket.allow()) throw new ChannelsError('RATE_LIMIT_EXCEEDED');
    }
    // 5. log full (the token above is already spent, as in the original).
    if (ch.log.length >= maxLogEntries) throw new ChannelsError('CHANNEL_FULL');
    return state;
  }

  /** Step 7: tells subscribers; O(1) unless some subscriber must be cut or woken. */
  function notify(state: ChannelState): void {
    if (state.subs.size !== 0) {
      if (state.arrivals.length > state.cutAt) cutSlowSubscribers(state);
      if (state.parked.length !== 0) wakeParked(state);
      if (state.callbackSubs.size !== 0) scheduleFlush(state);
    }
  }

  function insertChannel(input: NewChannel): Channel {
    const list = byProcess.get(input.processId);
    if ((list?.length ?? 0) >= maxChannelsPerProcess) throw new ChannelsError('TOO_MANY_CHANNELS');
    input.executorId ??= '';
    input.sequence ??= 0;
    input.log ??= [];
    const channel = input as Channel;
    const state = createChannelState(channel, warn);
    channels.set(channel.id, state);
    if (list === undefined) byProcess.set(channel.processId, [state]);
    else list.push(state);
    return channel;
  }

  function unsubscribe(channelId: string, subscription: Subscription): void {
    const state = channels.get(channelId);
    if (state === undefined || !(subscription instanceof SubscriptionImpl)) return;
    if (subscription.state !== state || !state.subs.has(subscription)) return;
    endSubscription(subscription);
  }

  const unsubscribeOwn = (s: SubscriptionImpl): void => unsubscribe(s.channelId, s);

  return {
    create(channel) {
      if (channels.has(channel.id)) throw new ChannelsError('CHANNEL_EXISTS');
      return insertChannel(channel);
    },
    createIfNotExists(channel) {
      const existing = channels.get(channel.id);
      return existing !== undefined ? existing.channel : insertChannel(channel);
    },
    get(channelId) {
      return lookup(channelId).channel;
    },
    getByProcessAndName(processId, name) {
      const found = byProcess.get(processId)?.find((s) => s.channel.name === name);
      if (found === undefined) throw new ChannelsError('CHANNEL_NOT_FOUND');
      return found.channel;
    },
    getChannelsByProcess(processId) {
      return (byProcess.get(processId) ?? []).map((s) => s.channel);
    },
    // Each builds its entry literal in its own body (one allocation site per method, no wrapper call).
    append(channelId, senderId, sequence, inReplyTo, payload) {
      const state = admit(channelId, senderId, payload);
      insertEntry(state, { sequence, inReplyTo, timestampMs: clock.nowMs(), senderId, payload, type: MSG_TYPE_DATA, error: '' });
      notify(state);
    },
    appendWithType(channelId, senderId, sequence, inReplyTo, payload, msgType) {
      const state = admit(channelId, senderId, payload);
      insertEntry(state, { sequence, inReplyTo, timestampMs: clock.nowMs(), senderId, payload, type: msgType, error: '' });
      notify(state);
    },
    readAfter(channelId, callerId, afterIndex, limit) {
      const state = lookup(channelId);
      authorise(state.channel, callerId, 'read');
      const log = state.channel.log;
      const start = afterIndex > 0 ? afterIndex : 0;
      if (start >= log.length) return [];
      return log.slice(start, limit > 0 ? start + limit : log.length);
    },
    subscribe(channelId, callerId, options = {}) {
      const state = lookup(channelId);
      authorise(state.channel, callerId, 'subscribe');
      const len = state.arrivals.length;
      const after = options.afterIndex;
      const cursor = after === undefined || after >= len ? len : after > 0 ? Math.floor(after) : 0;
      const bufferSize = options.bufferSize === undefined ? subscriberBufferSize : clampBuffer(options.bufferSize);
      const callbacks = options.onEntries === undefined ? undefined : { onEntries: options.onEntries, ...(options.onEnd ? { onEnd: options.onEnd } : {}) };
      const s = new SubscriptionImpl(state, callerId, cursor, bufferSize, callbacks, unsubscribeOwn);
      state.subs.add(s);
      const limit = s.cutLimit();
      if (limit < state.cutAt) state.cutAt = limit;
      if (callbacks !== undefined) {
        state.callbackSubs.add(s);
        if (cursor < len) scheduleFlush(state);
      }
      return s;
    },
    unsubscribe,
    subscriberCount(channelId) {
      return channels.get(channelId)?.subs.size ?? 0;
    },
    setExecutorId(channelId, executorId) {
      lookup(channelId).channel.executorId = executorId;
    },
    setExecutorIdForProcess(processId, executorId) {
      for (const s of byProcess.get(processId) ?? []) s.channel.executorId = executorId;
    },
    cleanupProcess(processId) {
      const list = byProcess.get(processId);
      buckets.delete(processId);
      if (list === undefined) return;
      byProcess.delete(processId);
      for (const state of list) {
        if (channels.get(state.channel.id) === state) channels.delete(state.channel.id);
      }
      // Queued entries stay readable; each stream then ends without an error entry.
      for (const state of list) {
        for (const s of [...state.subs]) endSubscription(s);
      }
    },
    getSequence(channelId) {
      return lookup(channelId).channel.sequence;
    },
    getLogSize(channelId) {
      return lookup(channelId).channel.log.length;
    },
    stats() {
      return { channelCount: channels.size, processCount: byProcess.size };
    },
    setMaxLogEntries(max) {
      maxLogEntries = max;
    },
    setMaxChannelsPerProcess(max) {
      maxChannelsPerProcess = max;
    },
    setRateLimitEnabled(enabled) {
      rateLimitEnabled = enabled;
    },
    setSubscriberBufferSize(size) {
      subscriberBufferSize = clampBuffer(size);
    },
  };
}

/** Creates a router without rate limiting (no buckets are created); other limits as `createRouter`. */
export function createRouterWithoutRateLimit(options: RouterOptions = {}): Router {
  return createRouter({ ...options, rateLimitEnabled: false });
}

/** Creates a rate-limited router whose buckets never refill: exactly `rateLimitBurst` appends per process until cleanup. */
export function createRouterForTesting(options: RouterOptions = {}): Router {
  return createRouter({ ...options, rateLimitPerSecond: 0 });
}
