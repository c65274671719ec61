// The O(1) ordering rule checked against a literal simulation of the original: push, then re-sort the
// whole log with Go's insertion sort (what sort.Slice does up to 12 elements) and its comparator
// (same sender: by sequence; different senders: by timestamp).
import { createMockClock } from '@chatd/clock';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MsgEntry } from '../src/index.js';
import { createRouterWithoutRateLimit } from '../src/index.js';
import { chan } from './helpers.js';

function goLess(a: MsgEntry, b: MsgEntry): boolean {
  return a.senderId === b.senderId ? a.sequence < b.sequence : a.timestampMs < b.timestampMs;
}

function goInsertionSort(log: MsgEntry[]): void {
  for (let i = 1; i < log.length; i++) {
    for (let j = i; j > 0 && goLess(log[j] as MsgEntry, log[j - 1] as MsgEntry); j--) {
      const t = log[j] as MsgEntry;
      log[j] = log[j - 1] as MsgEntry;
      log[j - 1] = t;
    }
  }
}

describe('ordering rule', () => {
  it('matches the original exactly for every log of up to 12 entries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ sender: fc.constantFrom('u', 'e', 'x'), seq: fc.integer({ min: -2, max: 6 }) }), { maxLength: 12 }),
        async (appends) => {
          const clock = createMockClock();
          const r = createRouterWithoutRateLimit({ clock });
          r.create(chan('ch', 'p', { submitterId: 'u', executorId: 'e' }));
          const model: MsgEntry[] = [];
          for (const [i, a] of appends.entries()) {
            // Three parties: swap the executor in so 'x' can append too (authorisation is per call).
            if (a.sender === 'x') r.setExecutorId('ch', 'x');
            else if (a.sender === 'e') r.setExecutorId('ch', 'e');
            r.append('ch', a.sender, a.seq, i, null);
            await clock.advance(1);
            const stored = r.get('ch').log.find((e) => e.inReplyTo === i) as MsgEntry;
            model.push(stored);
            goInsertionSort(model);
            expect(r.get('ch').log.map((e) => e.inReplyTo)).toEqual(model.map((e) => e.inReplyTo));
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
