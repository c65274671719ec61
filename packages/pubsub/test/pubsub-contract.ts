// The one contract every PubSub implementation passes: memory-pubsub.test.ts and
// pg-pubsub.integration.test.ts run it against createMemoryPubSub and createPgPubSub.
import { afterEach, describe, expect, it } from 'vitest';
import {
  NOTIFY_PAYLOAD_LIMIT_BYTES,
  PubSubError,
  chatStreamNotifyChannel,
  encodeChatStreamNotify,
  handleChatStreamNotify,
  type ChatStreamNotifyMessage,
  type PubSub,
} from '../src/index.js';
import { CHAT, recorder } from './helpers.js';

/** Makes a fresh pubsub; `queueSize` sets the per-listener queue. */
export type PubSubFactory = (options: { queueSize?: number }) => Promise<PubSub>;

async function expectCode(p: Promise<unknown>, code: string): Promise<PubSubError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a PubSubError ${code}`).toBeInstanceOf(PubSubError);
  expect((err as PubSubError).code).toBe(code);
  return err as PubSubError;
}

let seq = 0;
const channelName = () => `contract:${process.pid}:${++seq}`;

/** Registers the contract tests for one implementation. */
export function pubsubContract(name: string, factory: PubSubFactory): void {
  describe(`PubSub contract: ${name}`, () => {
    const open: PubSub[] = [];
    const make = async (options: { queueSize?: number } = {}) => {
      const ps = await factory(options);
      open.push(ps);
      return ps;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((ps) => ps.close()));
    });

    it('delivers exactly the published bytes, in order, to a live subscriber', async () => {
      const ps = await make();
      const ch = channelName();
      const r = recorder();
      await ps.subscribe(ch, r.listener);
      const payloads = ['hello', '', 'ünïcødé ✓ 🚀', '{"after_message_id":42}', ...Array.from({ length: 100 }, (_, i) => `m${i}`)];
      for (const p of payloads) await ps.publish(ch, p);
      await ps.publish(ch, Buffer.from('as a buffer'));
      await r.waitForMessages(payloads.length + 1);
      expect(r.messages).toEqual([...payloads, 'as a buffer']);
      expect(r.errors).toEqual([]);
    });

    it('publishAll delivers every notification in order across channels, and on bad input sends none', async () => {
      const ps = await make();
      const [a, b] = [channelName(), channelName()];
      const ra = recorder();
      const rb = recorder();
      await ps.subscribe(a, ra.listener);
      await ps.subscribe(b, rb.listener);
      await ps.publishAll!([
        { channel: a, payload: 'a1' },
        { channel: a, payload: 'a2' },
        { channel: b, payload: 'b1' },
        { channel: a, payload: 'a1' },
        { channel: b, payload: Buffer.from('b2') },
      ]);
      await ra.waitForMessages(3);
      await rb.waitForMessages(2);
      expect(ra.messages).toEqual(['a1', 'a2', 'a1']);
      expect(rb.messages).toEqual(['b1', 'b2']);
      await expectCode(ps.publishAll!([{ channel: a, payload: 'never' }, { channel: b, payload: 'x'.repeat(NOTIFY_PAYLOAD_LIMIT_BYTES) }]), 'PAYLOAD_TOO_LARGE');
      await ps.publish(a, 'last');
      await ra.waitForMessages(4);
      expect(ra.messages).toEqual(['a1', 'a2', 'a1', 'last']);
    });

    it('keeps call order per channel for publishes that are not awaited, and delivers identical payloads each time', async () => {
      const ps = await make();
      const [a, b] = [channelName(), channelName()];
      const ra = recorder();
      const rb = recorder();
      await ps.subscribe(a, ra.listener);
      await ps.subscribe(b, rb.listener);
      const sends: Promise<void>[] = [];
      const wantA: string[] = [];
      const wantB: string[] = [];
      for (let i = 0; i < 300; i++) {
        // Every fifth payload repeats: PostgreSQL would fold identical ones sent in one transaction.
        const text = i % 5 === 0 ? '{"queue_update":true}' : `n${i}`;
        if (i % 3 === 0) {
          wantB.push(text);
          sends.push(ps.publish(b, text));
        } else {
          wantA.push(text);
          sends.push(ps.publish(a, text));
        }
      }
      await Promise.all(sends);
      await Promise.all([ra.waitForMessages(wantA.length), rb.waitForMessages(wantB.length)]);
      expect(ra.messages).toEqual(wantA);
      expect(rb.messages).toEqual(wantB);
    });

    it('carries hostile payloads and channel names byte for byte', async () => {
      const ps = await make();
      const payloads = ["it's", 'back\\slash \\', "'; select pg_terminate_backend(pg_backend_pid()); --", 'E\'x\'', '$$ $tag$ ;', 'line\nbreak\ttab\r', '"quoted"', '\u00e9\u{1F600}'];
      for (const ch of ['with"double', "with'single", 'with space', 'UPPER_lower', 'semi;colon', 'dollar$$']) {
        const r = recorder();
        await ps.subscribe(ch, r.listener);
        await Promise.all(payloads.map((p) => ps.publish(ch, p)));
        await r.waitForMessages(payloads.length);
        expect(r.messages).toEqual(payloads);
      }
    });

    it('delivers a Buffer to the listener', async () => {
      const ps = await make();
      const ch = channelName();
      const got: unknown[] = [];
      await ps.subscribe(ch, (m) => void got.push(m));
      await ps.publish(ch, 'x');
      await expect.poll(() => got.length).toBe(1);
      expect(Buffer.isBuffer(got[0])).toBe(true);
    });

    it('fans out to every listener of a channel and only to that channel', async () => {
      const ps = await make();
      const [a, b] = [channelName(), channelName()];
      const a1 = recorder();
      const a2 = recorder();
      const b1 = recorder();
      await ps.subscribe(a, a1.listener);
      await ps.subscribe(a, a2.listener);
      await ps.subscribe(b, b1.listener);
      await ps.publish(a, 'for a');
      await ps.publish(b, 'for b');
      await Promise.all([a1.waitForMessages(1), a2.waitForMessages(1), b1.waitForMessages(1)]);
      expect(a1.messages).toEqual(['for a']);
      expect(a2.messages).toEqual(['for a']);
      expect(b1.messages).toEqual(['for b']);
    });

    it('channel names are case-sensitive', async () => {
      const ps = await make();
      const lower = recorder();
      const upper = recorder();
      await ps.subscribe('case:abc', lower.listener);
      await ps.subscribe('case:ABC', upper.listener);
      await ps.publish('case:ABC', 'upper');
      await ps.publish('case:abc', 'lower');
      await Promise.all([lower.waitForMessages(1), upper.waitForMessages(1)]);
      expect(lower.messages).toEqual(['lower']);
      expect(upper.messages).toEqual(['upper']);
    });

    it('unsubscribe stops delivery to that listener only, and is idempotent', async () => {
      const ps = await make();
      const ch = channelName();
      const gone = recorder();
      const stays = recorder();
      const unsub = await ps.subscribe(ch, gone.listener);
      await ps.subscribe(ch, stays.listener);
      await ps.publish(ch, 'one');
      await Promise.all([gone.waitForMessages(1), stays.waitForMessages(1)]);
      unsub();
      unsub();
      await ps.publish(ch, 'two');
      await stays.waitForMessages(2);
      expect(gone.messages).toEqual(['one']);
      expect(stays.messages).toEqual(['one', 'two']);
    });

    it('subscribes again after the last listener left (UNLISTEN then LISTEN)', async () => {
      const ps = await make();
      const ch = channelName();
      const first = recorder();
      (await ps.subscribe(ch, first.listener))();
      await ps.publish(ch, 'nobody');
      const second = recorder();
      await ps.subscribe(ch, second.listener);
      await ps.publish(ch, 'again');
      await second.waitForMessage('again');
      expect(first.messages).toEqual([]);
      expect(second.messages).toEqual(['again']);
    });

    it('stays consistent under concurrent subscribe/unsubscribe churn on one channel', async () => {
      const ps = await make();
      const ch = channelName();
      for (let round = 0; round < 5; round++) {
        const unsubs = await Promise.all(Array.from({ length: 10 }, () => ps.subscribe(ch, () => {})));
        for (const u of unsubs) u();
      }
      // Interleave without awaiting each step.
      const pending = [ps.subscribe(ch, () => {}), ps.subscribe(ch, () => {})];
      (await pending[0]!)();
      const keeper = recorder();
      await ps.subscribe(ch, keeper.listener);
      (await pending[1]!)();
      await ps.publish(ch, 'still here');
      await keeper.waitForMessage('still here');
      expect(ps.metrics?.().listeners).toBe(1);
      expect(ps.metrics?.().channels).toBe(1);
    });

    it('a throwing or rejecting listener breaks nothing', async () => {
      const ps = await make();
      const ch = channelName();
      const good = recorder();
      await ps.subscribe(ch, () => {
        throw new Error('listener bug');
      });
      await ps.subscribe(ch, async () => {
        throw new Error('async listener bug');
      });
      await ps.subscribe(ch, good.listener);
      await ps.publish(ch, '1');
      await ps.publish(ch, '2');
      await good.waitForMessages(2);
      expect(good.messages).toEqual(['1', '2']);
    });

    it('a slow listener never blocks others; its overflow becomes one MESSAGES_DROPPED, then delivery resumes', async () => {
      const ps = await make({ queueSize: 5 });
      const ch = channelName();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const slow = recorder((text) => (text === 'm0' ? gate : undefined));
      const fast = recorder();
      await ps.subscribe(ch, slow.listener);
      await ps.subscribe(ch, fast.listener);
      await ps.publish(ch, 'm0');
      await slow.waitForMessage('m0');
      // A burst bigger than the queue: the fast listener takes it all.
      await Promise.all(Array.from({ length: 19 }, (_, i) => ps.publish(ch, `m${i + 1}`)));
      await fast.waitForMessages(20);
      expect(fast.errors).toEqual([]);
      // The slow one is still stuck in m0.
      expect(slow.events).toEqual(['m0']);
      release();
      await slow.waitForError('MESSAGES_DROPPED');
      // m1..m5 filled its queue; m6..m19 were dropped and replaced by one error.
      expect(slow.events).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', '!MESSAGES_DROPPED']);
      await ps.publish(ch, 'after');
      await slow.waitForMessage('after');
      expect(slow.events.at(-1)).toBe('after');
      const m = ps.metrics?.();
      if (m) {
        expect(m.dropped).toBe(14);
        expect(m.droppedSignals).toBe(1);
      }
    });

    it('a burst larger than the queue reaching an idle, fast listener is delivered whole', async () => {
      const ps = await make({ queueSize: 2 });
      const ch = channelName();
      const r = recorder();
      await ps.subscribe(ch, r.listener);
      const want = Array.from({ length: 100 }, (_, i) => `b${i}`);
      await Promise.all(want.map((t) => ps.publish(ch, t)));
      await r.waitForMessages(100);
      expect(r.messages).toEqual(want);
      expect(r.errors).toEqual([]);
    });

    it('rejects payloads of 8000 bytes or more with PAYLOAD_TOO_LARGE and sends nothing', async () => {
      const ps = await make();
      const ch = channelName();
      const r = recorder();
      await ps.subscribe(ch, r.listener);
      const max = 'x'.repeat(NOTIFY_PAYLOAD_LIMIT_BYTES - 1);
      await ps.publish(ch, max);
      await expectCode(ps.publish(ch, 'x'.repeat(NOTIFY_PAYLOAD_LIMIT_BYTES)), 'PAYLOAD_TOO_LARGE');
      await expectCode(ps.publish(ch, Buffer.alloc(100_000, 0x61)), 'PAYLOAD_TOO_LARGE');
      // 2667 three-byte characters: under 8000 code units but over 8000 bytes.
      await expectCode(ps.publish(ch, '€'.repeat(2667)), 'PAYLOAD_TOO_LARGE');
      await ps.publish(ch, 'end');
      await r.waitForMessage('end');
      expect(r.messages.map((m) => m.length)).toEqual([NOTIFY_PAYLOAD_LIMIT_BYTES - 1, 3]);
    });

    it('rejects bad channels with INVALID_CHANNEL on publish and subscribe', async () => {
      const ps = await make();
      for (const bad of ['', 'c'.repeat(64), 'é'.repeat(32), 'nul\0here', 'lone\uD800']) {
        await expectCode(ps.publish(bad, 'x'), 'INVALID_CHANNEL');
        await expectCode(ps.subscribe(bad, () => {}), 'INVALID_CHANNEL');
      }
      // 63 bytes is the most PostgreSQL keeps.
      const longest = 'c'.repeat(63);
      const r = recorder();
      await ps.subscribe(longest, r.listener);
      await ps.publish(longest, 'fits');
      await r.waitForMessage('fits');
    });

    it('rejects payloads that are not UTF-8 text with MALFORMED_PAYLOAD and sends nothing', async () => {
      const ps = await make();
      const ch = channelName();
      const r = recorder();
      await ps.subscribe(ch, r.listener);
      await expectCode(ps.publish(ch, Buffer.from([0xff, 0xfe, 0x41])), 'MALFORMED_PAYLOAD');
      await expectCode(ps.publish(ch, 'a\0b'), 'MALFORMED_PAYLOAD');
      await expectCode(ps.publish(ch, 'lone \uDC00 surrogate'), 'MALFORMED_PAYLOAD');
      await expectCode(ps.publish(ch, 42 as unknown as string), 'MALFORMED_PAYLOAD');
      await ps.publish(ch, 'ok');
      await r.waitForMessage('ok');
      expect(r.messages).toEqual(['ok']);
    });

    it('carries typed payloads end to end; a malformed one is a typed error that breaks nothing', async () => {
      const ps = await make();
      const ch = chatStreamNotifyChannel(CHAT);
      const got: (ChatStreamNotifyMessage | string)[] = [];
      await ps.subscribe(
        ch,
        handleChatStreamNotify((payload, error) => {
          got.push(error ? error.code : payload!);
        }),
      );
      await ps.publish(ch, encodeChatStreamNotify({ after_message_id: 41 }));
      await ps.publish(ch, '{not json');
      await ps.publish(ch, '{"after_message_id":"41"}');
      await ps.publish(ch, encodeChatStreamNotify({ status: 'running', worker_id: 'w1', queue_update: true }));
      await expect.poll(() => got.length).toBe(4);
      expect(got).toEqual([{ after_message_id: 41 }, 'MALFORMED_PAYLOAD', 'MALFORMED_PAYLOAD', { status: 'running', worker_id: 'w1', queue_update: true }]);
    });

    it('counts published and delivered messages and current listeners', async () => {
      const ps = await make();
      if (!ps.metrics) return;
      const ch = channelName();
      const before = ps.metrics();
      const a = recorder();
      const b = recorder();
      const ua = await ps.subscribe(ch, a.listener);
      await ps.subscribe(ch, b.listener);
      expect(ps.metrics().listeners).toBe(before.listeners + 2);
      await ps.publish(ch, '1');
      await ps.publish(ch, '2');
      await Promise.all([a.waitForMessages(2), b.waitForMessages(2)]);
      const m = ps.metrics();
      expect(m.published - before.published).toBe(2);
      expect(m.delivered - before.delivered).toBe(4);
      expect(m.connected).toBe(true);
      ua();
      expect(ps.metrics().listeners).toBe(before.listeners + 1);
      const usage = await ps.notificationQueueUsage!();
      expect(usage).toBeGreaterThanOrEqual(0);
      expect(usage).toBeLessThanOrEqual(1);
    });

    it('rejects a subscribe whose signal is already aborted', async () => {
      const ps = await make();
      const ac = new AbortController();
      ac.abort(new Error('gave up'));
      await expect(ps.subscribe(channelName(), () => {}, { signal: ac.signal })).rejects.toThrow('gave up');
      expect(ps.metrics?.().listeners ?? 0).toBe(0);
    });

    it('after close: publish and subscribe reject with CLOSED, listeners hear nothing, close is idempotent', async () => {
      const ps = await make();
      const ch = channelName();
      const r = recorder();
      await ps.subscribe(ch, r.listener);
      await Promise.all([ps.close(), ps.close()]);
      await ps.close();
      await expectCode(ps.publish(ch, 'late'), 'CLOSED');
      await expectCode(ps.subscribe(ch, () => {}), 'CLOSED');
      expect(r.events).toEqual([]);
    });
  });
}
