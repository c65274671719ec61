import { describe, expect, it, vi } from 'vitest';
import {
  PubSubError,
  encodeChatConfigEvent,
  encodeChatEvent,
  encodeInboxNotificationEvent,
  handleChatConfigEvent,
  handleChatEvent,
  handleChatStreamNotify,
  handleInboxNotificationEvent,
  type TypedHandler,
} from '../src/index.js';
import { CHAT, ORG, OWNER } from './helpers.js';

const T = '2026-01-02T03:04:05Z';
const chat = { id: CHAT, organization_id: ORG, owner_id: OWNER, root_chat_id: CHAT, title: 't', status: 'waiting' as const, last_error: null, created_at: T, updated_at: T, archived: false, worker_id: null };

describe('typed handlers', () => {
  it('pass the typed payload for a valid message', () => {
    const seen: unknown[] = [];
    const push: TypedHandler<unknown> = (p, e) => void seen.push(e ?? p);
    handleChatEvent(push)(encodeChatEvent({ kind: 'created', chat }), undefined);
    handleChatConfigEvent(push)(encodeChatConfigEvent({ kind: 'model_config', entity_id: ORG }), undefined);
    handleInboxNotificationEvent(push)(
      encodeInboxNotificationEvent({
        kind: 'new',
        inbox_notification: { id: CHAT, user_id: OWNER, template_id: ORG, targets: [], title: 'a', content: 'b', icon: 'c', actions: [], read_at: null, created_at: T },
      }),
      undefined,
    );
    handleChatStreamNotify(push)(Buffer.from('{"full_refresh":true}'), undefined);
    expect(seen).toEqual([
      { kind: 'created', chat },
      { kind: 'model_config', entity_id: ORG },
      expect.objectContaining({ kind: 'new' }),
      { full_refresh: true },
    ]);
  });

  it('turn malformed JSON, wrong types, unknown kinds and a missing message into MALFORMED_PAYLOAD', () => {
    const errors: PubSubError[] = [];
    const l = handleChatEvent((p, e) => {
      expect(p).toBeUndefined();
      errors.push(e!);
    });
    l(Buffer.from('{oops'), undefined);
    l(Buffer.from('{"kind":"created","chat":{"id":7}}'), undefined);
    l(Buffer.from(JSON.stringify({ kind: 'exploded', chat })), undefined);
    l(undefined, undefined);
    expect(errors.map((e) => [e instanceof PubSubError, e.code])).toEqual(Array(4).fill([true, 'MALFORMED_PAYLOAD']));
  });

  it('pass pubsub errors (e.g. MESSAGES_DROPPED) through unchanged', () => {
    const dropped = new PubSubError('MESSAGES_DROPPED', 'lost');
    const cb = vi.fn();
    handleChatStreamNotify(cb)(undefined, dropped);
    expect(cb).toHaveBeenCalledWith(undefined, dropped);
  });

  it('never throw, even when the callback throws or rejects; onCallbackError hears about it', async () => {
    const reported: unknown[] = [];
    const throwing = handleChatStreamNotify(
      () => {
        throw new Error('sync bug');
      },
      { onCallbackError: (e) => reported.push(e) },
    );
    expect(() => throwing(Buffer.from('{}'), undefined)).not.toThrow();
    expect(() => throwing(Buffer.from('nope'), undefined)).not.toThrow();
    const rejecting = handleChatStreamNotify(async () => {
      throw new Error('async bug');
    }, { onCallbackError: (e) => reported.push(e) });
    await rejecting(Buffer.from('{}'), undefined);
    const noReporter = handleChatStreamNotify(async () => {
      throw new Error('unreported');
    });
    await expect(noReporter(Buffer.from('{}'), undefined)).resolves.toBeUndefined();
    const badReporter = handleChatStreamNotify(
      () => {
        throw new Error('x');
      },
      {
        onCallbackError: () => {
          throw new Error('reporter bug');
        },
      },
    );
    expect(() => badReporter(Buffer.from('{}'), undefined)).not.toThrow();
    expect(reported.map((e) => (e as Error).message)).toEqual(['sync bug', 'sync bug', 'async bug']);
  });

  it('return the callback promise so the subscriber queue can apply backpressure', async () => {
    let done = false;
    const r = handleChatStreamNotify(async () => {
      await Promise.resolve();
      done = true;
    })(Buffer.from('{}'), undefined);
    expect(r).toBeInstanceOf(Promise);
    await r;
    expect(done).toBe(true);
  });
});
