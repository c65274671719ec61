import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { NIL_UUID, chatSchema, type Chat, type ChatStatus, type ChatStreamError, type ChatStreamRetry, type InboxNotification } from '@chatd/protocol';
import {
  PubSubError,
  decodeChatConfigEvent,
  decodeChatEvent,
  decodeChatStreamNotify,
  decodeInboxNotificationEvent,
  encodeChatConfigEvent,
  encodeChatEvent,
  encodeChatEventForNotify,
  encodeChatStreamNotify,
  encodeInboxNotificationEvent,
  type ChatConfigEvent,
  type ChatEvent,
  type ChatStreamNotifyMessage,
  NOTIFY_PAYLOAD_LIMIT_BYTES,
  truncateChatEvent,
} from '../src/index.js';
import { CHAT, ORG, OWNER } from './helpers.js';

const T = '2026-01-02T03:04:05.123456789Z';

const chat: Chat = {
  id: CHAT,
  organization_id: ORG,
  owner_id: OWNER,
  root_chat_id: CHAT,
  title: 'Hello there',
  status: 'running',
  last_error: null,
  created_at: T,
  updated_at: '2026-01-02T03:04:06+02:00',
  archived: false,
  worker_id: 'replica-1',
};

function malformed(fn: () => unknown): PubSubError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PubSubError);
  expect((err as PubSubError).code).toBe('MALFORMED_PAYLOAD');
  return err as PubSubError;
}

