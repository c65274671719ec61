// Unit tests of createWatchSender with a fake socket whose send buffer the test sets, and the mock clock
// for the drain poll: frames go out at once while the buffer is low; behind a backlog only state events
// the newer one makes obsolete are coalesced (never created, deleted or inbox frames); the hard limit
// closes with 1008 too_slow; every count is a metric.
import { EventEmitter } from 'node:events';
import { createMockClock } from '@chatd/clock';
import type { Chat } from '@chatd/protocol';
import type { ChatEvent, ChatEventKind, InboxNotificationEvent } from '@chatd/pubsub';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { createServerMetrics } from '../src/server/server-metrics.js';
import { DRAIN_POLL_MS } from '../src/server/stream-sender.js';
import { chatEventFrame, createWatchSender, inboxFrame, WATCH_TOO_SLOW_REASON } from '../src/server/watch-sender.js';

const OWNER = '22222222-2222-4222-8222-222222222222';
const chatId = (n: number) => `11111111-1111-4111-8111-${String(n).padStart(12, '0')}`;

/** The parts of a ws socket the sender touches, with a send buffer the test controls. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | undefined;
  send(text: string) {
    const parsed = JSON.parse(text) as unknown;
    if (Array.isArray(parsed)) throw new Error('watch frames are objects');
    this.sent.push(parsed as Record<string, unknown>);
  }
  close(code: number, reason: string) {
    if (this.closed) return;
    this.closed = { code, reason };
    this.readyState = 2;
    // ws emits close once the handshake ends; here at once.
    queueMicrotask(() => this.emit('close'));
  }
  terminate() {
    this.close(1006, '');
  }
}

function chat(n: number, title: string, extra: Partial<Chat> = {}): Chat {
  return {
    id: chatId(n),
    organization_id: OWNER,
    owner_id: OWNER,
    root_chat_id: chatId(n),
    title,
    status: 'waiting',
    last_error: null,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:01.000Z',
    archived: false,
    worker_id: null,
    ...extra,
  };
}
const event = (kind: ChatEventKind, n: number, title = `t${n}`): ChatEvent => ({ kind, chat: chat(n, title) });
const inbox = (title: string): InboxNotificationEvent => ({
  kind: 'new',
  inbox_notification: { id: chatId(99), user_id: OWNER, template_id: chatId(98), targets: [], title, content: '', icon: '', actions: [], read_at: null, created_at: '2026-01-01T00:00:00.000Z' },
});
const label = (f: Record<string, unknown>) =>
  'notification' in f ? `inbox:${(f.notification as { title: string }).title}` : `${f.kind as string}:${(f.chat as Chat).id.slice(-1)}:${(f.chat as Chat).title}`;

function setup(options: { coalesceThresholdBytes?: number; maxQueuedBytes?: number } = {}) {
  const clock = createMockClock();
  const ws = new FakeSocket();
  const metrics = createServerMetrics();
  let closes = 0;
  const sender = createWatchSender(ws as unknown as WebSocket, { clock, metrics, ...options, onClose: () => closes++ });
  return { clock, ws, sender, metrics, closes: () => closes };
}

describe('createWatchSender', () => {
  it('sends each frame at once, in order, while the send buffer is at most the threshold', () => {
    const { ws, sender, metrics } = setup({ coalesceThresholdBytes: 1000 });
    sender.push(chatEventFrame(event('created', 1)));
    for (let i = 0; i < 5; i++) sender.push(chatEventFrame(event('title_change', 1, `v${i}`)));
    ws.bufferedAmount = 1000; // at the threshold, not over it
    sender.push(inboxFrame(JSON.stringify(inbox('done').inbox_notification), 1));
    expect(ws.sent.map(label)).toEqual(['created:1:t1', 'title_change:1:v0', 'title_change:1:v1', 'title_change:1:v2', 'title_change:1:v3', 'title_change:1:v4', 'inbox:done']);
    expect(sender.queuedFrames).toBe(0);
    expect(metrics.get('chatd_watch_events_sent_total')).toBe(7);
    expect(metrics.get('chatd_watch_events_coalesced_total')).toBe(0);
  });

  it('behind a backlog, N title_changes of one chat leave one queued (the newest, last); created, deleted and inbox frames are all kept in order', async () => {
    const { clock, ws, sender, metrics } = setup({ coalesceThresholdBytes: 1000, maxQueuedBytes: 1_000_000 });
    ws.bufferedAmount = 5000;
    const N = 50;
    sender.push(chatEventFrame(event('created', 1)));
    sender.push(chatEventFrame(event('status_change', 2, 'running')));
    for (let i = 0; i < N; i++) {
      sender.push(chatEventFrame(event('title_change', 1, `v${i}`)));
      if (i === 10) sender.push(inboxFrame(JSON.stringify(inbox('first').inbox_notification), 1));
      if (i === 20) sender.push(chatEventFrame(event('deleted', 3)));
      if (i === 30) sender.push(chatEventFrame(event('created', 4)));
    }
    sender.push(chatEventFrame(event('status_change', 2, 'waiting')));
    sender.push(chatEventFrame(event('diff_status_change', 1, 'diff-a')));
    sender.push(chatEventFrame(event('diff_status_change', 1, 'diff-b')));
    sender.push(chatEventFrame(event('title_change', 2, 'other chat'))); // another chat: its own key
    sender.push(inboxFrame(JSON.stringify(inbox('second').inbox_notification), 1));
    sender.push(inboxFrame(JSON.stringify(inbox('second').inbox_notification), 1)); // identical inbox frames are still two notifications
    expect(ws.sent).toEqual([]);
    // title_change x N -> 1, status_change of chat 2 x 2 -> 1, diff_status_change x 2 -> 1.
    expect(metrics.get('chatd_watch_events_coalesced_total')).toBe(N - 1 + 1 + 1);
    expect(sender.queuedFrames).toBe(10);
    expect(metrics.get('chatd_watch_queued_bytes')).toBe(sender.queuedBytes);

    ws.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.sent.map(label)).toEqual([
      'created:1:t1',
      'inbox:first',
      'deleted:3:t3',
      'created:4:t4',
      `title_change:1:v${N - 1}`,
      'status_change:2:waiting',
      'diff_status_change:1:diff-b',
      'title_change:2:other chat',
      'inbox:second',
      'inbox:second',
    ]);
    expect(sender.queuedFrames).toBe(0);
    expect(metrics.get('chatd_watch_queued_bytes')).toBe(0);
    expect(metrics.get('chatd_watch_events_sent_total')).toBe(10);
    expect(metrics.get('chatd_watch_events_dropped_total')).toBe(0);
  });

  it('drains a little at a time as the buffer allows, polling on the clock, and new frames wait behind the queue', async () => {
    const { clock, ws, sender } = setup({ coalesceThresholdBytes: 1000, maxQueuedBytes: 1_000_000 });
    ws.bufferedAmount = 5000;
    for (let n = 1; n <= 3; n++) sender.push(chatEventFrame(event('created', n)));
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.sent).toEqual([]);
    // Each send fills the buffer again: one frame per poll.
    ws.bufferedAmount = 0;
    const send = ws.send.bind(ws);
    ws.send = (text: string) => {
      send(text);
      ws.bufferedAmount = 5000;
    };
    await clock.advance(DRAIN_POLL_MS);
    expect(ws.sent.map(label)).toEqual(['created:1:t1']);
    // The buffer is low, but frames are queued: a new frame goes behind them, not ahead.
    ws.bufferedAmount = 0;
    sender.push(chatEventFrame(event('created', 4)));
    expect(ws.sent.map(label)).toEqual(['created:1:t1']);
    for (let i = 0; i < 3; i++) {
      ws.bufferedAmount = 0;
      await clock.advance(DRAIN_POLL_MS);
    }
    expect(ws.sent.map(label)).toEqual(['created:1:t1', 'created:2:t2', 'created:3:t3', 'created:4:t4']);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('past the hard limit it closes with 1008 too_slow once, counting the cut and the frames it drops', async () => {
    const { clock, ws, sender, metrics, closes } = setup({ coalesceThresholdBytes: 1000, maxQueuedBytes: 4000 });
    ws.bufferedAmount = 5000;
    // Coalescing keeps a stream of one chat's title changes small: never cut.
    for (let i = 0; i < 1000; i++) sender.push(chatEventFrame(event('title_change', 1, `v${i}`)));
    expect(ws.closed).toBeUndefined();
    expect(sender.queuedFrames).toBe(1);
    // Frames that cannot coalesce add up until the limit.
    let pushed = 0;
    while (!ws.closed) {
      sender.push(chatEventFrame(event('created', pushed % 9)));
      pushed++;
    }
    expect(ws.closed).toEqual({ code: 1008, reason: WATCH_TOO_SLOW_REASON });
    expect(metrics.get('chatd_watch_clients_cut_total')).toBe(1);
    expect(metrics.get('chatd_watch_events_dropped_total')).toBe(pushed + 1);
    expect(metrics.get('chatd_watch_queued_bytes')).toBe(0);
    expect(sender.queuedFrames).toBe(0);
    sender.push(chatEventFrame(event('created', 1)));
    await Promise.resolve();
    await clock.advance(DRAIN_POLL_MS * 4);
    expect(closes()).toBe(1);
    expect(metrics.get('chatd_watch_clients_cut_total')).toBe(1);
    expect(ws.sent).toEqual([]);
  });

  it('a socket that closes with frames queued drops them (counted) and stops polling', async () => {
    const { clock, ws, sender, metrics, closes } = setup({ coalesceThresholdBytes: 1000 });
    ws.bufferedAmount = 5000;
    sender.push(chatEventFrame(event('created', 1)));
    sender.push(inboxFrame(JSON.stringify(inbox('x').inbox_notification), 1));
    ws.close(1000, 'bye');
    await Promise.resolve();
    expect(closes()).toBe(1);
    expect(metrics.get('chatd_watch_events_dropped_total')).toBe(2);
    expect(metrics.get('chatd_watch_queued_bytes')).toBe(0);
    expect(clock.pendingTimers()).toEqual([]);
  });
});
