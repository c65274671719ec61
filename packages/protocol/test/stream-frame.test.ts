import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeStreamFrame, encodeStreamFrame, eventJson, hasEventJson, isStreamEvent, streamEventSchema } from '../src/index.js';

const CHAT = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const part = (seq: number) => ({ type: 'message_part', chat_id: CHAT, message_part: { role: 'assistant', part: { type: 'text', text: `t${seq}` }, seq, run_id: 'r1' } });

/** Values near the shape of events: every field right, wrong, or missing, so both answers are common. */
const anyValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}), fc.constant(2 ** 60), fc.constant(0), fc.constant(-3));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, anyValue);
const nearEvent = fc.record(
  {
    type: maybe(fc.constantFrom('message_part', 'message', 'status', 'discontinuity', 'error', 'retry', 'queue_update', 'action_required', 'history_reset', 'other')),
    chat_id: maybe(fc.constant(CHAT)),
    message_part: maybe(fc.record({ run_id: maybe(fc.constant('r1')), seq: maybe(fc.nat()), part: maybe(fc.record({ type: maybe(fc.constant('text')) }, { requiredKeys: [] })) }, { requiredKeys: [] })),
    message: maybe(fc.record({ id: maybe(fc.integer({ min: -2, max: 1000 })) }, { requiredKeys: [] })),
    status: maybe(fc.record({ status: maybe(fc.constant('running')) }, { requiredKeys: [] })),
    discontinuity: maybe(fc.record({ reason: maybe(fc.constant('too_slow')) }, { requiredKeys: [] })),
    action_required: maybe(fc.record({ tool_calls: maybe(fc.array(anyValue, { maxLength: 2 })) }, { requiredKeys: [] })),
  },
  { requiredKeys: [] },
);

describe('isStreamEvent', () => {
  it('agrees with streamEventSchema on near-events and on any JSON', () => {
    fc.assert(fc.property(fc.oneof(nearEvent, fc.jsonValue()), (v) => isStreamEvent(v) === streamEventSchema.safeParse(v).success), { numRuns: 3000, seed: 23 });
    // The generator reaches both answers often, so the agreement is not vacuous.
    const kept = fc.sample(nearEvent, { numRuns: 3000, seed: 23 }).filter((v) => isStreamEvent(v)).length;
    expect(kept).toBeGreaterThan(100);
    expect(kept).toBeLessThan(2900);
  });
});

describe('decodeStreamFrame', () => {
  it('keeps well-formed events in order and drops the rest', () => {
    const text = JSON.stringify([part(1), { type: 'message_part', chat_id: CHAT, message_part: { seq: 1.5, run_id: 'r1', part: { type: 'text' } } }, { type: 'nope' }, { type: 'message', chat_id: CHAT, message: { id: 7, extra: true } }, part(2)]);
    const frame = decodeStreamFrame(text);
    expect(frame?.events).toEqual([part(1), { type: 'message', chat_id: CHAT, message: { id: 7, extra: true } }, part(2)]);
    expect(frame?.single).toBeUndefined();
  });

  it('hands back the raw JSON of a one-event bare frame, and only then', () => {
    const json = JSON.stringify(part(3));
    expect(decodeStreamFrame(`[${json}]`)).toEqual({ events: [part(3)], single: json });
    expect(decodeStreamFrame('[{"type":"nope"}]')).toEqual({ events: [], single: undefined });
    expect(decodeStreamFrame(JSON.stringify({ type: 'data', data: [part(3)] }), { envelope: true })).toEqual({ events: [part(3)], single: undefined });
  });

  it('is undefined for text that is no frame; the envelope only when asked', () => {
    for (const text of ['', 'nope', '{}', '"x"', '3', 'null', '{"type":"data","data":{}}']) expect(decodeStreamFrame(text, { envelope: true }), text).toBeUndefined();
    expect(decodeStreamFrame(JSON.stringify({ type: 'data', data: [part(1)] }))).toBeUndefined();
  });

  it('records the JSON of a one-event bare frame as the event\'s eventJson; of several only when asked; never of an envelope\'s', () => {
    const json = JSON.stringify(part(4)).replace('{', '{ ');
    const [one] = decodeStreamFrame(`[${json}]`)!.events;
    expect(eventJson(one!)).toBe(json);
    const several = decodeStreamFrame(JSON.stringify([part(5), part(6)]))!.events;
    expect(several.map(hasEventJson)).toEqual([false, false]);
    const enveloped = decodeStreamFrame(JSON.stringify({ type: 'data', data: [part(5)] }), { envelope: true, eventJson: true })!.events;
    expect(enveloped.map(hasEventJson)).toEqual([false]);
  });

  it('records each event of a multi-event bare frame with its own text from the frame (no encoding again)', () => {
    const texts = [JSON.stringify(part(5)), ' { "type" : "message_part", "chat_id":"c", "message_part":{"run_id":"r\\"]}","seq":6,"part":{"type":"text","text":"a\\\\"}} } ', JSON.stringify(part(7))];
    const text = `[${texts[0]},{"type":"nope","x":[1,{"y":"]"}]}, ${texts[1]},\n${texts[2]}]`;
    const { events } = decodeStreamFrame(text, { eventJson: true })!;
    expect(events).toHaveLength(3);
    expect(events.map(eventJson)).toEqual([texts[0], texts[1]!.trim(), texts[2]]);
    for (const e of events) expect(JSON.parse(eventJson(e))).toEqual(e);
  });

  it('the recorded JSON of every event of any bare frame parses to that very event', () => {
    const event = fc.oneof(
      fc.record({ type: fc.constant('message_part'), chat_id: fc.string(), message_part: fc.record({ run_id: fc.string(), seq: fc.integer(), part: fc.record({ type: fc.string(), text: fc.string() }) }) }),
      fc.record({ type: fc.constant('status'), status: fc.record({ status: fc.string(), extra: fc.jsonValue() }) }),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 6 }), fc.constantFrom('', ' ', '\n\t', ' \r\n '), fc.boolean(), (entries, ws, indent) => {
        const text = indent ? JSON.stringify(entries, null, 2) : `[${ws}${entries.map((e) => JSON.stringify(e)).join(`${ws},${ws}`)}${ws}]`;
        const { events } = decodeStreamFrame(text, { eventJson: true })!;
        for (const e of events) {
          expect(hasEventJson(e)).toBe(true);
          expect(JSON.parse(eventJson(e))).toEqual(e);
        }
      }),
      { numRuns: 400, seed: 36 },
    );
  });

  it('keeps the 0.4 events', () => {
    const events = [
      { type: 'action_required', chat_id: CHAT, action_required: { tool_calls: [{ tool_call_id: 'c1', tool_name: 't', args: '{}' }] } },
      { type: 'history_reset', chat_id: CHAT },
    ];
    expect(decodeStreamFrame(JSON.stringify([...events, { type: 'action_required', chat_id: CHAT, action_required: {} }]))?.events).toEqual(events);
  });

  it('round-trips encodeStreamFrame', () => {
    const events = [part(1), part(2)];
    expect(decodeStreamFrame(encodeStreamFrame(events))?.events).toEqual(events);
    expect(encodeStreamFrame(['a'], () => '{"x":1}')).toBe('[{"x":1}]');
    expect(encodeStreamFrame([])).toBe('[]');
  });
});
