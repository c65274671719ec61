import { describe, expect, it } from 'vitest';
import { createMemoryPubSub } from '../src/index.js';
import { recorder } from './helpers.js';
import { pubsubContract } from './pubsub-contract.js';

pubsubContract('createMemoryPubSub', async ({ queueSize }) => createMemoryPubSub({ queueSize }));

describe('createMemoryPubSub', () => {
  it('delivers asynchronously, never inside publish', async () => {
    const ps = createMemoryPubSub();
    const r = recorder();
    await ps.subscribe('c', r.listener);
    const p = ps.publish('c', 'x');
    expect(r.messages).toEqual([]);
    await p;
    await r.waitForMessages(1);
    await ps.close();
  });

  it('simulateConnectionLoss tells every live listener MESSAGES_DROPPED once', async () => {
    const ps = createMemoryPubSub();
    const a = recorder();
    const b = recorder();
    await ps.subscribe('a', a.listener);
    await ps.subscribe('b', b.listener);
    ps.simulateConnectionLoss('a');
    await a.waitForError('MESSAGES_DROPPED');
    ps.simulateConnectionLoss();
    await b.waitForError('MESSAGES_DROPPED');
    await ps.publish('a', 'after');
    await a.waitForMessage('after');
    expect(a.events).toEqual(['!MESSAGES_DROPPED', '!MESSAGES_DROPPED', 'after']);
    expect(b.events).toEqual(['!MESSAGES_DROPPED']);
    await ps.close();
  });

  it('rejects a bad queue size', () => {
    expect(() => createMemoryPubSub({ queueSize: 0 })).toThrow(RangeError);
  });
});
