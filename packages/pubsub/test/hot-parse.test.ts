// The hand-written parsers of the hot payloads (src/hot-parse.ts) against their zod schemas: for random valid and
// invalid values, a value the hot parser accepts is one zod accepts, with the same output; everything else goes to
// zod, so the verdict and the typed error are zod's. And the hot encoders/decoders do not run zod on the values the
// server builds (issue 36).
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { timestampSchema, type Chat } from '@chatd/protocol';
import {
  PubSubError,
  chatEventSchema,
  chatStreamNotifyMessageSchema,
  decodeChatEvent,
  decodeChatStreamNotify,
  encodeChatEvent,
  encodeChatEventForNotify,
  encodeChatStreamNotify,
  type ChatEvent,
  type ChatStreamNotifyMessage,
} from '../src/index.js';
import { hotParseChatEvent, hotParseChatStreamNotify } from '../src/hot-parse.js';
import { CHAT, ORG, OWNER } from './helpers.js';

/** JSON's view of a value: undefined-valued keys gone (what both decoders promise and the encoders ignore). */
const plain = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

const T = '2026-01-02T03:04:05.123456789Z';
const UUIDS = [CHAT, ORG, OWNER, CHAT.toUpperCase()];

// Each field draws from valid values and near misses; `undefined` means the key is left out.
const junk = fc.constantFrom<unknown>(undefined, null, '', 0, -1, 1.5, 2 ** 53, Number.NaN, 'x', true, false, {}, [], ['a'], 'Z');
const uuidOk = fc.oneof(fc.constantFrom(...UUIDS), fc.uuid());
const uuidArb = fc.oneof({ weight: 6, arbitrary: uuidOk }, { weight: 1, arbitrary: fc.constantFrom('not-a-uuid', `${CHAT}x`, CHAT.slice(1)) });
const tsArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(T, '2026-01-02T03:04:06+02:00', '2026-01-02T03:04:05Z') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('2026-01-02 03:04:05Z', '2026-01-02T03:04:05.1234567890Z', '2026-01-02T03:04:05+0200', '2026-01-02T03:04:05z'),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 10 }), fc.constantFrom('Z', '+01:00', '-23:59', '', 'z', '+1:00'), fc.constantFrom('T', 't', ' '))
      .map(([digits, zone, sep]) => `2026-12-05${sep}13:40:00${digits ? `.${'7'.repeat(digits)}` : ''}${zone}`),
  },
);
const statusArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom<unknown>('waiting', 'pending', 'running', 'paused', 'completed', 'error', 'requires_action', 'interrupting') },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('exploded', 'RUNNING') },
);
const intArb = fc.oneof({ weight: 8, arbitrary: fc.integer() }, { weight: 1, arbitrary: fc.constantFrom(0, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1.5, Number.POSITIVE_INFINITY) });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof({ weight: 20, arbitrary: a }, { weight: 1, arbitrary: junk });
const strArb = fc.string({ maxLength: 8 });

