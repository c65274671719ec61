// Subscriptions to a channel: a cursor into the channel's append-only arrival array, not a copied
// queue, so an append costs O(1) whatever the number of subscribers. A subscription's "buffer" is how
// far its cursor may trail the live end; past that it is cut once, atomically, with the original's
// terminal entry. Two ways to consume: pull (read / wait / async iterator) or a callback that receives
// batches from one microtask per channel per tick. Nothing here blocks an appender or takes a lock.
import type { Channel } from './channel.js';
import { ChannelsError } from './channels-error.js';
import type { MsgEntry } from './msg-entry.js';
import { ZERO_TIMESTAMP_MS } from './msg-entry.js';

/** Something the router reports instead of throwing (the original logs these as warnings). */
export type RouterWarning =
  | { kind: 'unauthorized'; operation: 'append' | 'read' | 'subscribe'; channelId: string; callerId: string }
  | { kind: 'subscriber_cut'; channelId: string; callerId: string; bufferSize: number }
  | { kind: 'callback_error'; channelId: string; callerId: string; error: unknown };

/** Callback form of a subscription. Do not also pull (read/next) from a callback subscription. */
export type SubscriptionCallbacks = {
  /**
   * Receives the entries appended since the last call, in arrival order, from a microtask (never inside
   * `append`). The array may be shared with other subscribers of the same channel: do not mutate it.
   * When the subscriber is cut for being slow, the last batch ends with the terminal entry (`error` set).
   */
  onEntries: (entries: readonly MsgEntry[]) => void;
  /** Called once after the last batch: with ErrSubscriberTooSlow's code when cut, undefined otherwise. */
  onEnd?: (error: ChannelsError | undefined) => void;
};

/** A live stream of a channel's entries. Pull it, iterate it, or pass callbacks to `subscribe`. */
export interface Subscription extends AsyncIterable<MsgEntry> {
  /** The channel subscribed to. */
  readonly channelId: string;
  /** Who subscribed. */
  readonly callerId: string;
  /** How many unread live entries it may hold before it is cut (captured at subscribe time). */
  readonly bufferSize: number;
  /** True once the stream has ended (unsubscribed, process cleaned up, or cut); queued entries stay readable. */
  readonly closed: boolean;
  /** True once closed and every queued item (and the terminal entry, if any) was consumed. */
  readonly done: boolean;
  /** A SUBSCRIBER_TOO_SLOW ChannelsError once cut for being slow; undefined otherwise. */
  readonly error: ChannelsError | undefined;
  /** Items readable right now without waiting (entries plus a pending terminal entry). */
  readonly pending: number;
  /** Arrival index of the next entry to hand out: resubscribe with `afterIndex: position` to resume. */
  readonly position: number;
  /** Takes up to `max` readable items at once, without waiting (the cheapest way to drain). */
  read(max?: number): MsgEntry[];
  /** Resolves when at least one item is readable or the stream is done. */
  wait(): Promise<void>;
  /** Next entry; `done` once the stream ended and was drained. One consumer at a time. */
  next(): Promise<IteratorResult<MsgEntry, undefined>>;
  /** Iterates batches (each the items readable at once); leaving the loop early unsubscribes. */
  batches(): AsyncGenerator<MsgEntry[], void, undefined>;
  /** Unsubscribes (same as `router.unsubscribe(channelId, this)`); idempotent. */
  close(): void;
}

/** The seed's name for a subscription (its `Subscriber` type). */
export type Subscriber = Subscription;

/** Router-side state of one channel, shared with its subscriptions (internal). */
export type ChannelState = {
  channel: Channel;
  /** Entries in arrival order; the same array as channel.log until an out-of-order append. */
  arrivals: MsgEntry[];
  /** Registered subscriptions (pull and callback). */
  subs: Set<SubscriptionImpl>;
  /** Registered callback subscriptions (subset of subs). */
  callbackSubs: Set<SubscriptionImpl>;
  /** Pull subscriptions waiting for an entry. */
  parked: SubscriptionImpl[];
  /** A lower bound on the smallest arrival length that cuts some subscriber; Infinity when none. */
  cutAt: number;
  flushScheduled: boolean;
  flush: () => void;
  warn: ((w: RouterWarning) => void) | undefined;
};

