// The worker's batched run-state reads: requests of one moment share a statement, a request made while a read is in
// flight waits for the next one (never answered by a read sent before it), batches are capped, failures reach
// every request of their batch.
import { describe, expect, it } from 'vitest';
import type { ChatRunState } from '../src/store/chat-store.js';
import { createRunStateReader } from '../src/worker/run-state-reader.js';

function fakeStore() {
  const calls: string[][] = [];
  const gates: Array<() => void> = [];
  let version = 0;
  let fail = false;
  return {
    calls,
    gates,
    bump: () => version++,
    failNext: () => (fail = true),
    async getChatRunStates(ids: readonly string[]): Promise<Map<string, ChatRunState>> {
      calls.push([...ids]);
      const seen = version;
      if (fail) {
        fail = false;
        throw new Error('database down');
      }
      await new Promise<void>((r) => gates.push(r));
      return new Map(ids.filter((id) => id !== 'gone').map((id) => [id, { status: 'running', workerId: `v${seen}`, runId: id }]));
    },
  };
}
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('createRunStateReader', () => {
  it('reads the requests of one moment in one statement, and later ones only in a later read', async () => {
    const store = fakeStore();
    const reader = createRunStateReader(store);
    const a = reader.read('a');
    const b = reader.read('b');
    const gone = reader.read('gone');
    const a2 = reader.read('a');
    await tick();
    expect(store.calls).toEqual([['a', 'b', 'gone']]);
    // Made while the first read is in flight: it must see a state at least as new as the moment it was made.
    store.bump();
    const late = reader.read('a');
    store.gates.shift()!();
    expect((await a)?.workerId).toBe('v0');
    expect((await a2)?.workerId).toBe('v0');
    expect((await b)?.runId).toBe('b');
    expect(await gone).toBeUndefined();
    await tick();
    expect(store.calls).toEqual([['a', 'b', 'gone'], ['a']]);
    store.gates.shift()!();
    expect((await late)?.workerId).toBe('v1');
  });

  it('caps a statement at maxBatch chats and rejects the requests of a failed read only', async () => {
    const store = fakeStore();
    const reader = createRunStateReader(store, 2);
    store.failNext();
    const [x, y, z] = ['x', 'y', 'z'].map((id) => reader.read(id));
    await expect(x).rejects.toThrow('database down');
    await expect(y).rejects.toThrow('database down');
    await tick();
    expect(store.calls).toEqual([['x', 'y'], ['z']]);
    store.gates.shift()!();
    expect((await z)?.runId).toBe('z');
  });
});
