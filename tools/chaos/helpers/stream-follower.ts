// A strict stream client for the chaos suite: it speaks the stream socket itself (raw frames, its own cursor,
// its own reconnects) instead of the library client, whose dedupe would hide a server that sends something
// twice. It records every violation of "nothing lost, nothing twice": a message id that does not rise, a part
// seq that does not rise within its run, a reply whose streamed text is not its durable message (or a prefix
// the message overtook). Parts that arrive after their run's message are recorded apart (`lateParts`, which the
// suite requires to be empty). After a
// discontinuity it drops the run in flight, as the contract says.
import WebSocket from 'ws';

/** A message as streamed (the fields the follower reads). */
type StreamMessage = { id: number | string; role: string; content?: { type: string; text?: string }[] | null; run_id?: string; last_seq?: number };
type StreamEvent = {
  type: string;
  message?: StreamMessage;
  message_part?: { seq: number; run_id: string; part: { type: string; text?: string } };
  status?: { status: string };
  discontinuity?: { reason: string; resync_after_id: number | string };
};

/** What a follower saw, for the test's assertions. */
export type FollowResult = {
  /** Ids of durable messages, in arrival order. */
  messageIds: string[];
  /** Each violation seen (empty when the stream was exactly-once). */
  violations: string[];
  /** Discontinuity reasons, in order. */
  discontinuities: string[];
  /** Replies whose streamed parts were compared with their durable message (and matched). */
  repliesChecked: number;
  /** Replies whose message arrived before the rest of their parts (the parts seen were a prefix of it). */
  repliesSuperseded: number;
  /** Parts of a run that arrived after the run's message (`run#seq`): a known race of relayed parts. */
  lateParts: string[];
  /** Parts whose seq skipped ahead (coalesced deltas). */
  coalescedParts: number;
  /** Connections opened. */
  connections: number;
  /** Close codes of connections that ended before the follower did. */
  closeCodes: number[];
  /** Final status seen. */
  finalStatus: string | undefined;
  /** Text of the last assistant message. */
  finalText: string | undefined;
};

/** A follower running in the background. */
export type Follower = {
  /** Resolves once the chat rests after a turn the follower watched (or the follower is stopped). */
  done: Promise<FollowResult>;
  /** Wall-clock times (ms) of every event that showed progress (a part, a message or a status). */
  progressTimes: number[];
  /** Run and wall-clock time of every part, and of every message (run undefined). */
  arrivals: { run: string | undefined; t: number }[];
  /** Run of the last part seen. */
  lastRun(): string | undefined;
  /** The result so far. */
  result: FollowResult;
  /** Stops following; closes the socket. */
  stop(): void;
};

const textOf = (m: StreamMessage): string => (m.content ?? []).filter((p) => p.type === 'text').map((p) => p.text ?? '').join('');

/** Options of `followChat`. */
export type FollowOptions = {
  /** Opens each socket; default: a plain `ws` client. The slow-client scenario passes one it throttles. */
  open?: (url: string, headers: Record<string, string>) => WebSocket;
  /** Number of assistant replies to wait for before a resting status ends the follow. @default 1 */
  replies?: number;
};