const streamErrorArb = fc.record(
  { message: maybe(strArb), detail: maybe(strArb), kind: maybe(strArb), provider: maybe(strArb), retryable: maybe(fc.boolean()), status_code: maybe(intArb), extra: junk },
  { requiredKeys: ['message'] },
);
const retryArb = fc.record(
  { attempt: maybe(intArb), delay_ms: maybe(intArb), error: maybe(strArb), retrying_at: maybe(tsArb), kind: maybe(strArb), provider: maybe(strArb), status_code: maybe(intArb) },
  { requiredKeys: ['attempt', 'delay_ms', 'error', 'retrying_at'] },
);
const diffArb = fc.record(
  {
    chat_id: maybe(uuidArb),
    url: maybe(strArb),
    pull_request_state: maybe(strArb),
    changes_requested: maybe(fc.boolean()),
    additions: maybe(intArb),
    deletions: maybe(intArb),
    changed_files: maybe(intArb),
    refreshed_at: maybe(tsArb),
    stale_at: maybe(tsArb),
  },
  { requiredKeys: ['chat_id', 'changes_requested', 'additions', 'deletions', 'changed_files'] },
);
const labelsArb = fc.oneof(
  { weight: 8, arbitrary: fc.dictionary(strArb, strArb, { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(strArb, junk, { maxKeys: 2 }) },
  { weight: 1, arbitrary: fc.constant(JSON.parse('{"__proto__":"x"}') as unknown) },
);
const chatArb = fc.record(
  {
    id: maybe(uuidArb),
    organization_id: maybe(uuidArb),
    owner_id: maybe(uuidArb),
    workspace_id: maybe(uuidArb),
    parent_chat_id: maybe(uuidArb),
    root_chat_id: maybe(uuidArb),
    last_model_config_id: maybe(uuidArb),
    title: maybe(strArb),
    status: maybe(statusArb),
    last_error: maybe(fc.oneof(streamErrorArb, strArb)),
    created_at: maybe(tsArb),
    updated_at: maybe(tsArb),
    archived: maybe(fc.boolean()),
    diff_status: maybe(diffArb),
    worker_id: maybe(strArb),
    labels: maybe(labelsArb),
    client_type: maybe(strArb),
    queued_for_capacity: maybe(fc.boolean()),
    unknown_field: junk,
  },
  { requiredKeys: ['id', 'organization_id', 'owner_id', 'root_chat_id', 'title', 'status', 'created_at', 'updated_at', 'archived'] },
);
const eventArb = fc.record(
  {
    kind: fc.oneof({ weight: 8, arbitrary: fc.constantFrom<unknown>('status_change', 'title_change', 'created', 'deleted', 'diff_status_change') }, { weight: 1, arbitrary: fc.constantFrom<unknown>('renamed', null, 1) }),
    chat: fc.oneof({ weight: 12, arbitrary: chatArb }, { weight: 1, arbitrary: junk }),
    truncated: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: junk }),
  },
  { requiredKeys: ['kind', 'chat'] },
);
const notifyArb = fc.record(
  {
    after_message_id: maybe(intArb),
    status: maybe(statusArb),
    worker_id: maybe(strArb),
    retry: maybe(retryArb),
    error_payload: maybe(streamErrorArb),
    error: maybe(strArb),
    queue_update: maybe(fc.boolean()),
    full_refresh: maybe(fc.boolean()),
    traceparent: maybe(fc.oneof(strArb, fc.constant('0'.repeat(55)), fc.constant('0'.repeat(56)))),
    run_id: maybe(uuidArb),
    other: junk,
  },
  { requiredKeys: [] },
);

/** Checks one value: the hot parse, when it answers, is zod's success with the same output. */
function agrees(hot: (v: unknown) => unknown, schema: { safeParse(v: unknown): { success: boolean; data?: unknown } }, value: unknown): 'hot' | 'zod-ok' | 'zod-error' {
  const z = schema.safeParse(value);
  const h = hot(value);
  if (h !== undefined) {
    expect(z.success).toBe(true);
    expect(plain(h)).toEqual(plain(z.data));
    return 'hot';
  }
  return z.success ? 'zod-ok' : 'zod-error';
}

