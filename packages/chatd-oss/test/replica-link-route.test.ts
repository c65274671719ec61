// Unit tests of serveReplicaLink (issue 36) on a fake link socket whose send buffer the test sets, a fake
// subscriber and the mock clock for the stream senders' drain poll: one frame per turn for many sids, parts only,
// unsub and link close releasing subscriptions, not_found, and the per-sid too_slow end that leaves the link and
// the other sids alone.
import { EventEmitter } from 'node:events';
import { createMockClock } from '@chatd/clock';
import { RELAY_SOURCE_HEADER, decodeReplicaLinkFrame, eventJson, type ChatStreamEvent, type ReplicaLinkRecord } from '@chatd/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { ChatdError } from '../src/chatd-error.js';
import { NOOP_LOGGER } from '../src/logger.js';
import { REPLICA_LINK_MAX_FRAME_BYTES, REPLICA_LINK_UNAUTHORIZED_CLOSE_CODE, serveReplicaLink } from '../src/server/replica-link-route.js';
import { createServerMetrics, type ServerMetrics } from '../src/server/server-metrics.js';
import { DRAIN_POLL_MS } from '../src/server/stream-sender.js';
import type { OutEvent, StreamSink, SubscribeOptions } from '../src/subscribe/chat-subscriber.js';

const CHAT_A = '7d3c2a10-0000-4000-8000-00000000000a';
const CHAT_B = '7d3c2a10-0000-4000-8000-00000000000b';

class FakeLink extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  frames: ReplicaLinkRecord[][] = [];
  send(data: string | Buffer) {
    this.frames.push(decodeReplicaLinkFrame(typeof data === 'string' ? data : data.toString('utf8'))!);
  }
  ping() {}
  terminate() {
    this.readyState = 3;
    this.emit('close');
  }
  closedWith: { code: number; reason: string } | undefined;
  close(code: number, reason: string) {
    this.closedWith = { code, reason };
    this.readyState = 3;
    this.emit('close');
  }
  control(c: unknown) {
    this.emit('message', Buffer.from(JSON.stringify(c)), false);
  }
  get records() {
    return this.frames.flat();
  }
}

const out = (event: ChatStreamEvent): OutEvent => ({ event, json: JSON.stringify(event) });
const part = (chat: string, seq: number, text: string): OutEvent => out({ type: 'message_part', chat_id: chat, message_part: { role: 'assistant', part: { type: 'text', text }, seq, run_id: 'r1' } });
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

let metricsOpen: ServerMetrics | undefined;
afterEach(() => metricsOpen?.close());

function setup(sender?: { coalesceThresholdBytes?: number; maxQueuedBytes?: number }, reverify?: () => Promise<boolean>) {
  const clock = createMockClock();
  const link = new FakeLink();
  const metrics = createServerMetrics();
  metricsOpen = metrics;
  const subs = new Map<string, { sink: StreamSink; options: SubscribeOptions; closed: boolean }>();
  const subscriber = {
    subscribe: async (chatId: string, options: SubscribeOptions, sink: StreamSink) => {
      if (chatId === 'missing') throw new ChatdError('NOT_FOUND', 'chat not found');
      const s = { sink, options, closed: false };
      subs.set(chatId, s);
      return {
        close: () => void (s.closed = true),
        get closed() {
          return s.closed;
        },
      };
    },
  };
  serveReplicaLink(link as unknown as WebSocket, { subscriber, clock, logger: NOOP_LOGGER, metrics, peerId: 'peer-1', pingIntervalMs: 15_000, ...(sender ? { sender } : {}), ...(reverify ? { reverify } : {}) });
  return { clock, link, metrics, subs };
}

