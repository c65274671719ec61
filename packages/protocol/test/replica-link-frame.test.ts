import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeReplicaLinkControl,
  decodeReplicaLinkFrame,
  encodeReplicaLinkControl,
  encodeReplicaLinkEnd,
  encodeReplicaLinkEvents,
  encodeReplicaLinkFrame,
  eventJson,
  replicaLinkFrameSchema,
} from '../src/index.js';

const CHAT = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const part = (seq: number, text = `t${seq}`) => ({ type: 'message_part', chat_id: CHAT, message_part: { role: 'assistant', part: { type: 'text', text }, seq, run_id: 'r1' } });

describe('replica link control frames', () => {
  it('round-trips sub and unsub', () => {
    const sub = { op: 'sub', sid: 3, chat_id: CHAT, run_id: 'r1', after_seq: 4 } as const;
    expect(decodeReplicaLinkControl(encodeReplicaLinkControl(sub))).toEqual(sub);
    expect(decodeReplicaLinkControl(encodeReplicaLinkControl({ op: 'sub', sid: 1, chat_id: CHAT }))).toEqual({ op: 'sub', sid: 1, chat_id: CHAT });
    expect(decodeReplicaLinkControl('{"op":"unsub","sid":9}')).toEqual({ op: 'unsub', sid: 9 });
  });

  it('carries the dial\'s traceparent on sub', () => {
    const sub = { op: 'sub', sid: 2, chat_id: CHAT, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } as const;
    expect(decodeReplicaLinkControl(encodeReplicaLinkControl(sub))).toEqual(sub);
    expect(decodeReplicaLinkControl(`{"op":"sub","sid":2,"chat_id":"${CHAT}","traceparent":""}`)).toBeUndefined();
  });

  it('refuses malformed control frames', () => {
    for (const bad of ['nope', '[]', '{"op":"sub","sid":0,"chat_id":"c"}', '{"op":"sub","sid":1.5,"chat_id":"c"}', '{"op":"sub","sid":1,"chat_id":"c","run_id":"r"}', '{"op":"sub","sid":1,"chat_id":"c","after_seq":2}', '{"op":"sub","sid":1,"chat_id":"c","extra":1}', '{"op":"kill","sid":1}']) {
      expect(decodeReplicaLinkControl(bad)).toBeUndefined();
    }
  });
});

describe('replica link data frames', () => {
  it('decodes records of many sids, each event carrying its own text sliced from the frame', () => {
    const a = `[${JSON.stringify(part(1))},${JSON.stringify(part(2, 'he said "hi" \\ ] }, {'))}]`;
    const b = `[ ${JSON.stringify(part(7))} ]`;
    const frame = encodeReplicaLinkFrame([encodeReplicaLinkEvents(1, a), encodeReplicaLinkEnd(2, 'too_slow'), encodeReplicaLinkEvents(3, b)]);
    expect(replicaLinkFrameSchema.safeParse(JSON.parse(frame)).success).toBe(true);
    const records = decodeReplicaLinkFrame(frame)!;
    expect(records.map((r) => r.sid)).toEqual([1, 2, 3]);
    expect(records[0]!.events).toEqual([part(1), part(2, 'he said "hi" \\ ] }, {')]);
    expect(records[1]).toEqual({ sid: 2, end: { reason: 'too_slow' } });
    expect(records[2]!.events).toEqual([part(7)]);
    // The recorded JSON is the frame's own bytes (a substring of it), not a new encoding.
    for (const r of records) for (const e of r.events ?? []) expect(frame.includes(eventJson(e))).toBe(true);
    expect(eventJson(records[0]!.events![1]!)).toBe(JSON.stringify(part(2, 'he said "hi" \\ ] }, {')));
  });

  it('drops malformed records and events, keeps alignment', () => {
    const frame = `[1,{"sid":0,"events":[]},{"sid":4,"events":[{"type":"nope"},${JSON.stringify(part(3))}]},{"sid":5}]`;
    const records = decodeReplicaLinkFrame(frame)!;
    expect(records).toEqual([{ sid: 4, events: [part(3)] }]);
    expect(eventJson(records[0]!.events![0]!)).toBe(JSON.stringify(part(3)));
    expect(decodeReplicaLinkFrame('{')).toBeUndefined();
    expect(decodeReplicaLinkFrame('{"sid":1}')).toBeUndefined();
  });

  it('slices every event exactly as JSON.stringify wrote it, for any strings', () => {
    const text = fc.string({ unit: 'binary', maxLength: 20 });
    fc.assert(
      fc.property(fc.array(fc.array(text, { maxLength: 4 }), { minLength: 1, maxLength: 5 }), (sids) => {
        const records = sids.map((texts, i) => encodeReplicaLinkEvents(i + 1, `[${texts.map((t, s) => JSON.stringify(part(s, t))).join(',')}]`));
        const decoded = decodeReplicaLinkFrame(encodeReplicaLinkFrame(records))!;
        expect(decoded).toHaveLength(sids.length);
        decoded.forEach((r, i) => {
          expect(r.events!.map((e) => eventJson(e))).toEqual(sids[i]!.map((t, s) => JSON.stringify(part(s, t))));
        });
      }),
      { numRuns: 300, seed: 36 },
    );
  });
});
