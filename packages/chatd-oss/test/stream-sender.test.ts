// Unit tests of createStreamSender with a fake socket whose send buffer the test sets, and the mock
// clock for the drain poll: frame sizes, what coalescing merges (and what it must not), and the
// too_slow cut (once, with close code 1008).
import { EventEmitter } from 'node:events';
import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { createServerMetrics } from '../src/server/server-metrics.js';
import { CLOSE_TOO_SLOW, createStreamSender, DRAIN_POLL_MS, MAX_COALESCED_PART_BYTES, MAX_EVENTS_PER_FRAME, MAX_FRAME_BYTES, SOLO_FRAME_BYTES } from '../src/server/stream-sender.js';
import { partText, type ChatStreamEvent } from '@chatd/protocol';
import type { OutEvent } from '../src/subscribe/chat-subscriber.js';

const CHAT = '7d3c2a10-0000-4000-8000-000000000001';

/** The parts of a ws socket the sender touches, with a send buffer the test controls. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  frames: ChatStreamEvent[][] = [];
  /** What each send call was given, as given. */
  sent: { data: string | Buffer; options?: { binary?: boolean } }[] = [];
  closed: { code: number; reason: string } | undefined;
  send(data: string | Buffer, options?: { binary?: boolean }) {
    this.sent.push(options ? { data, options } : { data });
    const text = typeof data === 'string' ? data : data.toString('utf8');
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed)) throw new Error('frame is not a bare array');
    this.frames.push(parsed as ChatStreamEvent[]);
  }
  close(code: number, reason: string) {
    if (this.closed) return;
    this.closed = { code, reason };
    this.readyState = 2;
  }
  terminate() {
    this.close(1006, '');
  }
  get events() {
    return this.frames.flat();
  }
}

const out = (event: ChatStreamEvent): OutEvent => ({ event, json: JSON.stringify(event) });
const part = (runId: string, seq: number, text: string, type: 'text' | 'reasoning' = 'text', role = 'assistant', extra: Record<string, unknown> = {}): OutEvent =>
  out({ type: 'message_part', chat_id: CHAT, message_part: { role, part: { type, text, ...extra }, seq, run_id: runId } });
