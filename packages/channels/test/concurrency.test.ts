// Many appenders and subscribers at once (interleaved at await points), slow subscribers cut among
// them, cleanup racing unsubscribe, and a model check of the cursor-based subscriber queue against a
// literal bounded queue with the original's drop-oldest-then-terminal cut.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MsgEntry, Subscription } from '../src/index.js';
import { createRouterWithoutRateLimit } from '../src/index.js';
import { chan, settle } from './helpers.js';

/** Deterministic PRNG (mulberry32) so interleavings are random but repeatable. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function yieldRandomly(rand: () => number): Promise<void> {
  const n = Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('many appenders and subscribers at once', () => {
  it('every subscriber sees every entry once, in arrival order; the log keeps each lane in order', async () => {
    const rand = rng(42);
    const lanes = 16;
    const perLane = 250;
    const r = createRouterWithoutRateLimit({ maxLogEntries: 100_000 });
    r.create(chan('ch', 'p', { submitterId: 'u', executorId: 'e' }));
    const results: MsgEntry[][] = [];
    const consumers: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const got: MsgEntry[] = [];
      results.push(got);
      const kind = i % 4;
      if (kind === 0) {
        const sub = r.subscribe('ch', i % 8 ? 'u' : 'e');
        consumers.push((async () => { for await (const e of sub) { got.push(e); await yieldRandomly(rand); } })());
      } else if (kind === 1) {
        const sub = r.subscribe('ch', 'u');
        consumers.push((async () => { for await (const b of sub.batches()) { got.push(...b); await yieldRandomly(rand); } })());
      } else if (kind === 2) {
        consumers.push(new Promise<void>((resolve) => { r.subscribe('ch', 'e', { onEntries: (b) => got.push(...b), onEnd: () => resolve() }); }));
      } else {
        const sub = r.subscribe('ch', 'u');
        consumers.push((async () => { while (!sub.done) { got.push(...sub.read(7)); await sub.wait(); await yieldRandomly(rand); } })());
      }
    }
    // 16 concurrent appenders, half as the submitter and half as the executor; each lane counts its own
    // sequences and tags its entries with inReplyTo = lane. `arrival` records the order of the calls.
    const arrival: string[] = [];
    const key = (e: MsgEntry): string => `${e.inReplyTo}:${e.sequence}`;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        const who = lane % 2 ? 'u' : 'e';
        for (let seq = 1; seq <= perLane; seq++) {
          r.append('ch', who, lane * 1000 + seq, lane, null);
          arrival.push(`${lane}:${lane * 1000 + seq}`);
          await yieldRandomly(rand);
        }
      }),
    );
    await settle();
    const log = r.readAfter('ch', 'u', 0, 0);
    r.cleanupProcess('p');
    await Promise.all(consumers);

    expect(arrival).toHaveLength(lanes * perLane);
    for (const got of results) expect(got.map(key)).toEqual(arrival);
    // Same-sender lanes interleave, so the log may reorder across lanes, never within one.
    expect(log.map(key).sort()).toEqual([...arrival].sort());
    for (let lane = 0; lane < lanes; lane++) {
      const seqs = log.filter((e) => e.inReplyTo === lane).map((e) => e.sequence);
      expect(seqs).toEqual(Array.from({ length: perLane }, (_, i) => lane * 1000 + i + 1));
    }
  });

  it('slow subscribers are cut exactly once among concurrent appenders, and the rest keep working', async () => {
    const rand = rng(7);
    const r = createRouterWithoutRateLimit({ subscriberBufferSize: 1, maxLogEntries: 100_000 });
    r.create(chan('ch', 'p', { submitterId: 'u', executorId: 'e' }));
    const stalled: Subscription[] = Array.from({ length: 10 }, () => r.subscribe('ch', 'u'));
    const live = r.subscribe('ch', 'u', { bufferSize: 1_000_000 });
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        for (let i = 0; i < 100; i++) {
          r.append('ch', lane % 2 ? 'u' : 'e', i, lane, null);
          await yieldRandomly(rand);
        }
      }),
    );
    expect(r.subscriberCount('ch')).toBe(1);
    for (const s of stalled) {
      const items = s.read();
      expect(items).toHaveLength(1);
      expect(items[0]?.error).toBe('subscriber disconnected: buffer full');
      expect(s.read()).toEqual([]);
      expect(s.done).toBe(true);
    }
    // The registry is still usable: subscribe, unsubscribe and cleanup all work.
    const again = r.subscribe('ch', 'e');
    r.unsubscribe('ch', again);
    expect(live.read()).toHaveLength(800);
    r.cleanupProcess('p');
    expect(live.done).toBe(true);
  });

  it('cleanup racing unsubscribe for 100 rounds leaves a clean state', async () => {
    const rand = rng(99);
    const r = createRouterWithoutRateLimit();
    for (let round = 0; round < 100; round++) {
      const pid = `p${round}`;
      r.create(chan(`ch${round}`, pid, { submitterId: 'u' }));
      const subs = [r.subscribe(`ch${round}`, 'u'), r.subscribe(`ch${round}`, 'u')];
      r.append(`ch${round}`, 'u', 1, 0, null);
      await Promise.all([
        (async () => { await yieldRandomly(rand); r.cleanupProcess(pid); })(),
        ...subs.map(async (s) => { await yieldRandomly(rand); r.unsubscribe(`ch${round}`, s); }),
      ]);
      expect(r.subscriberCount(`ch${round}`)).toBe(0);
      expect(subs.every((s) => s.closed)).toBe(true);
    }
    expect(r.stats()).toEqual({ channelCount: 0, processCount: 0 });
  });
});

type Cmd =
  | { op: 'append'; sender: 'u' | 'e'; seq: number }
  | { op: 'subscribe'; buffer: number }
  | { op: 'read'; sub: number; max: number }
  | { op: 'unsubscribe'; sub: number };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('append' as const), sender: fc.constantFrom('u' as const, 'e' as const), seq: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('subscribe' as const), buffer: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('read' as const), sub: fc.nat(7), max: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unsubscribe' as const), sub: fc.nat(7) }) },
);

describe('model check', () => {
  it('cursor subscriptions behave like bounded queues with drop-oldest-then-terminal', () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 80 }), (cmds) => {
        const r = createRouterWithoutRateLimit();
        r.create(chan('ch', 'p', { submitterId: 'u', executorId: 'e' }));
        type Model = { queue: string[]; registered: boolean; buffer: number };
        const models: Model[] = [];
        const subs: Subscription[] = [];
        let n = 0;
        for (const c of cmds) {
          if (c.op === 'append') {
            n++;
            // Tag entries uniquely through inReplyTo so the model can tell equal sequences apart.
            r.append('ch', c.sender, c.seq, n, null);
            const tag = `${c.sender}${c.seq}@${n}`;
            for (const m of models) {
              if (!m.registered) continue;
              if (m.queue.length < m.buffer) m.queue.push(tag);
              else {
                m.queue.shift();
                m.queue.push('CUT');
                m.registered = false;
              }
            }
          } else if (c.op === 'subscribe') {
            subs.push(r.subscribe('ch', 'u', { bufferSize: c.buffer }));
            models.push({ queue: [], registered: true, buffer: c.buffer });
          } else if (c.op === 'read') {
            const s = subs[c.sub];
            const m = models[c.sub];
            if (s === undefined || m === undefined) continue;
            const got = s.read(c.max).map((e) => (e.error !== '' ? 'CUT' : `${e.senderId}${e.sequence}@${e.inReplyTo}`));
            expect(got).toEqual(m.queue.splice(0, c.max));
          } else {
            const s = subs[c.sub];
            const m = models[c.sub];
            if (s === undefined || m === undefined) continue;
            r.unsubscribe('ch', s);
            m.registered = false;
          }
          expect(r.subscriberCount('ch')).toBe(models.filter((m) => m.registered).length);
        }
        for (const [i, s] of subs.entries()) {
          expect(s.pending).toBe(models[i]?.queue.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
