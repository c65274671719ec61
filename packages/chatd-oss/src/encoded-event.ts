// The wire encoding of a stream event, remembered beside the event: a producer that already holds an event's
// JSON (the relay, which parsed it from its peer's frame) hands it over with the event, so the subscriber does
// not encode the same event again for every client it sends it to.
import type { ChatStreamEvent } from './stream-event.js';

const encodings = new WeakMap<ChatStreamEvent, string>();

/**
 * Records `json` as the encoding of `event` and returns the event. `json` must be the JSON of exactly this
 * event (as `JSON.stringify` or the peer that sent it wrote it); the event must not be changed afterwards.
 */
export function withEventJson<T extends ChatStreamEvent>(event: T, json: string): T {
  encodings.set(event, json);
  return event;
}

/** The JSON of `event`: the recorded encoding when there is one, otherwise `JSON.stringify(event)`. */
export function eventJson(event: ChatStreamEvent): string {
  return encodings.get(event) ?? JSON.stringify(event);
}
