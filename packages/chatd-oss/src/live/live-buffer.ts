// The per-chat live buffer: `message_part`s of the run in flight, numbered by `seq` and tagged with the
// run's id, kept in memory on the replica running the chat. Subscribers take a snapshot from a seq and
// then receive every later part synchronously, in order, with no gap between the two. It stores nothing
// durable: a persisted step's parts are released (`release`) once its message is committed, so a new
// subscriber gets them as that message, and a run's remaining parts are dropped when the run ends.
import type { Clock } from '@chatd/clock';
import type { ChatMessagePart, ChatStreamEvent, ChatStreamMessagePart } from '@chatd/protocol';

/** Most parts one run keeps (the original's `maxStreamBufferSize`); beyond it the run refuses to buffer. @default 10000 */
export const DEFAULT_MAX_PARTS_PER_RUN = 10_000;

/**
 * A part as stored and fanned out: the event, and its JSON encoded once for every subscriber. It is also the very
 * object a live subscriber hands its sink (an `OutEvent`), so fanning one part out to N sockets allocates nothing
 * per socket and lets the senders recognise the same part (stream-sender.ts shares the frame bytes).
 */
export type LivePart = {
  readonly event: ChatStreamEvent & { type: 'message_part' };
  readonly json: string;
  readonly seq: number;
  readonly runId: string;
  /** When it was appended (the clock's ms; only with a `clock` option): where `chatd_part_lag_seconds` starts. Never on the wire. */
  readonly lag?: { readonly atMs: number; readonly path: 'local' };
};

/** What a live subscriber is told. */
export type LiveSignal =
  | { kind: 'part'; part: LivePart }
  /** A run began on this replica; parts of earlier runs are gone. */
  | { kind: 'run_started'; runId: string }
  /** The run ended; `persisted` tells whether its output was saved as messages. */
  | { kind: 'run_ended'; runId: string; persisted: boolean };

/** Receives live signals synchronously; must not throw and must not block. */
export type LiveListener = (signal: LiveSignal) => void;

/** Snapshot of a chat's in-flight run taken atomically with a subscription. */
export type LiveSnapshot = {
  /** The run in flight on this replica, if any. */
  runId: string | undefined;
  /** Its parts after the requested seq, in order. */
  parts: LivePart[];
  /** Highest seq appended so far in that run (0 when none). */
  lastSeq: number;
};

/** The writer's handle on one run's buffer. */
export interface RunWriter {
  readonly chatId: string;
  readonly runId: string;
  /** Appends a part and fans it out; returns it with its seq. Ignored (returns undefined) after `end`. */
  append(part: ChatMessagePart, role?: string): LivePart | undefined;
  /**
   * Drops the parts with `seq <= seq` from the buffer (their step was persisted as a message carrying
   * `last_seq`; contract.md#steps): later snapshots start after them. Live subscribers are not told.
   */
  release(seq: number): void;
  /** Ends the run: subscribers are told and its parts are dropped. Idempotent. */
  end(persisted: boolean): void;
  readonly lastSeq: number;
  readonly ended: boolean;
}

/** Registry of live buffers of the chats running on this replica. */
export interface LiveStreams {
  /** Starts buffering a new run of `chatId` (ending any previous one as not persisted). */
  begin(chatId: string, runId: string): RunWriter;
  /**
   * Subscribes to a chat's live parts and returns the snapshot of its current run after `afterSeq`
   * (all parts when `afterSeq` is undefined) in one step, so nothing falls between snapshot and live.
   */
  subscribe(chatId: string, listener: LiveListener, afterSeq?: number): { snapshot: LiveSnapshot; unsubscribe: () => void };
  /** The run currently buffered for `chatId`, if any. */
  currentRun(chatId: string): string | undefined;
  /** Number of chats with a buffer or subscribers (for metrics and leak tests). */
  size(): number;
}

/** Options for `createLiveStreams`. */
export type LiveStreamsOptions = {
  /** @default DEFAULT_MAX_PARTS_PER_RUN */
  maxPartsPerRun?: number;
  /**
   * Called once per run, at the first part its full buffer could not keep (that part and every later one are still
   * fanned out, just not kept for new subscribers). Once: a long unpaced run would otherwise log a warning per part.
   */
  onOverflow?: (chatId: string, runId: string) => void;
  /** Stamps each part with its append time (for the part lag histogram). @default no stamps */
  clock?: Clock;
};

type ChatState = {
  run: RunState | undefined;
  listeners: Set<LiveListener>;
};