describe('serveReplicaLink', () => {
  it("re-checks the peer's credential at each ping and closes the link, ending every stream, once it no longer verifies", async () => {
    let verified = true;
    let checks = 0;
    const { clock, link, subs, metrics } = setup(undefined, async () => {
      checks++;
      return verified;
    });
    link.control({ op: 'sub', sid: 1, chat_id: CHAT_A });
    link.control({ op: 'sub', sid: 2, chat_id: CHAT_B });
    await settle();
    await clock.advance(15_000);
    await settle();
    expect(checks).toBe(1);
    expect(link.closedWith).toBeUndefined();
    verified = false;
    await clock.advance(15_000);
    await settle();
    expect(checks).toBe(2);
    expect(link.closedWith).toEqual({ code: REPLICA_LINK_UNAUTHORIZED_CLOSE_CODE, reason: 'replica credential not verified' });
    expect(subs.get(CHAT_A)!.closed).toBe(true);
    expect(subs.get(CHAT_B)!.closed).toBe(true);
    expect(metrics.get('chatd_replica_link_streams')).toBe(0);
    expect(metrics.get('chatd_replica_links_unauthorized_total')).toBe(1);
  });

  it('serves each sub as a relay leg and sends the parts of every sid of one turn in one frame, their JSON as encoded', async () => {
    const { link, subs, metrics } = setup();
    link.control({ op: 'sub', sid: 1, chat_id: CHAT_A, run_id: 'r1', after_seq: 2 });
    link.control({ op: 'sub', sid: 2, chat_id: CHAT_B });
    await settle();
    const a = subs.get(CHAT_A)!;
    expect(a.options.runId).toBe('r1');
    expect(a.options.afterSeq).toBe(2);
    expect(a.options.afterId).toBe(2n ** 63n - 1n);
    expect(a.options.requestHeader?.get(RELAY_SOURCE_HEADER)).toBe('peer-1');
    expect(metrics.get('chatd_replica_link_streams')).toBe(2);

    const p3 = part(CHAT_A, 3, 'a3');
    a.sink.push(p3);
    a.sink.push(out({ type: 'status', chat_id: CHAT_A, status: { status: 'running' } }));
    a.sink.push(part(CHAT_A, 4, 'a4'));
    subs.get(CHAT_B)!.sink.push(part(CHAT_B, 1, 'b1'));
    await settle();
    await settle();
    expect(link.frames).toHaveLength(1);
    const [r1, r2] = link.frames[0]!;
    expect(r1!.sid).toBe(1);
    expect(r1!.events!.map((e) => (e as { message_part: { seq: number } }).message_part.seq)).toEqual([3, 4]);
    expect(eventJson(r1!.events![0]!)).toBe(p3.json);
    expect(r2).toEqual({ sid: 2, events: [part(CHAT_B, 1, 'b1').event] });
    expect(metrics.get('chatd_replica_link_frames_sent_total')).toBe(1);
    expect(metrics.get('chatd_replica_link_records_sent_total')).toBe(2);
  });

  it(`starts a new frame before the records of one turn pass ${REPLICA_LINK_MAX_FRAME_BYTES} bytes`, async () => {
    const { link, subs } = setup({ coalesceThresholdBytes: 64 * 1024 * 1024 });
    link.control({ op: 'sub', sid: 1, chat_id: CHAT_A });
    link.control({ op: 'sub', sid: 2, chat_id: CHAT_B });
    await settle();
    const big = 'x'.repeat(1_000_000);
    for (let seq = 1; seq <= 3; seq++) subs.get(CHAT_A)!.sink.push(part(CHAT_A, seq, big));
    for (let seq = 1; seq <= 2; seq++) subs.get(CHAT_B)!.sink.push(part(CHAT_B, seq, big));
    await settle();
    await settle();
    // Five records of ~1 MB: four fit in one frame, the fifth starts the next.
    expect(link.frames.map((f) => f.length)).toEqual([4, 1]);
    expect(link.records.flatMap((r) => r.events ?? [])).toHaveLength(5);
  });

  it("measures each stream against its share of the link's buffer, as if it had its own socket", async () => {
    const { link, subs, metrics } = setup({ coalesceThresholdBytes: 1024 });
    for (let sid = 1; sid <= 4; sid++) link.control({ op: 'sub', sid, chat_id: sid === 1 ? CHAT_A : `${CHAT_B.slice(0, -1)}${sid}` });
    await settle();
    // 2,000 bytes buffered on a link of 4 streams: 500 each, under the 1,024 threshold, so nothing coalesces.
    link.bufferedAmount = 2_000;
    for (let seq = 1; seq <= 3; seq++) subs.get(CHAT_A)!.sink.push(part(CHAT_A, seq, `d${seq}`));
    await settle();
    await settle();
    expect(metrics.get('chatd_stream_parts_coalesced_total')).toBe(0);
    expect(link.records.flatMap((r) => (r.events ?? []).map((e) => (e as { message_part: { seq: number } }).message_part.seq))).toEqual([1, 2, 3]);
  });

  it('closes the subscription on unsub and every subscription when the link closes; a missing chat ends not_found', async () => {
    const { link, subs, metrics } = setup();
    link.control({ op: 'sub', sid: 1, chat_id: CHAT_A });
    link.control({ op: 'sub', sid: 2, chat_id: CHAT_B });
    link.control({ op: 'sub', sid: 3, chat_id: 'missing' });
    link.control({ op: 'bogus' });
    await settle();
    await settle();
    expect(link.records).toContainEqual({ sid: 3, end: { reason: 'not_found' } });
    expect(metrics.get('chatd_replica_link_invalid_frames_total')).toBe(1);
    link.control({ op: 'unsub', sid: 1 });
    expect(subs.get(CHAT_A)!.closed).toBe(true);
    expect(subs.get(CHAT_B)!.closed).toBe(false);
    expect(metrics.get('chatd_replica_link_streams')).toBe(1);
    link.terminate();
    expect(subs.get(CHAT_B)!.closed).toBe(true);
    expect(metrics.get('chatd_replica_link_streams')).toBe(0);
    expect(metrics.get('chatd_replica_links')).toBe(0);
  });

  it('ends a too-slow sid alone (too_slow) while the other sids and the link go on', async () => {
    const { link, subs, clock, metrics } = setup({ coalesceThresholdBytes: 1024, maxQueuedBytes: 16 * 1024 });
    link.control({ op: 'sub', sid: 1, chat_id: CHAT_A });
    link.control({ op: 'sub', sid: 2, chat_id: CHAT_B });
    await settle();
    const a = subs.get(CHAT_A)!;
    const b = subs.get(CHAT_B)!;
    // The link stops draining: both senders hold their events; A's backlog passes the cut, B's does not.
    link.bufferedAmount = 10 * 1024 * 1024;
    b.sink.push(part(CHAT_B, 1, 'b1'));
    for (let seq = 1; seq <= 40; seq++) a.sink.push(part(CHAT_A, seq, 'x'.repeat(1000)));
    await settle();
    await settle();
    await clock.advance(DRAIN_POLL_MS);
    await settle();
    expect(metrics.get('chatd_stream_slow_clients_cut_total')).toBe(1);
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(false);
    expect(link.records).toContainEqual({ sid: 1, end: { reason: 'too_slow' } });
    expect(link.records.some((r) => r.sid === 2 && r.end)).toBe(false);
    // The link drains: B's held part goes out, and B keeps streaming.
    link.bufferedAmount = 0;
    await clock.advance(DRAIN_POLL_MS);
    await settle();
    b.sink.push(part(CHAT_B, 2, 'b2'));
    await settle();
    await settle();
    const bSeqs = link.records.filter((r) => r.sid === 2).flatMap((r) => (r.events ?? []).map((e) => (e as { message_part: { seq: number } }).message_part.seq));
    expect(bSeqs).toEqual([1, 2]);
    expect(link.readyState).toBe(1);
  });
});