describe('ChatStreamNotifyMessage', () => {
  it('encodes like Go: struct field order, every empty field omitted', () => {
    expect(encodeChatStreamNotify({}).toString()).toBe('{}');
    expect(encodeChatStreamNotify({ after_message_id: 41 }).toString()).toBe('{"after_message_id":41}');
    expect(encodeChatStreamNotify({ after_message_id: 0, status: undefined, error: '', queue_update: false, full_refresh: false, worker_id: '' }).toString()).toBe('{}');
    const all: ChatStreamNotifyMessage = {
      full_refresh: true,
      queue_update: true,
      error: 'legacy',
      error_payload: { message: 'boom', detail: '', kind: 'overloaded', retryable: false, status_code: 529 },
      retry: { status_code: 0, provider: 'openai', retrying_at: T, error: 'rate limited', delay_ms: 2000, attempt: 2, kind: '' },
      worker_id: 'w-1',
      status: 'error',
      after_message_id: 9_007_199_254_740_991,
    };
    expect(encodeChatStreamNotify(all).toString()).toBe(
      '{"after_message_id":9007199254740991,"status":"error","worker_id":"w-1",' +
        `"retry":{"attempt":2,"delay_ms":2000,"error":"rate limited","retrying_at":"${T}","provider":"openai"},` +
        '"error_payload":{"message":"boom","kind":"overloaded","status_code":529},"error":"legacy","queue_update":true,"full_refresh":true}',
    );
  });

  it('decodes what Go writes, including null and unknown fields', () => {
    expect(decodeChatStreamNotify(Buffer.from('{}'))).toEqual({});
    expect(decodeChatStreamNotify('{"after_message_id":7,"status":"pending","worker_id":"abc","some_future_field":1}')).toStrictEqual({ after_message_id: 7, status: 'pending', worker_id: 'abc' });
    expect(decodeChatStreamNotify('{"retry":null,"error_payload":null,"status":""}')).toStrictEqual({});
  });

  it("carries a running status's traceparent; a bad one is dropped, never the status (issue 34)", () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(decodeChatStreamNotify(encodeChatStreamNotify({ status: 'running', worker_id: 'w', traceparent: tp }))).toStrictEqual({ status: 'running', worker_id: 'w', traceparent: tp });
    for (const bad of [7, 'x'.repeat(56), { a: 1 }]) {
      expect(decodeChatStreamNotify(JSON.stringify({ status: 'running', worker_id: 'w', traceparent: bad }))).toStrictEqual({ status: 'running', worker_id: 'w' });
    }
  });

  it("carries the run a running status started; a run id that is no UUID is dropped, never the status (issue 36)", () => {
    const runId = '0b6f2a4e-8c1d-4e5f-9a7b-3c2d1e0f4a5b';
    expect(decodeChatStreamNotify(encodeChatStreamNotify({ status: 'running', worker_id: 'w', run_id: runId }))).toStrictEqual({ status: 'running', worker_id: 'w', run_id: runId });
    for (const bad of [7, 'not-a-uuid', { a: 1 }]) {
      expect(decodeChatStreamNotify(JSON.stringify({ status: 'running', worker_id: 'w', run_id: bad }))).toStrictEqual({ status: 'running', worker_id: 'w' });
    }
  });

  it('rejects wrong types, unknown statuses, fractional or unsafe ids, and non-objects', () => {
    for (const bad of [
      '',
      '{',
      'null',
      '[]',
      '"x"',
      '{"after_message_id":"41"}',
      '{"after_message_id":1.5}',
      '{"after_message_id":9007199254740993}',
      '{"status":"exploded"}',
      '{"queue_update":"yes"}',
      '{"retry":{"attempt":1}}',
      '{"retry":{"attempt":1,"delay_ms":1,"error":"e","retrying_at":"yesterday"}}',
      '{"error_payload":{"detail":"no message"}}',
    ]) {
      malformed(() => decodeChatStreamNotify(bad));
    }
    malformed(() => encodeChatStreamNotify({ status: 'exploded' as ChatStatus }));
    malformed(() => encodeChatStreamNotify({ after_message_id: 1.5 }));
  });

  it('round-trips: decode(encode(m)) is m without its empty fields, and re-encoding is byte-identical', () => {
    const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const retry: fc.Arbitrary<ChatStreamRetry> = fc.record({
      attempt: fc.integer({ min: 1, max: 100 }),
      delay_ms: fc.integer({ min: 0, max: 60_000 }),
      error: fc.string(),
      retrying_at: fc.constant(T),
      kind: opt(fc.string()),
      provider: opt(fc.string()),
      status_code: opt(fc.integer({ min: 0, max: 599 })),
    });
    const err: fc.Arbitrary<ChatStreamError> = fc.record({
      message: fc.string(),
      detail: opt(fc.string()),
      kind: opt(fc.string()),
      provider: opt(fc.string()),
      retryable: opt(fc.boolean()),
      status_code: opt(fc.integer({ min: 0, max: 599 })),
    });
    const msg: fc.Arbitrary<ChatStreamNotifyMessage> = fc.record({
      after_message_id: opt(fc.maxSafeNat()),
      status: opt(fc.constantFrom<ChatStatus>('waiting', 'pending', 'running', 'error')),
      worker_id: opt(fc.string()),
      retry: opt(retry),
      error_payload: opt(err),
      error: opt(fc.string()),
      queue_update: opt(fc.boolean()),
      full_refresh: opt(fc.boolean()),
    });
    const empty = (v: unknown) => v === undefined || v === 0 || v === '' || v === false;
    const strip = (o: object): object => Object.fromEntries(Object.entries(o).filter(([, v]) => !empty(v)).map(([k, v]) => [k, v && typeof v === 'object' ? strip(v as object) : v]));
    fc.assert(
      fc.property(msg, (m) => {
        const bytes = encodeChatStreamNotify(m);
        const back = decodeChatStreamNotify(bytes);
        // Required fields of nested objects stay even when empty.
        const expected = strip(m) as ChatStreamNotifyMessage;
        if (m.retry) {
          const { attempt, delay_ms, error, retrying_at } = m.retry;
          expected.retry = { attempt, delay_ms, error, retrying_at, ...strip(m.retry) } as ChatStreamRetry;
        }
        if (m.error_payload) expected.error_payload = { message: m.error_payload.message, ...strip(m.error_payload) };
        expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(expected)));
        expect(encodeChatStreamNotify(back).equals(bytes)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ChatConfigEvent', () => {
  it('encodes kind and entity_id (never omitted; nil UUID for providers)', () => {
    expect(encodeChatConfigEvent({ kind: 'providers', entity_id: NIL_UUID }).toString()).toBe(`{"kind":"providers","entity_id":"${NIL_UUID}"}`);
    expect(encodeChatConfigEvent({ entity_id: OWNER.toUpperCase(), kind: 'user_prompt' }).toString()).toBe(`{"kind":"user_prompt","entity_id":"${OWNER}"}`);
  });

  it('decodes every kind; a missing entity_id is the nil UUID, as Go reads it', () => {
    for (const kind of ['providers', 'model_config', 'user_prompt'] as const) {
      expect(decodeChatConfigEvent(`{"kind":"${kind}","entity_id":"${OWNER}"}`)).toEqual({ kind, entity_id: OWNER });
    }
    expect(decodeChatConfigEvent('{"kind":"providers"}')).toEqual({ kind: 'providers', entity_id: NIL_UUID });
  });

  it('rejects unknown kinds and bad UUIDs', () => {
    malformed(() => decodeChatConfigEvent('{"kind":"tools","entity_id":"00000000-0000-0000-0000-000000000000"}'));
    malformed(() => decodeChatConfigEvent('{"kind":"providers","entity_id":"nope"}'));
    malformed(() => decodeChatConfigEvent('{"entity_id":"00000000-0000-0000-0000-000000000000"}'));
    malformed(() => encodeChatConfigEvent({ kind: 'nope' as ChatConfigEvent['kind'], entity_id: NIL_UUID }));
  });
});

describe('ChatEvent', () => {
  it('encodes the chat in field order, leaving out null pointers Go omits', () => {
    const event: ChatEvent = { kind: 'status_change', chat: { ...chat, workspace_id: null, parent_chat_id: undefined } };
    expect(encodeChatEvent(event).toString()).toBe(
      `{"kind":"status_change","chat":{"id":"${CHAT}","organization_id":"${ORG}","owner_id":"${OWNER}","root_chat_id":"${CHAT}",` +
        `"title":"Hello there","status":"running","last_error":null,"created_at":"${T}","updated_at":"2026-01-02T03:04:06+02:00","archived":false,"worker_id":"replica-1"}}`,
    );
  });

  it('round-trips a full chat with diff status and a structured last_error', () => {
    const full: Chat = {
      ...chat,
      workspace_id: OWNER,
      parent_chat_id: CHAT,
      last_model_config_id: ORG,
      status: 'error',
      last_error: { message: 'provider down', kind: 'overloaded', retryable: true, status_code: 503 },
      diff_status: { chat_id: CHAT, url: 'https://example.test/pr/1', changes_requested: true, additions: 3, deletions: 1, changed_files: 2, refreshed_at: T },
      labels: { team: 'a' },
      client_type: 'api',
    };
    for (const kind of ['status_change', 'title_change', 'created', 'deleted', 'diff_status_change'] as const) {
      const bytes = encodeChatEvent({ kind, chat: full });
      expect(decodeChatEvent(bytes)).toStrictEqual({ kind, chat: full });
    }
  });

  it('decodes a chat from an original replica: no worker_id, last_error absent or a plain string, extra fields', () => {
    const { worker_id: _w, last_error: _e, ...original } = chat;
    const decoded = decodeChatEvent(JSON.stringify({ kind: 'created', chat: { ...original, owner_username: 'ann', children: [], has_unread: false } }));
    expect(decoded.chat).toStrictEqual({ ...original, worker_id: null, last_error: null });
    const oldStyle = decodeChatEvent(JSON.stringify({ kind: 'created', chat: { ...chat, last_error: 'old style' } }));
    expect(oldStyle.truncated ? undefined : oldStyle.chat.last_error).toEqual({ message: 'old style' });
  });

  it('rejects unknown kinds, missing chats, bad ids, bad statuses, bad timestamps', () => {
    malformed(() => decodeChatEvent(JSON.stringify({ kind: 'renamed', chat })));
    malformed(() => decodeChatEvent(JSON.stringify({ kind: 'created' })));
    malformed(() => decodeChatEvent(JSON.stringify({ kind: 'created', chat: { ...chat, id: 'chat-1' } })));
    malformed(() => decodeChatEvent(JSON.stringify({ kind: 'created', chat: { ...chat, status: 'sleeping' } })));
    malformed(() => decodeChatEvent(JSON.stringify({ kind: 'created', chat: { ...chat, created_at: 'Tuesday' } })));
    malformed(() => decodeChatEvent(JSON.stringify({ kind: 'created', chat: { ...chat, archived: 'no' } })));
  });

  it('keeps the plain types other packages were written against', () => {
    expectTypeOf<Chat['status']>().toEqualTypeOf<ChatStatus>();
    expectTypeOf<Chat['last_error']>().toEqualTypeOf<ChatStreamError | null>();
    expectTypeOf<Chat['worker_id']>().toEqualTypeOf<string | null>();
    expectTypeOf<Chat['workspace_id']>().toEqualTypeOf<string | null | undefined>();
    expectTypeOf<ChatStatus>().toEqualTypeOf<'waiting' | 'pending' | 'running' | 'paused' | 'completed' | 'error' | 'requires_action' | 'interrupting'>();
    expectTypeOf<InboxNotification['actions']>().toEqualTypeOf<{ label: string; url: string }[]>();
    expectTypeOf<InboxNotification['read_at']>().toEqualTypeOf<string | null>();
    expect(chatSchema.parse(chat)).toStrictEqual(chat);
  });
});

describe('ChatEvent over the NOTIFY limit (contract.md#oversized-events)', () => {
  const huge: Chat = { ...chat, status: 'error', last_error: { message: 'provider down', detail: 'x'.repeat(9000) } };

  it('encodeChatEventForNotify sends a small event whole and an oversized one truncated, never dropped', () => {
    expect(encodeChatEventForNotify({ kind: 'status_change', chat }).toString()).toBe(encodeChatEvent({ kind: 'status_change', chat }).toString());
    expect(encodeChatEvent({ kind: 'status_change', chat: huge }).byteLength).toBeGreaterThan(NOTIFY_PAYLOAD_LIMIT_BYTES);
    for (const kind of ['status_change', 'title_change', 'created', 'deleted', 'diff_status_change'] as const) {
      const bytes = encodeChatEventForNotify({ kind, chat: huge });
      expect(bytes.byteLength).toBeLessThan(NOTIFY_PAYLOAD_LIMIT_BYTES);
      expect(bytes.toString()).toBe(
        `{"kind":"${kind}","chat":{"id":"${CHAT}","owner_id":"${OWNER}","status":"error","title":"Hello there","updated_at":"2026-01-02T03:04:06+02:00"},"truncated":true}`,
      );
      expect(decodeChatEvent(bytes)).toStrictEqual({ kind, chat: { id: CHAT, owner_id: OWNER, status: 'error', title: 'Hello there', updated_at: '2026-01-02T03:04:06+02:00' }, truncated: true });
    }
  });

  it('truncates at the limit exactly: a payload of 8000 bytes or more is one NOTIFY refuses', () => {
    const base = encodeChatEvent({ kind: 'title_change', chat }).byteLength;
    const sized = (n: number): Chat => ({ ...chat, labels: { k: 'v'.repeat(n - base - '"labels":{"k":""},'.length) } });
    expect(encodeChatEvent({ kind: 'title_change', chat: sized(NOTIFY_PAYLOAD_LIMIT_BYTES - 1) }).byteLength).toBe(NOTIFY_PAYLOAD_LIMIT_BYTES - 1);
    expect(decodeChatEvent(encodeChatEventForNotify({ kind: 'title_change', chat: sized(NOTIFY_PAYLOAD_LIMIT_BYTES - 1) })).truncated).toBeUndefined();
    expect(decodeChatEvent(encodeChatEventForNotify({ kind: 'title_change', chat: sized(NOTIFY_PAYLOAD_LIMIT_BYTES) })).truncated).toBe(true);
  });

  it('decodes a truncated event from its reduced chat (extra chat fields dropped); rejects a reduced chat without the flag', () => {
    const reduced = truncateChatEvent({ kind: 'deleted', chat: huge });
    expect(decodeChatEvent(JSON.stringify({ ...reduced, chat: { ...reduced.chat, archived: true } }))).toStrictEqual(reduced);
    malformed(() => decodeChatEvent(JSON.stringify({ kind: 'deleted', chat: reduced.chat })));
    malformed(() => decodeChatEvent(JSON.stringify({ ...reduced, truncated: 'yes' })));
    malformed(() => decodeChatEvent(JSON.stringify({ ...reduced, chat: { ...reduced.chat, owner_id: 'nobody' } })));
    expect(decodeChatEvent(JSON.stringify({ kind: 'created', chat, truncated: false }))).toStrictEqual({ kind: 'created', chat, truncated: false });
  });
});

describe('InboxNotificationEvent', () => {
  const n: InboxNotification = {
    id: CHAT,
    user_id: OWNER,
    template_id: ORG,
    targets: [CHAT],
    title: 'Chat finished',
    content: 'Your chat finished.',
    icon: 'chat',
    actions: [{ label: 'Open', url: `/chats/${CHAT}` }],
    read_at: null,
    created_at: T,
  };

  it('encodes in field order and round-trips', () => {
    const bytes = encodeInboxNotificationEvent({ kind: 'new', inbox_notification: n });
    expect(bytes.toString()).toBe(
      `{"kind":"new","inbox_notification":{"id":"${CHAT}","user_id":"${OWNER}","template_id":"${ORG}","targets":["${CHAT}"],` +
        `"title":"Chat finished","content":"Your chat finished.","icon":"chat","actions":[{"label":"Open","url":"/chats/${CHAT}"}],"read_at":null,"created_at":"${T}"}}`,
    );
    expect(decodeInboxNotificationEvent(bytes)).toStrictEqual({ kind: 'new', inbox_notification: n });
  });

  it("reads Go's null slices as empty", () => {
    const json = JSON.stringify({ kind: 'new', inbox_notification: { ...n, targets: null, actions: null } });
    expect(decodeInboxNotificationEvent(json).inbox_notification).toMatchObject({ targets: [], actions: [] });
  });

  it('rejects unknown kinds and wrong shapes', () => {
    malformed(() => decodeInboxNotificationEvent(JSON.stringify({ kind: 'old', inbox_notification: n })));
    malformed(() => decodeInboxNotificationEvent(JSON.stringify({ kind: 'new', inbox_notification: { ...n, targets: ['x'] } })));
    malformed(() => decodeInboxNotificationEvent(JSON.stringify({ kind: 'new', inbox_notification: { ...n, actions: [{ label: 1 }] } })));
  });
});