type RunState = {
  runId: string;
  parts: LivePart[];
  lastSeq: number;
  ended: boolean;
  /** A part could not be kept: later ones are not kept either, so a snapshot never has a gap in the middle. */
  overflowed: boolean;
};

/** Index of the first part with a seq above `seq` (parts are in ascending seq, with gaps after an overflow or a release). */
function firstAfter(parts: readonly LivePart[], seq: number): number {
  let lo = 0;
  let hi = parts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (parts[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Creates the in-memory live buffer registry of one replica. */
export function createLiveStreams(options: LiveStreamsOptions = {}): LiveStreams {
  const maxParts = options.maxPartsPerRun ?? DEFAULT_MAX_PARTS_PER_RUN;
  const chats = new Map<string, ChatState>();

  const stateOf = (chatId: string): ChatState => {
    let s = chats.get(chatId);
    if (!s) {
      s = { run: undefined, listeners: new Set() };
      chats.set(chatId, s);
    }
    return s;
  };
  const release = (chatId: string, s: ChatState) => {
    if (!s.run && s.listeners.size === 0) chats.delete(chatId);
  };
  const emit = (s: ChatState, signal: LiveSignal) => {
    for (const l of s.listeners) {
      try {
        l(signal);
      } catch {
        // A listener must not throw; one that does cannot stop delivery to the others.
      }
    }
  };

  return {
    begin(chatId, runId) {
      const s = stateOf(chatId);
      if (s.run && !s.run.ended) {
        const old = s.run;
        old.ended = true;
        emit(s, { kind: 'run_ended', runId: old.runId, persisted: false });
      }
      const run: RunState = { runId, parts: [], lastSeq: 0, ended: false, overflowed: false };
      // A part's JSON is built around the part's own JSON: the rest of the event is the same for every part of the
      // run, so it is encoded once here (byte for byte what JSON.stringify of the whole event gives).
      const head = `{"type":"message_part","chat_id":${JSON.stringify(chatId)},"message_part":{`;
      const tail = `,"run_id":${JSON.stringify(runId)}}}`;
      const partHead = `${head}"part":`;
      const roleHeads = new Map<string, string>();
      const roleHead = (role: string) => {
        let h = roleHeads.get(role);
        if (h === undefined) roleHeads.set(role, (h = `${head}"role":${JSON.stringify(role)},"part":`));
        return h;
      };
      s.run = run;
      emit(s, { kind: 'run_started', runId });
      return {
        chatId,
        runId,
        get lastSeq() {
          return run.lastSeq;
        },
        get ended() {
          return run.ended;
        },
        append(part, role) {
          if (run.ended) return undefined;
          const seq = ++run.lastSeq;
          const message_part: ChatStreamMessagePart = role === undefined ? { part, seq, run_id: runId } : { role, part, seq, run_id: runId };
          const event = { type: 'message_part' as const, chat_id: chatId, message_part };
          const json = `${role === undefined ? partHead : roleHead(role)}${JSON.stringify(part)},"seq":${seq}${tail}`;
          const live: LivePart = options.clock ? { event, json, seq, runId, lag: { atMs: options.clock.nowMs(), path: 'local' } } : { event, json, seq, runId };
          if (!run.overflowed && run.parts.length < maxParts) run.parts.push(live);
          else if (!run.overflowed) {
            run.overflowed = true;
            options.onOverflow?.(chatId, runId);
          }
          emit(s, { kind: 'part', part: live });
          return live;
        },
        release(seq) {
          if (run.ended) return;
          run.parts = run.parts.slice(firstAfter(run.parts, seq));
        },
        end(persisted) {
          if (run.ended) return;
          run.ended = true;
          run.parts = [];
          if (s.run === run) s.run = undefined;
          emit(s, { kind: 'run_ended', runId, persisted });
          release(chatId, s);
        },
      };
    },
    subscribe(chatId, listener, afterSeq) {
      const s = stateOf(chatId);
      s.listeners.add(listener);
      const run = s.run;
      let parts: LivePart[] = [];
      if (run) {
        const from = afterSeq === undefined ? 0 : Math.max(0, afterSeq);
        parts = run.parts.slice(firstAfter(run.parts, from));
      }
      let active = true;
      return {
        snapshot: { runId: run?.runId, parts, lastSeq: run?.lastSeq ?? 0 },
        unsubscribe() {
          if (!active) return;
          active = false;
          s.listeners.delete(listener);
          release(chatId, s);
        },
      };
    },
    currentRun(chatId) {
      return chats.get(chatId)?.run?.runId;
    },
    size() {
      return chats.size;
    },
  };
}