/** Creates the subscription-side state of a channel. */
export function createChannelState(channel: Channel, warn: ((w: RouterWarning) => void) | undefined): ChannelState {
  const state: ChannelState = {
    channel,
    arrivals: channel.log,
    subs: new Set(),
    callbackSubs: new Set(),
    parked: [],
    cutAt: Infinity,
    flushScheduled: false,
    flush: () => flushCallbacks(state),
    warn,
  };
  return state;
}

function terminalEntry(): MsgEntry {
  return {
    sequence: 0,
    inReplyTo: 0,
    timestampMs: ZERO_TIMESTAMP_MS,
    senderId: '',
    payload: null,
    type: '',
    error: new ChannelsError('SUBSCRIBER_TOO_SLOW').message,
  };
}

/** One subscription (internal class; callers see the Subscription interface). */
export class SubscriptionImpl implements Subscription {
  readonly channelId: string;
  readonly callerId: string;
  readonly bufferSize: number;
  error: ChannelsError | undefined = undefined;
  /** Next arrival index to hand out. */
  cursor: number;
  /** Arrival length at subscribe time: entries before it are replay and never count against the buffer. */
  readonly base: number;
  /** Arrival index the stream ends at (exclusive) once ended; Infinity while live. */
  end = Infinity;
  /** Arrival index dropped at a slow-cut to make room for the terminal entry; -1 when none. */
  skip = -1;
  terminal: MsgEntry | null = null;
  waiter: (() => void) | null = null;
  readonly callbacks: SubscriptionCallbacks | undefined;
  endNotified = false;
  readonly state: ChannelState;
  private readonly unsubscribe: (s: SubscriptionImpl) => void;

  constructor(
    state: ChannelState,
    callerId: string,
    cursor: number,
    bufferSize: number,
    callbacks: SubscriptionCallbacks | undefined,
    unsubscribe: (s: SubscriptionImpl) => void,
  ) {
    this.state = state;
    this.channelId = state.channel.id;
    this.callerId = callerId;
    this.bufferSize = bufferSize;
    this.base = state.arrivals.length;
    this.cursor = cursor;
    this.callbacks = callbacks;
    this.unsubscribe = unsubscribe;
  }

  get closed(): boolean {
    return this.end !== Infinity;
  }

  /** The arrival length at which this subscription overflows its buffer. */
  cutLimit(): number {
    return (this.cursor > this.base ? this.cursor : this.base) + this.bufferSize;
  }

  private stop(): number {
    const len = this.state.arrivals.length;
    return this.end < len ? this.end : len;
  }

  get pending(): number {
    const stop = this.stop();
    let n = stop > this.cursor ? stop - this.cursor : 0;
    if (this.skip >= this.cursor && this.skip < stop) n--;
    return n + (this.terminal === null ? 0 : 1);
  }

  get position(): number {
    return this.cursor;
  }

  get done(): boolean {
    return this.closed && this.pending === 0;
  }

  read(max = Infinity): MsgEntry[] {
    const arr = this.state.arrivals;
    const stop = this.stop();
    let out: MsgEntry[];
    if (this.skip < this.cursor) {
      const to = max < stop - this.cursor ? this.cursor + max : stop;
      out = to > this.cursor ? arr.slice(this.cursor, to) : [];
      if (to > this.cursor) this.cursor = to;
    } else {
      out = [];
      while (this.cursor < stop && out.length < max) {
        const i = this.cursor++;
        if (i !== this.skip) out.push(arr[i] as MsgEntry);
      }
    }
    if (this.terminal !== null && this.cursor >= stop && out.length < max) {
      out.push(this.terminal);
      this.terminal = null;
    }
    return out;
  }

  /** Takes one readable item, or undefined. */
  private shift(): MsgEntry | undefined {
    const stop = this.stop();
    if (this.cursor === this.skip && this.cursor < stop) this.cursor++;
    if (this.cursor < stop) return this.state.arrivals[this.cursor++];
    if (this.terminal !== null) {
      const t = this.terminal;
      this.terminal = null;
      return t;
    }
    return undefined;
  }

  private park(resume: () => void): void {
    const prev = this.waiter;
    // Two overlapping waits: wake both, in the order they were made.
    this.waiter =
      prev === null
        ? resume
        : () => {
            prev();
            resume();
          };
    if (prev === null) this.state.parked.push(this);
  }

