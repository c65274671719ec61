// Input hardening (issue 17) for relay frames, what a peer replica (or anything answering on its address)
// sends down a relay socket: `decodeRelayFrame` never throws and keeps exactly the well-formed
// `message_part`s in order, and the real WebSocket dialer fed random text and binary frames by a peer
// yields only those parts and ends when the peer closes, with no unhandled rejection. Fixed seed and bounded
// runs in `npm test`; FUZZ_RUNS=n (and FUZZ_SEED) run longer on demand.
import type { ChatStreamEvent } from '@chatd/protocol';
import { startWsServer, type TestWsServer } from '@chatd/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { createWsRelayDialer, decodeRelayFrame } from '../src/index.js';
import { CHAT_ID, LOCAL, WORKER_A, part } from './relay-harness.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? 17);
const params = { numRuns: RUNS, seed: SEED };

/** A well-formed part (what the decoder must keep). */
const goodPart = fc.tuple(fc.constantFrom('r1', 'r2', 'run-x'), fc.integer({ min: 1, max: 1_000_000 }), fc.string({ maxLength: 20 })).map(([run, seq, text]) => part(run, seq, text));

/** Events the decoder must drop: other types, missing or mistyped fields, non-objects. */
const badEvent = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom<unknown>(
    { type: 'status', chat_id: CHAT_ID, status: { status: 'running' } },
    { type: 'message', chat_id: CHAT_ID, message: { id: 1 } },
    { type: 'message_part', chat_id: CHAT_ID },
    { type: 'message_part', chat_id: 7, message_part: { seq: 1, run_id: 'r', part: { type: 'text' } } },
    { type: 'message_part', chat_id: CHAT_ID, message_part: { seq: 1.5, run_id: 'r', part: { type: 'text' } } },
    { type: 'message_part', chat_id: CHAT_ID, message_part: { seq: '1', run_id: 'r', part: { type: 'text' } } },
    { type: 'message_part', chat_id: CHAT_ID, message_part: { seq: 1, run_id: 2, part: { type: 'text' } } },
    { type: 'message_part', chat_id: CHAT_ID, message_part: { seq: 1, run_id: 'r', part: 'text' } },
    { type: 'message_part', chat_id: CHAT_ID, message_part: { seq: 1, run_id: 'r', part: { type: 3 } } },
    { type: 'message_part', chat_id: CHAT_ID, message_part: [] },
    null,
    [],
  ),
);

const isGood = (e: unknown): boolean => {
  const x = e as { type?: unknown; chat_id?: unknown; message_part?: { seq?: unknown; run_id?: unknown; part?: { type?: unknown } } } | null;
  return (
    !!x &&
    typeof x === 'object' &&
    !Array.isArray(x) &&
    x.type === 'message_part' &&
    typeof x.chat_id === 'string' &&
    !!x.message_part &&
    typeof x.message_part === 'object' &&
    !Array.isArray(x.message_part) &&
    Number.isInteger(x.message_part.seq) &&
    typeof x.message_part.run_id === 'string' &&
    !!x.message_part.part &&
    typeof x.message_part.part === 'object' &&
    !Array.isArray(x.message_part.part) &&
    typeof x.message_part.part.type === 'string'
  );
};

/** A frame: a bare array or B's envelope of mixed events, or text that is no frame at all. */
const frame = fc.oneof(
  fc.array(fc.oneof(goodPart, badEvent), { maxLength: 8 }).map((events) => ({ text: JSON.stringify(events), parts: events.filter(isGood) })),
  fc.array(fc.oneof(goodPart, badEvent), { maxLength: 8 }).map((events) => ({ text: JSON.stringify({ type: 'data', data: events }), parts: events.filter(isGood) })),
  fc.string({ maxLength: 100 }).map((text) => ({ text, parts: undefined })),
  fc.json().map((text) => ({ text, parts: undefined })),
);

describe('fuzz: decodeRelayFrame', () => {
  it('never throws and keeps exactly the well-formed message_parts, in order', () => {
    fc.assert(
      fc.property(frame, ({ text, parts }) => {
        const out = decodeRelayFrame(text);
        expect(out.every(isGood)).toBe(true);
        if (parts !== undefined) expect(out).toEqual(parts);
      }),
      params,
    );
  });
});

let server: TestWsServer;
/** What the peer sends each new relay connection, then closes. */
let script: (string | Buffer)[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startWsServer((socket: WebSocket) => {
    for (const f of script) socket.send(f);
    socket.close();
  });
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await server?.close();
});

describe('fuzz: the WebSocket relay dialer against a peer sending random frames', () => {
  it('yields only well-formed parts, in order, and ends when the peer closes', async () => {
    const dial = createWsRelayDialer({ resolveReplicaAddress: () => Promise.resolve(`http://127.0.0.1:${server.port}`), replicaId: () => LOCAL });
    const peerFrame = fc.oneof(
      frame.map((f) => ({ data: f.text as string | Buffer, parts: f.parts ?? decodeRelayFrame(f.text) })),
      fc.uint8Array({ maxLength: 64 }).map((b) => ({ data: Buffer.from(b) as string | Buffer, parts: [] as ChatStreamEvent[] })),
    );
    await fc.assert(
      fc.asyncProperty(goodPart, fc.array(peerFrame, { maxLength: 10 }), async (first, frames) => {
        // A first frame with a part, so the dial does not wait out its first-event timer.
        script = [JSON.stringify([first]), ...frames.map((f) => f.data)];
        const expected = [first, ...frames.flatMap((f) => f.parts)];
        const conn = await dial({ chatId: CHAT_ID, workerId: WORKER_A, requestHeader: new Headers({ 'Coder-Session-Token': 't' }), cursor: undefined, signal: new AbortController().signal });
        const got: ChatStreamEvent[] = [...conn.snapshot];
        for await (const e of conn.parts) got.push(e);
        conn.cancel();
        expect(got).toEqual(expected);
      }),
      { ...params, numRuns: Math.max(1, Math.floor(RUNS / 4)) },
    );
    expect(unhandled).toEqual([]);
  });
});
