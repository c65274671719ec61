// The README example, run as written, plus the chat-server pattern it describes.
import { describe, expect, it } from 'vitest';
import type { MsgEntry } from '../src/index.js';
import { createRouterWithoutRateLimit, MSG_TYPE_END } from '../src/index.js';
import { text } from './helpers.js';

describe('README example', () => {
  it('replays from index 0 then delivers live entries until end', async () => {
    const router = createRouterWithoutRateLimit({ maxLogEntries: 100_000 });
    router.create({ id: 'chat-1', processId: 'chat-1', name: 'parts', submitterId: 'user-1', executorId: 'worker-1' });
    router.append('chat-1', 'worker-1', 1, 0, new TextEncoder().encode('Once'));
    const sub = router.subscribe('chat-1', 'user-1', { afterIndex: 0 });
    router.appendWithType('chat-1', 'worker-1', 2, 0, null, MSG_TYPE_END);
    const seen: MsgEntry[] = [];
    for await (const e of sub) {
      seen.push(e);
      if (e.type === MSG_TYPE_END) break;
    }
    expect(seen.map((e) => `${e.type}:${text(e.payload)}`)).toEqual(['data:Once', 'end:']);
    expect(router.subscriberCount('chat-1')).toBe(0);
    router.cleanupProcess('chat-1');
    expect(router.stats()).toEqual({ channelCount: 0, processCount: 0 });
  });
});