  wait(): Promise<void> {
    if (this.pending > 0 || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => this.park(resolve));
  }

  next(): Promise<IteratorResult<MsgEntry, undefined>> {
    const e = this.shift();
    if (e !== undefined) return Promise.resolve({ value: e, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.park(() => resolve(this.next())));
  }

  [Symbol.asyncIterator](): AsyncIterator<MsgEntry, undefined> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  async *batches(): AsyncGenerator<MsgEntry[], void, undefined> {
    try {
      for (;;) {
        const batch = this.read();
        if (batch.length > 0) {
          yield batch;
          continue;
        }
        if (this.closed) return;
        await this.wait();
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    this.unsubscribe(this);
  }
}

/** Wakes every parked pull subscriber of the channel. */
export function wakeParked(state: ChannelState): void {
  const parked = state.parked;
  state.parked = [];
  for (const s of parked) {
    const w = s.waiter;
    if (w !== null) {
      s.waiter = null;
      w();
    }
  }
}

/** Arranges one callback delivery for the channel in a microtask (coalesces a burst of appends). */
export function scheduleFlush(state: ChannelState): void {
  if (state.flushScheduled) return;
  state.flushScheduled = true;
  queueMicrotask(state.flush);
}

function callOnEntries(s: SubscriptionImpl, batch: readonly MsgEntry[]): void {
  try {
    s.callbacks?.onEntries(batch);
  } catch (error) {
    s.state.warn?.({ kind: 'callback_error', channelId: s.channelId, callerId: s.callerId, error });
  }
}

function flushCallbacks(state: ChannelState): void {
  state.flushScheduled = false;
  // Subscribers that keep up share one slice: (from, to) is usually the same for all of them.
  let memoFrom = -1;
  let memoTo = -1;
  let memo: MsgEntry[] = [];
  for (const s of state.callbackSubs) {
    const to = state.arrivals.length;
    const from = s.cursor;
    if (from >= to) continue;
    if (from !== memoFrom || to !== memoTo) {
      memo = state.arrivals.slice(from, to);
      memoFrom = from;
      memoTo = to;
    }
    s.cursor = to;
    callOnEntries(s, memo);
  }
}

/** Delivers an ended callback subscription's remaining items, then calls onEnd once. */
function flushEnded(s: SubscriptionImpl): void {
  if (s.endNotified) return;
  const rest = s.read();
  if (rest.length > 0) callOnEntries(s, rest);
  s.endNotified = true;
  try {
    s.callbacks?.onEnd?.(s.error);
  } catch (error) {
    s.state.warn?.({ kind: 'callback_error', channelId: s.channelId, callerId: s.callerId, error });
  }
}

/** Ends a subscription at the current end of the channel (unsubscribe, cleanup). Idempotent. */
export function endSubscription(s: SubscriptionImpl): void {
  if (s.closed) return;
  s.end = s.state.arrivals.length;
  afterEnd(s);
}

function afterEnd(s: SubscriptionImpl): void {
  const state = s.state;
  state.subs.delete(s);
  if (s.callbacks !== undefined) {
    state.callbackSubs.delete(s);
    queueMicrotask(() => flushEnded(s));
  }
  const w = s.waiter;
  if (w !== null) {
    s.waiter = null;
    w();
  }
}

/**
 * Cuts every subscriber the newest arrival pushed past its buffer, as the original does: the oldest
 * unread live entry is dropped to make room, a terminal entry with the too-slow error follows the
 * entries before the overflowing one, and the stream ends. Called only when arrivals exceed cutAt.
 */
export function cutSlowSubscribers(state: ChannelState): void {
  const len = state.arrivals.length;
  let next = Infinity;
  for (const s of state.subs) {
    const limit = s.cutLimit();
    if (len <= limit) {
      if (limit < next) next = limit;
      continue;
    }
    s.skip = s.cursor > s.base ? s.cursor : s.base;
    s.end = len - 1;
    s.terminal = terminalEntry();
    s.error = new ChannelsError('SUBSCRIBER_TOO_SLOW');
    state.warn?.({ kind: 'subscriber_cut', channelId: s.channelId, callerId: s.callerId, bufferSize: s.bufferSize });
    afterEnd(s);
  }
  state.cutAt = next;
}