const status = (s: 'running' | 'waiting'): OutEvent => out({ type: 'status', chat_id: CHAT, status: { status: s } });
const message = (id: number): OutEvent => out({ type: 'message', chat_id: CHAT, message: { id, chat_id: CHAT, created_at: '2026-01-01T00:00:00Z', role: 'assistant', content: [{ type: 'text', text: 'x' }] } });
/** Lets the sender's flush run (microtask or end of turn) and ends the turn. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(options: { coalesceThresholdBytes?: number; maxQueuedBytes?: number } = {}) {
  const clock = createMockClock();
  const ws = new FakeSocket();
  let closes = 0;
  const sender = createStreamSender(ws as unknown as WebSocket, { clock, ...options, onClose: () => closes++ });
  return { clock, ws, sender, closes: () => closes };
}

describe('createStreamSender', () => {
  it(`sends an event of ${SOLO_FRAME_BYTES} bytes or more in a text frame of its own whose bytes every socket shares`, async () => {
    const big = out({ type: 'message', chat_id: CHAT, message: { id: 7, chat_id: CHAT, created_at: '2026-01-01T00:00:00Z', role: 'user', content: [{ type: 'text', text: 'b'.repeat(SOLO_FRAME_BYTES) }] } });
    const a = setup();
    const b = setup();
    for (const { sender } of [a, b]) {
      sender.push(status('waiting'));
      sender.push(big);
      sender.push(message(8));
    }
    await settle();
    for (const { ws } of [a, b]) {
      // status | big alone | the small message after it
      expect(ws.frames.map((f) => f.map((e) => e.type))).toEqual([['status'], ['message'], ['message']]);
      expect(ws.sent[1]!.options).toEqual({ binary: false });
      expect(ws.frames[1]![0]).toEqual(big.event);
    }
    // One encoding for both sockets: the same Buffer object went to each.
    expect(Buffer.isBuffer(a.ws.sent[1]!.data)).toBe(true);
    expect(a.ws.sent[1]!.data).toBe(b.ws.sent[1]!.data);
  });

  it('senders flushing the same events in one turn send one shared Buffer (chatd_stream_frames_shared_total); other events or a later turn build their own', async () => {
    const metrics = createServerMetrics();
    const clock = createMockClock();
    const sockets = [new FakeSocket(), new FakeSocket(), new FakeSocket(), new FakeSocket()];
    const senders = sockets.map((ws) => createStreamSender(ws as unknown as WebSocket, { clock, metrics }));
    // One OutEvent object per event, as the live buffer fans a part out to every subscriber.
    const p1 = part('run-a', 1, 'one');
    const p2 = part('run-a', 2, 'two');
    await settle(); // start from a fresh turn
    senders[0]!.push(p1);
    senders[1]!.push(p1);
    senders[2]!.push(p1);
    senders[2]!.push(p2); // same first event, but a different frame
    await Promise.resolve();
    await Promise.resolve();
    expect(sockets.slice(0, 3).map((ws) => ws.frames.map((f) => f.length))).toEqual([[1], [1], [2]]);
    expect(Buffer.isBuffer(sockets[0]!.sent[0]!.data)).toBe(true);
    expect(sockets[1]!.sent[0]!.data).toBe(sockets[0]!.sent[0]!.data);
    expect(sockets[2]!.sent[0]!.data).not.toBe(sockets[0]!.sent[0]!.data);
    expect(metrics.get('chatd_stream_frames_shared_total')).toBe(1);
    // The frames of a turn are forgotten when it ends: a later turn encodes again.
    await settle();
    senders[3]!.push(p1);
    await settle();
    expect(sockets[3]!.frames).toEqual([[p1.event]]);
    expect(sockets[3]!.sent[0]!.data).not.toBe(sockets[0]!.sent[0]!.data);
    expect(metrics.get('chatd_stream_frames_shared_total')).toBe(1);
  });

  it(`batches events pushed together into bare-array frames of at most ${MAX_EVENTS_PER_FRAME}, in order`, async () => {
    const { ws, sender } = setup();
    for (let seq = 1; seq <= 600; seq++) sender.push(part('run-a', seq, `t${seq}`));
    await settle();
    expect(ws.frames.map((f) => f.length)).toEqual([256, 256, 88]);
    expect(ws.events.map((e) => (e.type === 'message_part' ? e.message_part.seq : 0))).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    sender.push(status('waiting'));
    await settle();
    expect(ws.frames).toHaveLength(4);
    expect(ws.frames[3]).toEqual([{ type: 'status', chat_id: CHAT, status: { status: 'waiting' } }]);
  });

  it('while the send buffer is over the threshold it merges only consecutive text (or reasoning) deltas of one run and role; the merged seq is the last one', async () => {
    const { clock, ws, sender } = setup({ coalesceThresholdBytes: 1000, maxQueuedBytes: 1_000_000 });
    ws.bufferedAmount = 5000;
    const pushed = [
      part('run-a', 1, 'Hel'),
      part('run-a', 2, 'lo'),
      part('run-a', 3, ', wor'),
      status('running'), // breaks the run of deltas
      part('run-a', 4, 'ld'),
      part('run-a', 5, '!', 'reasoning'), // other part type
      part('run-a', 6, ' think', 'reasoning'),
      part('run-a', 7, 'x', 'text', 'user'), // other role
      part('run-a', 8, 'signed', 'text', 'assistant', { signature: 'sig' }), // more than a plain delta
      part('run-a', 9, 'plain'),
      part('run-b', 1, 'other run'), // other run
      part('run-b', 2, ' too'),
    ];
    for (const p of pushed) sender.push(p);
    await settle();
    expect(ws.frames).toEqual([]);
    expect(sender.queued).toBe(8);
    ws.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.frames).toHaveLength(1);
    const summary = ws.events.map((e) =>
      e.type === 'message_part' ? `${e.message_part.run_id}/${e.message_part.role}/${e.message_part.part.type}/${e.message_part.seq}:${partText(e.message_part.part)}` : e.type,
    );
    expect(summary).toEqual([
      'run-a/assistant/text/3:Hello, wor',
      'status',
      'run-a/assistant/text/4:ld',
      'run-a/assistant/reasoning/6:! think',
      'run-a/user/text/7:x',
      'run-a/assistant/text/8:signed',
      'run-a/assistant/text/9:plain',
      'run-b/assistant/text/2:other run too',
    ]);
    // Concatenated text is unchanged by coalescing.
    const text = (events: ChatStreamEvent[]) => events.map((e) => (e.type === 'message_part' ? (partText(e.message_part.part) ?? '') : '')).join('');
    expect(text(ws.events)).toBe(text(pushed.map((p) => p.event)));
  });

  it('merges consecutive args_delta chunks of one tool call and result_delta chunks of one result, never across calls or with the complete call', async () => {
    const { clock, ws, sender } = setup({ coalesceThresholdBytes: 1000, maxQueuedBytes: 1_000_000 });
    ws.bufferedAmount = 5000;
    const call = (seq: number, id: string, extra: Record<string, unknown>, role = 'assistant'): OutEvent =>
      out({ type: 'message_part', chat_id: CHAT, message_part: { role, part: { type: 'tool-call', tool_call_id: id, tool_name: 'add', ...extra } as never, seq, run_id: 'run-a' } });
    const result = (seq: number, id: string, extra: Record<string, unknown>): OutEvent =>
      out({ type: 'message_part', chat_id: CHAT, message_part: { role: 'tool', part: { type: 'tool-result', tool_call_id: id, tool_name: 'add', ...extra } as never, seq, run_id: 'run-a' } });
    for (const p of [
      call(1, 'c1', { args_delta: '{"num' }),
      call(2, 'c1', { args_delta: 'bers":[1,' }),
      call(3, 'c1', { args_delta: '2]}' }),
      call(4, 'c2', { args_delta: '{}' }), // another call
      call(5, 'c1', { args: { numbers: [1, 2] } }), // the complete call is not a delta
      result(6, 'c1', { result_delta: 'sum' }),
      result(7, 'c1', { result_delta: 'ming' }),
      result(8, 'c1', { result: 3 }),
    ])
      sender.push(p);
    await settle();
    ws.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.events.map((e) => (e.type === 'message_part' ? [e.message_part.seq, e.message_part.part] : e.type))).toEqual([
      [3, { type: 'tool-call', tool_call_id: 'c1', tool_name: 'add', args_delta: '{"numbers":[1,2]}' }],
      [4, { type: 'tool-call', tool_call_id: 'c2', tool_name: 'add', args_delta: '{}' }],
      [5, { type: 'tool-call', tool_call_id: 'c1', tool_name: 'add', args: { numbers: [1, 2] } }],
      [7, { type: 'tool-result', tool_call_id: 'c1', tool_name: 'add', result_delta: 'summing' }],
      [8, { type: 'tool-result', tool_call_id: 'c1', tool_name: 'add', result: 3 }],
    ]);
  });

  it(`frames stay under ${MAX_FRAME_BYTES} bytes (one larger event goes alone) and coalescing builds parts of at most ${MAX_COALESCED_PART_BYTES} bytes`, async () => {
    const { clock, ws, sender } = setup({ coalesceThresholdBytes: 10, maxQueuedBytes: 64 * 1024 * 1024 });
    const big = 'b'.repeat(MAX_FRAME_BYTES);
    sender.push(part('run-a', 1, 'small'));
    sender.push(out({ type: 'message', chat_id: CHAT, message: { id: 1, chat_id: CHAT, created_at: '2026-01-01T00:00:00Z', role: 'assistant', content: [{ type: 'text', text: big }] } }));
    for (let seq = 2; seq <= 20; seq++) sender.push(part('run-a', seq, 'c'.repeat(60 * 1024)));
    await settle();
    const sizes = ws.frames.map((f) => JSON.stringify(f).length);
    expect(ws.frames.map((f) => f.length)).toEqual([1, 1, 17, 2]);
    expect(sizes[1]).toBeGreaterThan(MAX_FRAME_BYTES);
    expect(sizes.filter((_, i) => i !== 1).every((n) => n <= MAX_FRAME_BYTES)).toBe(true);
    // Backed up: 40 deltas of 10 KB merge into parts of at most MAX_COALESCED_PART_BYTES, text intact.
    ws.frames = [];
    ws.bufferedAmount = 100;
    for (let seq = 21; seq <= 60; seq++) sender.push(part('run-a', seq, 'd'.repeat(10 * 1024)));
    await settle();
    ws.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS);
    const merged = ws.events.filter((e): e is Extract<ChatStreamEvent, { type: 'message_part' }> => e.type === 'message_part');
    expect(merged.length).toBeGreaterThan(1);
    expect(merged.length).toBeLessThan(40);
    expect(merged.every((e) => JSON.stringify(e).length <= MAX_COALESCED_PART_BYTES)).toBe(true);
    expect(merged.map((e) => partText(e.message_part.part)).join('')).toBe('d'.repeat(40 * 10 * 1024));
    expect(merged.at(-1)?.message_part.seq).toBe(60);
  });

  it('a lone event goes out within its microtasks; events pushed one per microtask in a turn that already sent a frame leave together at the end of that turn', async () => {
    const { ws, sender } = setup();
    await settle(); // start from a fresh turn
    sender.push(part('run-a', 1, 'first'));
    await Promise.resolve();
    await Promise.resolve();
    // Sent before the turn ended (no macrotask in between).
    expect(ws.frames.map((f) => f.length)).toEqual([1]);
    // A burst arriving one event per microtask (as an async iterator delivers it) in the same turn.
    for (let seq = 2; seq <= 50; seq++) {
      sender.push(part('run-a', seq, `t${seq}`));
      await Promise.resolve();
    }
    expect(ws.frames).toHaveLength(1);
    await settle();
    expect(ws.frames.map((f) => f.length)).toEqual([1, 49]);
    expect(ws.events.map((e) => (e.type === 'message_part' ? e.message_part.seq : 0))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // The next turn starts afresh: its first event again leaves at once.
    await settle();
    sender.push(part('run-a', 51, 'next'));
    await Promise.resolve();
    expect(ws.frames.map((f) => f.length)).toEqual([1, 49, 1]);
  });

  it('sends nothing while the socket is backed up and resumes on the drain poll once it drained', async () => {
    const { clock, ws, sender } = setup({ coalesceThresholdBytes: 100 });
    ws.bufferedAmount = 101;
    sender.push(status('running'));
    await settle();
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.frames).toEqual([]);
    ws.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.events.map((e) => e.type)).toEqual(['status']);
  });

  it('coalescing keeps a client under maxQueuedBytes when merged deltas fit, where the unmerged ones would not', async () => {
    const { clock, ws, sender, closes } = setup({ coalesceThresholdBytes: 10, maxQueuedBytes: 4000 });
    ws.bufferedAmount = 1000;
    // 100 parts of ~110 bytes of JSON each (11 KB unmerged), 100 bytes of text once merged.
    for (let seq = 1; seq <= 100; seq++) sender.push(part('run-a', seq, 'y'));
    await settle();
    expect(ws.closed).toBeUndefined();
    ws.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.events).toHaveLength(1);
    expect(ws.events[0]).toMatchObject({ type: 'message_part', message_part: { seq: 100, part: { type: 'text', text: 'y'.repeat(100) } } });
    expect(closes()).toBe(0);
  });

  it('a client too slow even for coalescing gets one too_slow discontinuity (resync after the last message sent) and close 1008', async () => {
    const { clock, ws, sender, closes } = setup({ coalesceThresholdBytes: 100, maxQueuedBytes: 2000 });
    sender.push(message(41));
    sender.push(message(42));
    await settle();
    expect(ws.frames).toHaveLength(1);
    ws.bufferedAmount = 10_000;
    // Status events cannot be merged: the queue only grows.
    for (let i = 0; i < 40; i++) sender.push(status(i % 2 ? 'running' : 'waiting'));
    await settle();
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.frames).toHaveLength(2);
    expect(ws.frames[1]).toEqual([{ type: 'discontinuity', chat_id: CHAT, discontinuity: { reason: 'too_slow', resync_after_id: 42 } }]);
    expect(ws.closed).toEqual({ code: CLOSE_TOO_SLOW, reason: 'client too slow' });
    expect(closes()).toBe(1);
    // Cut once: later events and drain polls send nothing more.
    for (let i = 0; i < 40; i++) sender.push(status('running'));
    ws.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS * 4);
    await settle();
    expect(ws.frames).toHaveLength(2);
    expect(closes()).toBe(1);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('end() sends what is queued, then closes normally', async () => {
    const { ws, sender, closes } = setup();
    sender.push(status('running'));
    sender.push(part('run-a', 1, 'last words'));
    sender.end();
    expect(ws.events.map((e) => e.type)).toEqual(['status', 'message_part']);
    expect(ws.closed).toEqual({ code: 1000, reason: 'stream ended' });
    expect(closes()).toBe(1);
  });

  it('a socket closed by the peer stops the sender and its drain poll', async () => {
    const { clock, ws, sender, closes } = setup({ coalesceThresholdBytes: 10 });
    ws.bufferedAmount = 100;
    sender.push(status('running'));
    await settle();
    expect(clock.pendingTimers()).toHaveLength(1);
    ws.readyState = 3;
    ws.emit('close', 1006, Buffer.alloc(0));
    expect(closes()).toBe(1);
    expect(clock.pendingTimers()).toEqual([]);
    sender.push(status('waiting'));
    await settle();
    expect(ws.frames).toEqual([]);
  });
});

describe('createStreamSender: ready() (back-pressure for history pages)', () => {
  /** Whether `p` has settled, and how, after the microtasks and the current turn have run. */
  const peek = async (p: Promise<boolean>): Promise<boolean | 'pending'> => {
    const got: { v: boolean | 'pending' } = { v: 'pending' };
    void p.then((v) => (got.v = v));
    await settle();
    return got.v;
  };

  it('is true at once while the queue is small, after the pending flush', async () => {
    const { ws, sender } = setup({ coalesceThresholdBytes: 1000 });
    expect(await sender.ready()).toBe(true);
    sender.push(status('running'));
    // A flush is pending: ready answers once it ran, and the event is on the socket by then.
    const ready = sender.ready();
    expect(await ready).toBe(true);
    expect(ws.frames).toHaveLength(1);
    expect(sender.queuedBytes).toBe(0);
  });

  it('over the threshold it waits for a drain poll: true once the queue fell to the threshold, pending while the socket makes progress', async () => {
    const metrics = createServerMetrics();
    const clock = createMockClock();
    const ws = new FakeSocket();
    const sender = createStreamSender(ws as unknown as WebSocket, { clock, metrics, coalesceThresholdBytes: 1000, maxQueuedBytes: 1_000_000 });
    ws.bufferedAmount = 5000;
    for (let id = 1; id <= 20; id++) sender.push(message(id)); // ~3 KB queued, not mergeable
    const ready = sender.ready();
    expect(await peek(ready)).toBe('pending');
    expect(sender.queuedBytes).toBeGreaterThan(1000);
    expect(metrics.get('chatd_stream_queued_bytes')).toBe(sender.queuedBytes);
    // The socket took some (progress) but is still over the threshold: nothing is sent, the wait goes on.
    ws.bufferedAmount = 4000;
    await clock.advance(DRAIN_POLL_MS);
    expect(await peek(ready)).toBe('pending');
    ws.bufferedAmount = 3000;
    await clock.advance(DRAIN_POLL_MS);
    expect(await peek(ready)).toBe('pending');
    // Drained: the queue goes out and the producer may go on.
    ws.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS);
    expect(await peek(ready)).toBe(true);
    expect(ws.events).toHaveLength(20);
    expect(metrics.get('chatd_stream_queued_bytes')).toBe(0);
    expect(metrics.get('chatd_stream_stalled_waits_total')).toBe(0);
  });

  it('a socket that takes nothing between two polls releases the wait at the poll, so pages keep coming until maxQueuedBytes cuts the client; then ready() is false', async () => {
    const metrics = createServerMetrics();
    const clock = createMockClock();
    const ws = new FakeSocket();
    let closes = 0;
    const sender = createStreamSender(ws as unknown as WebSocket, { clock, metrics, coalesceThresholdBytes: 1000, maxQueuedBytes: 10_000, onClose: () => closes++ });
    ws.bufferedAmount = 5000; // and it never falls: the client does not read
    /** One "page": 10 messages, ~1.6 KB. */
    let nextId = 1;
    let pushedBytes = 0;
    let lastPageBytes = 0;
    const pushPage = () => {
      lastPageBytes = 0;
      for (let i = 0; i < 10; i++) {
        const o = message(nextId++);
        lastPageBytes += o.json.length;
        sender.push(o);
      }
      pushedBytes += lastPageBytes;
    };
    let pages = 0;
    for (;;) {
      const ready = sender.ready();
      let answer = await peek(ready);
      if (answer === 'pending') {
        // Stalled: released at the next poll, not before.
        await clock.advance(DRAIN_POLL_MS - 1);
        expect(await peek(ready)).toBe('pending');
        await clock.advance(1);
        answer = await peek(ready);
      }
      if (answer === false) break;
      expect(answer).toBe(true);
      pushPage();
      pages++;
      if (pages > 100) throw new Error('never cut');
    }
    expect(ws.closed).toEqual({ code: CLOSE_TOO_SLOW, reason: 'client too slow' });
    expect(closes).toBe(1);
    // Cut by the page that took the queue past maxQueuedBytes (nothing was sent), not after an unbounded history.
    expect(pushedBytes - lastPageBytes).toBeLessThanOrEqual(10_000);
    expect(pushedBytes).toBeGreaterThan(10_000);
    expect(metrics.get('chatd_stream_stalled_waits_total')).toBe(pages - 1);
    expect(metrics.get('chatd_stream_slow_clients_cut_total')).toBe(1);
    expect(metrics.get('chatd_stream_dropped_bytes_total')).toBe(pushedBytes);
    expect(metrics.get('chatd_stream_queued_bytes')).toBe(0);
    expect(await sender.ready()).toBe(false);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('a wait in progress answers false when the peer closes the socket', async () => {
    const { ws, sender } = setup({ coalesceThresholdBytes: 100 });
    ws.bufferedAmount = 1000;
    for (let id = 1; id <= 5; id++) sender.push(message(id));
    const ready = sender.ready();
    expect(await peek(ready)).toBe('pending');
    ws.readyState = 3;
    ws.emit('close', 1006, Buffer.alloc(0));
    expect(await ready).toBe(false);
    expect(await sender.ready()).toBe(false);
  });

  it('end() answers a waiting ready() with false', async () => {
    const { ws, sender } = setup({ coalesceThresholdBytes: 100 });
    ws.bufferedAmount = 1000;
    for (let id = 1; id <= 5; id++) sender.push(message(id));
    const ready = sender.ready();
    expect(await peek(ready)).toBe('pending');
    sender.end();
    expect(await ready).toBe(false);
  });
});
