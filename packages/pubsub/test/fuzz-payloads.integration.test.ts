// Input hardening (issue 17) for NOTIFY payloads: whatever bytes arrive on a channel, the decoders return a
// valid payload or throw PubSubError MALFORMED_PAYLOAD, the typed handlers call back exactly once with one
// or the other and never throw, and a real LISTEN connection fed random notifications (sent with raw
// pg_notify, as any other process could) delivers each one and stays live. Fixed seed and bounded runs in
// `npm test`; FUZZ_RUNS=n (and FUZZ_SEED) run longer on demand.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PubSubError,
  createPgPubSub,
  decodeChatConfigEvent,
  decodeChatEvent,
  decodeChatStreamNotify,
  decodeInboxNotificationEvent,
  encodeChatStreamNotify,
  handleChatConfigEvent,
  handleChatEvent,
  handleChatStreamNotify,
  handleInboxNotificationEvent,
  prepareNotification,
  type PgPubSub,
} from '../src/index.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? 17);
const params = { numRuns: RUNS, seed: SEED };

/** Payload-shaped and shapeless inputs: JSON of every kind, near-miss objects, raw bytes. */
const payload = fc.oneof(
  fc.json().map((j) => Buffer.from(j)),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.string().map((s) => Buffer.from(s)),
  fc
    .record(
      {
        kind: fc.oneof(fc.constantFrom('status_change', 'created', 'deleted', 'new', 'providers', 'model_config', 'user_prompt'), fc.string()),
        after_message_id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.double()),
        chat: fc.anything(),
        status: fc.anything(),
        entity_id: fc.anything(),
        full_refresh: fc.anything(),
      },
      { requiredKeys: [] },
    )
    .map((o) => Buffer.from(JSON.stringify(o))),
);

const decoders = [decodeChatConfigEvent, decodeChatEvent, decodeChatStreamNotify, decodeInboxNotificationEvent];
const handlers = [handleChatConfigEvent, handleChatEvent, handleChatStreamNotify, handleInboxNotificationEvent] as const;

describe('fuzz: payload decoders and typed handlers', () => {
  it('every decoder returns a payload or throws PubSubError MALFORMED_PAYLOAD', () => {
    fc.assert(
      fc.property(payload, fc.constantFrom(...decoders), (bytes, decode) => {
        try {
          const out = decode(bytes);
          expect(out).toBeTypeOf('object');
        } catch (err) {
          expect(err).toBeInstanceOf(PubSubError);
          expect((err as PubSubError).code).toBe('MALFORMED_PAYLOAD');
        }
      }),
      params,
    );
  });

  it('a decoded stream notification survives encode and decode (up to omitted empty fields)', () => {
    fc.assert(
      fc.property(payload, (bytes) => {
        let msg;
        try {
          msg = decodeChatStreamNotify(bytes);
        } catch {
          return;
        }
        // Encoding omits empty fields (`full_refresh: false`), so compare canonical encodings.
        const once = encodeChatStreamNotify(msg);
        expect(encodeChatStreamNotify(decodeChatStreamNotify(once)).toString()).toBe(once.toString());
      }),
      params,
    );
  });

  it('every typed handler calls back exactly once (payload xor error) and never throws, even when the callback does', async () => {
    await fc.assert(
      fc.asyncProperty(payload, fc.constantFrom(...handlers), fc.boolean(), async (bytes, handle, callbackThrows) => {
        const calls: { payload: unknown; error: unknown }[] = [];
        const reported: unknown[] = [];
        const listener = handle(
          (p, e) => {
            calls.push({ payload: p, error: e });
            if (callbackThrows) throw new Error('callback failed');
          },
          { onCallbackError: (err) => reported.push(err) },
        );
        await listener(bytes, undefined);
        expect(calls).toHaveLength(1);
        const [c] = calls;
        expect((c!.payload === undefined) !== (c!.error === undefined)).toBe(true);
        if (c!.error !== undefined) expect((c!.error as PubSubError).code).toBe('MALFORMED_PAYLOAD');
        expect(reported).toHaveLength(callbackThrows ? 1 : 0);
      }),
      params,
    );
  });

  it('prepareNotification accepts a payload PostgreSQL would take, or throws a typed PubSubError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('chat:stream:x', 'a'.repeat(63), 'a'.repeat(64), '')), fc.oneof(fc.string({ maxLength: 9000, unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.uint8Array({ maxLength: 9000 })), (channel, body) => {
        try {
          const p = prepareNotification(channel, body);
          expect(Buffer.byteLength(p.text, 'utf8')).toBeLessThan(8000);
          expect(p.text.includes('\0')).toBe(false);
        } catch (err) {
          expect(err).toBeInstanceOf(PubSubError);
          expect(['INVALID_CHANNEL', 'MALFORMED_PAYLOAD', 'PAYLOAD_TOO_LARGE']).toContain((err as PubSubError).code);
        }
      }),
      params,
    );
  });
});

const db = useTestDatabase();
let pubsub: PgPubSub;
let raw: pg.Client;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  pubsub = await createPgPubSub({ connectionString: db.url });
  raw = new pg.Client({ connectionString: db.url });
  await raw.connect();
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await raw?.end();
  await pubsub?.close();
});

describe('fuzz: random NOTIFY payloads on a real LISTEN connection', () => {
  it('each notification reaches every typed listener once as a payload or MALFORMED_PAYLOAD; the subscription stays live', async () => {
    const channel = 'chat:stream:fuzz';
    const got: string[] = [];
    const stops = await Promise.all(
      handlers.map((handle, i) =>
        pubsub.subscribe(
          channel,
          handle((p, e) => {
            got.push(`${i}:${e ? e.code : 'ok'}`);
          }),
        ),
      ),
    );
    // Text PostgreSQL accepts as a payload: no NUL, under 8000 bytes.
    const text = fc.oneof(fc.json(), fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 100 })).filter((s) => !s.includes('\0') && Buffer.byteLength(s) < 8000);
    await fc.assert(
      fc.asyncProperty(text, async (s) => {
        const before = got.length;
        await raw.query('select pg_notify($1, $2)', [channel, s]);
        await waitFor(() => got.length >= before + handlers.length, { what: 'every listener to be called', timeoutMs: 5_000, intervalMs: 2 });
        expect(got.length).toBe(before + handlers.length);
        expect(got.slice(before).every((g) => /^\d:(ok|MALFORMED_PAYLOAD)$/.test(g))).toBe(true);
      }),
      { ...params, numRuns: Math.max(1, Math.floor(RUNS / 2)) },
    );
    // Still live: a valid notification decodes.
    const before = got.length;
    await raw.query('select pg_notify($1, $2)', [channel, encodeChatStreamNotify({ after_message_id: 41 }).toString()]);
    await waitFor(() => got.length >= before + handlers.length, { what: 'the valid notification' });
    expect(got.slice(before)).toContain('2:ok');
    for (const stop of stops) await stop();
    expect(unhandled).toEqual([]);
  });
});
