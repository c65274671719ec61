// The wire encoding of a stream event, remembered beside the event: a producer that already holds an event's
// JSON (the frame decoder, which read it from a peer's frame) hands it over with the event, so whoever sends the
// event on does not encode it again for every client it sends it to. Nothing here copies or validates events.
import type { ChatStreamEvent } from './stream-event.js';
import type { StreamEvent } from './stream-frame.js';

/** An event whose encoding may be recorded: a typed stream event or one the frame decoder kept. */
export type EncodableEvent = ChatStreamEvent | StreamEvent;

const encodings = new WeakMap<EncodableEvent, string>();

/**
 * Records `json` as the encoding of `event` and returns the event. `json` must be the JSON of exactly this
 * event (as `JSON.stringify` or the peer that sent it wrote it); the event must not be changed afterwards.
 */
export function withEventJson<T extends EncodableEvent>(event: T, json: string): T {
  encodings.set(event, json);
  return event;
}

/** Whether an encoding of `event` was recorded. */
export function hasEventJson(event: EncodableEvent): boolean {
  return encodings.has(event);
}

/** The JSON of `event`: the recorded encoding when there is one, otherwise `JSON.stringify(event)`. */
export function eventJson(event: EncodableEvent): string {
  return encodings.get(event) ?? JSON.stringify(event);
}