describe('hot parsers against their zod schemas (property)', () => {
  it('ChatEvent: same verdict and output for random valid and invalid events, as values and as parsed JSON', () => {
    const seen = { hot: 0, 'zod-ok': 0, 'zod-error': 0 };
    fc.assert(
      fc.property(eventArb, (e) => {
        seen[agrees(hotParseChatEvent, chatEventSchema, e)] += 1;
        agrees(hotParseChatEvent, chatEventSchema, plain(e));
      }),
      { numRuns: 1000 },
    );
    // Both sides of the verdict were exercised, and the hot path did the accepting.
    expect(seen.hot).toBeGreaterThan(30);
    expect(seen['zod-error']).toBeGreaterThan(30);
  });

  it('ChatStreamNotifyMessage: same verdict and output for random valid and invalid messages', () => {
    const seen = { hot: 0, 'zod-ok': 0, 'zod-error': 0 };
    fc.assert(
      fc.property(notifyArb, (m) => {
        seen[agrees(hotParseChatStreamNotify, chatStreamNotifyMessageSchema, m)] += 1;
        agrees(hotParseChatStreamNotify, chatStreamNotifyMessageSchema, plain(m));
      }),
      { numRuns: 1000 },
    );
    expect(seen.hot).toBeGreaterThan(30);
    expect(seen['zod-error']).toBeGreaterThan(30);
  });

  it('timestamps: the hot pattern is timestampSchema', () => {
    fc.assert(
      fc.property(fc.oneof(tsArb, fc.string()), (s) => {
        const chat = { id: CHAT, owner_id: OWNER, status: 'running', title: '', updated_at: s };
        const h = hotParseChatEvent({ kind: 'created', chat, truncated: true });
        expect(h !== undefined).toBe(timestampSchema.safeParse(s).success);
      }),
      { numRuns: 200 },
    );
  });

  it('every well-formed chat the server builds takes the hot path', () => {
    const wellFormed = fc.record({
      id: uuidOk,
      organization_id: fc.uuid(),
      owner_id: fc.uuid(),
      workspace_id: fc.option(fc.uuid(), { nil: null }),
      root_chat_id: fc.uuid(),
      last_model_config_id: fc.option(fc.uuid(), { nil: null }),
      title: fc.string(),
      status: fc.constantFrom('waiting', 'pending', 'running', 'error'),
      last_error: fc.option(fc.record({ message: fc.string(), kind: fc.string() }), { nil: null }),
      created_at: fc.constant(T),
      updated_at: fc.constant(T),
      archived: fc.boolean(),
      worker_id: fc.option(fc.string(), { nil: null }),
      labels: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }).filter((l) => !Object.keys(l).includes('__proto__')),
    });
    fc.assert(
      fc.property(wellFormed, fc.constantFrom('created', 'status_change'), (chat, kind) => {
        expect(agrees(hotParseChatEvent, chatEventSchema, { kind, chat })).toBe('hot');
      }),
      { numRuns: 500 },
    );
  });
});

describe('the hot encoders and decoders skip zod (issue 36)', () => {
  afterEach(() => vi.restoreAllMocks());

  const chat: Chat = {
    id: CHAT,
    organization_id: ORG,
    owner_id: OWNER,
    root_chat_id: CHAT,
    last_model_config_id: null,
    title: 'Hello there',
    status: 'pending',
    last_error: null,
    created_at: T,
    updated_at: T,
    archived: false,
    worker_id: null,
    labels: { team: 'a' },
  };

  it('encoding and decoding the events a create publishes never calls the zod schemas', () => {
    const eventParse = vi.spyOn(chatEventSchema, 'safeParse');
    const notifyParse = vi.spyOn(chatStreamNotifyMessageSchema, 'safeParse');
    for (let i = 0; i < 100; i++) {
      for (const kind of ['status_change', 'created'] as const) {
        const bytes = encodeChatEventForNotify({ kind, chat });
        expect(decodeChatEvent(bytes)).toEqual({ kind, chat });
      }
      for (const m of [{ after_message_id: i + 1 }, { status: 'running', worker_id: 'w', run_id: CHAT, traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` }] as ChatStreamNotifyMessage[]) {
        expect(decodeChatStreamNotify(encodeChatStreamNotify(m))).toEqual(m);
      }
    }
    expect(eventParse).not.toHaveBeenCalled();
    expect(notifyParse).not.toHaveBeenCalled();
  });

  it('a malformed value still gets zod\'s typed error, from zod', () => {
    const eventParse = vi.spyOn(chatEventSchema, 'safeParse');
    const notifyParse = vi.spyOn(chatStreamNotifyMessageSchema, 'safeParse');
    const cases: [() => unknown, RegExp][] = [
      [() => encodeChatEvent({ kind: 'created', chat: { ...chat, status: 'exploded' } } as unknown as ChatEvent), /invalid ChatEvent: chat\.status/],
      [() => decodeChatEvent(JSON.stringify({ kind: 'created', chat: { ...chat, id: 'nope' } })), /invalid ChatEvent: chat\.id/],
      [() => encodeChatStreamNotify({ after_message_id: 1.5 }), /invalid ChatStreamNotifyMessage: after_message_id/],
      [() => decodeChatStreamNotify('{"queue_update":"yes"}'), /invalid ChatStreamNotifyMessage: queue_update/],
    ];
    for (const [fn, message] of cases) {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PubSubError);
      expect((err as PubSubError).code).toBe('MALFORMED_PAYLOAD');
      expect((err as PubSubError).message).toMatch(message);
    }
    expect(eventParse).toHaveBeenCalledTimes(2);
    expect(notifyParse).toHaveBeenCalledTimes(2);
  });
});
