import { describe, expect, it } from 'vitest';
import { eventJson, hasEventJson, withEventJson, type ChatStreamEvent } from '../src/index.js';

const CHAT = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';

describe('withEventJson / eventJson', () => {
  it('hands back the recorded text, and encodes an event without one', () => {
    const a: ChatStreamEvent = { type: 'history_reset', chat_id: CHAT };
    const b: ChatStreamEvent = { type: 'history_reset', chat_id: CHAT };
    const text = `{"type":"history_reset", "chat_id":"${CHAT}"}`;
    expect(withEventJson(a, text)).toBe(a);
    expect(hasEventJson(a)).toBe(true);
    expect(eventJson(a)).toBe(text);
    expect(hasEventJson(b)).toBe(false);
    expect(eventJson(b)).toBe(JSON.stringify(b));
  });
});
