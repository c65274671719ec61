// Shared reads by key: an idle key reads at once; callers arriving while a read is in flight share the next one,
// never the one already sent; keys are independent; a failure reaches exactly the callers of its read.
import { describe, expect, it } from 'vitest';
import { createCoalescedRead } from '../src/worker/coalesced-read.js';

function fakeSource() {
  const sent: Array<{ key: string; settle: (fail?: boolean) => void }> = [];
  let version = 0;
  return {
    sent,
    bump: () => version++,
    readOne(key: string): Promise<string> {
      const seen = version;
      return new Promise((resolve, reject) => sent.push({ key, settle: (fail) => (fail ? reject(new Error(`read ${key} failed`)) : resolve(`${key}@${seen}`)) }));
    },
  };
}
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('createCoalescedRead', () => {
  it('sends an idle key at once and shares the next read among the callers that came during it', async () => {
    const src = fakeSource();
    const r = createCoalescedRead((k) => src.readOne(k));
    const first = r.read('o');
    expect(src.sent.map((s) => s.key)).toEqual(['o']);
    src.bump(); // committed after the first read was sent: later callers must see it
    const later = [r.read('o'), r.read('o'), r.read('o')];
    const other = r.read('p');
    expect(src.sent.map((s) => s.key)).toEqual(['o', 'p']);
    src.sent[0]!.settle();
    expect(await first).toBe('o@0');
    await flush();
    expect(src.sent.map((s) => s.key)).toEqual(['o', 'p', 'o']);
    src.sent[2]!.settle();
    expect(await Promise.all(later)).toEqual(['o@1', 'o@1', 'o@1']);
    src.sent[1]!.settle(true);
    await expect(other).rejects.toThrow('read p failed');
    // Idle again: the next caller reads at once.
    const again = r.read('o');
    expect(src.sent).toHaveLength(4);
    src.sent[3]!.settle();
    expect(await again).toBe('o@1');
  });
});