/** Follows `chatId` on the replica at `baseUrl` until it rests after its replies; reconnects with the cursor. */
export function followChat(baseUrl: string, token: string, chatId: string, options: FollowOptions = {}): Follower {
  const wanted = options.replies ?? 1;
  const result: FollowResult = {
    messageIds: [],
    violations: [],
    discontinuities: [],
    repliesChecked: 0,
    repliesSuperseded: 0,
    coalescedParts: 0,
    lateParts: [],
    connections: 0,
    closeCodes: [],
    finalStatus: undefined,
    finalText: undefined,
  };
  const progressTimes: number[] = [];
  const arrivals: { run: string | undefined; t: number }[] = [];
  let lastPartRun: string | undefined;
  let afterId = 0n;
  const lastSeq = new Map<string, number>();
  const runText = new Map<string, string>();
  const brokenRuns = new Set<string>();
  const messagedRuns = new Set<string>();
  const runMessage = new Map<string, string>();
  /** Per run: the last seq its persisted step messages cover. */
  const settledSeq = new Map<string, number>();
  /** Per run: its parts not yet covered by a message (seq and text). */
  const partsAhead = new Map<string, { seq: number; text: string }[]>();
  let currentRun: string | undefined;
  let assistantReplies = 0;
  let sawBusy = false;
  let stopped = false;
  let socket: WebSocket | undefined;
  let finish!: (r: FollowResult) => void;
  const done = new Promise<FollowResult>((resolve) => (finish = resolve));

  const end = () => {
    if (stopped) return;
    stopped = true;
    socket?.terminate();
    finish(result);
  };

  const onEvent = (e: StreamEvent) => {
    switch (e.type) {
      case 'message': {
        const m = e.message!;
        const id = BigInt(m.id);
        if (id <= afterId) {
          result.violations.push(`message ${m.id} again (after ${afterId})`);
          return;
        }
        afterId = id;
        result.messageIds.push(String(m.id));
        progressTimes.push(Date.now());
        arrivals.push({ run: undefined, t: Date.now() });
        if (m.role === 'assistant') {
          assistantReplies++;
          result.finalText = textOf(m);
        }
        // A message of an agent step names its run and the last seq it covers (contract.md#steps): the run goes
        // on after it, and only its parts up to that seq are settled. A message without them settles the run.
        const run = m.run_id ?? (m.role === 'assistant' ? currentRun : undefined);
        if (run === undefined) return;
        if (m.role === 'assistant' && !brokenRuns.has(run)) {
          const text = textOf(m);
          const streamed =
            m.last_seq === undefined ? (runText.get(run) ?? '') : (partsAhead.get(run) ?? []).filter((pt) => pt.seq <= m.last_seq!).map((pt) => pt.text).join('');
          // The streamed text must be the message, or (when the message overtook the rest of its parts, as for
          // a relay that lags behind the database) a prefix of it; never anything else.
          if (streamed === text) result.repliesChecked++;
          else if (text.startsWith(streamed)) result.repliesSuperseded++;
          else result.violations.push(`run ${run}: streamed ${JSON.stringify(streamed.slice(0, 80))} (${streamed.length} chars), not a prefix of its message (${text.length} chars)`);
        }
        runMessage.set(run, m.role === 'assistant' ? textOf(m) : '');
        runText.delete(run);
        if (m.last_seq !== undefined) {
          settledSeq.set(run, Math.max(settledSeq.get(run) ?? 0, m.last_seq));
          // A part already past the message's last seq belongs to the next step: its text stays pending.
          const ahead = partsAhead.get(run)?.filter((pt) => pt.seq > m.last_seq!) ?? [];
          partsAhead.set(run, ahead);
          runText.set(run, ahead.map((pt) => pt.text).join(''));
          if (currentRun === run && ahead.length === 0) currentRun = undefined;
        } else {
          messagedRuns.add(run);
          partsAhead.delete(run);
          if (currentRun === run) currentRun = undefined;
        }
        return;
      }
      case 'message_part': {
        const { run_id: run, seq, part } = e.message_part!;
        const last = lastSeq.get(run) ?? 0;
        if (seq <= last) {
          result.violations.push(`part ${run}#${seq} again (after #${last})`);
          return;
        }
        if (messagedRuns.has(run) || seq <= (settledSeq.get(run) ?? 0)) {
          // A relayed part that lost the race against its run's message (read from the database after a
          // NOTIFY): the subscriber must have dropped it (text twice on the wire). Recorded for the suite to
          // fail on; it must at least be the rest of that message, never other text.
          const messageText = runMessage.get(run) ?? '';
          const sofar = (runText.get(run) ?? '') + (part.type === 'text' ? (part.text ?? '') : '');
          runText.set(run, sofar);
          lastSeq.set(run, seq);
          result.lateParts.push(`${run}#${seq}`);
          if (!messageText.startsWith(sofar)) result.violations.push(`late part ${run}#${seq} is not the rest of its message`);
          return;
        }
        if (seq > last + 1 && last > 0) result.coalescedParts++;
        if (last === 0 && seq > 1) result.coalescedParts++;
        lastSeq.set(run, seq);
        currentRun = run;
        if (part.type === 'text') runText.set(run, (runText.get(run) ?? '') + (part.text ?? ''));
        const ahead = partsAhead.get(run) ?? [];
        ahead.push({ seq, text: part.type === 'text' ? (part.text ?? '') : '' });
        partsAhead.set(run, ahead);
        progressTimes.push(Date.now());
        arrivals.push({ run, t: Date.now() });
        lastPartRun = run;
        return;
      }
      case 'discontinuity':
        result.discontinuities.push(e.discontinuity!.reason);
        // The run in flight is void: its parts may come again from seq 1, or never; the message decides.
        if (currentRun !== undefined) {
          brokenRuns.add(currentRun);
          lastSeq.delete(currentRun);
          runText.delete(currentRun);
          partsAhead.delete(currentRun);
        }
        currentRun = undefined;
        return;
      case 'status': {
        const s = e.status!.status;
        result.finalStatus = s;
        progressTimes.push(Date.now());
        if (s === 'waiting' || s === 'error') {
          if (sawBusy && (s === 'error' || assistantReplies >= wanted)) end();
        } else sawBusy = true;
        return;
      }
      default:
        return;
    }
  };

  const connect = () => {
    if (stopped) return;
    const q = new URLSearchParams();
    if (afterId > 0n) q.set('after_id', afterId.toString());
    if (currentRun !== undefined && lastSeq.has(currentRun)) {
      q.set('run_id', currentRun);
      q.set('after_seq', String(lastSeq.get(currentRun)));
    }
    const qs = q.toString();
    const url = `${baseUrl.replace(/^http/, 'ws')}/api/experimental/chats/${chatId}/stream${qs ? `?${qs}` : ''}`;
    const headers = { 'Coder-Session-Token': token };
    const ws = options.open ? options.open(url, headers) : new WebSocket(url, { headers, perMessageDeflate: false });
    socket = ws;
    result.connections++;
    ws.on('message', (data, isBinary) => {
      if (stopped || isBinary) return;
      let events: unknown;
      try {
        events = JSON.parse(String(data));
      } catch {
        result.violations.push(`a frame that is not JSON: ${String(data).slice(0, 80)}`);
        return;
      }
      if (!Array.isArray(events)) {
        result.violations.push(`a frame that is not an array: ${String(data).slice(0, 80)}`);
        return;
      }
      for (const e of events as StreamEvent[]) {
        if (stopped) return;
        onEvent(e);
      }
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      if (stopped) return;
      result.closeCodes.push(code);
      // A client backoff, not a test sleep: the replica may be down for seconds.
      setTimeout(connect, 100);
    });
  };
  connect();
  return { done, progressTimes, arrivals, lastRun: () => lastPartRun, result, stop: end };
}
