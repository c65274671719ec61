// What a stream client ends up holding, computed from the events it was sent the way the contract tells a client
// to treat them (contract.md#history-reset): `history_reset` drops everything held, a `message` replaces any earlier
// copy of its id, a `message_part` is held until its run's message (or a reset) replaces it.
import type { ChatMessage, ChatStreamEvent } from '@chatd/protocol';

/** A client's view: durable messages by id (ascending when read) and the in-flight parts by run. */
export type HeldHistory = { messages: ChatMessage[]; partRuns: string[] };

/** Folds `events` into what the client holds. */
export function heldHistory(events: readonly ChatStreamEvent[]): HeldHistory {
  const messages = new Map<number, ChatMessage>();
  const parts = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'history_reset') {
      messages.clear();
      parts.clear();
    } else if (e.type === 'message') {
      messages.set(e.message.id, e.message);
      if (e.message.run_id !== undefined) parts.delete(e.message.run_id);
    } else if (e.type === 'message_part') {
      parts.set(e.message_part.run_id, (parts.get(e.message_part.run_id) ?? 0) + 1);
    } else if (e.type === 'discontinuity') {
      parts.clear();
    }
  }
  return { messages: [...messages.values()].sort((a, b) => a.id - b.id), partRuns: [...parts.keys()] };
}

/** The events after the last `history_reset` (all of them when there is none). */
export function afterLastReset(events: readonly ChatStreamEvent[]): ChatStreamEvent[] {
  let at = -1;
  events.forEach((e, i) => {
    if (e.type === 'history_reset') at = i;
  });
  return events.slice(at + 1);
}

/** The events after the first `history_reset`, or undefined when there is none. */
export function afterFirstReset(events: readonly ChatStreamEvent[]): ChatStreamEvent[] | undefined {
  const at = events.findIndex((e) => e.type === 'history_reset');
  return at < 0 ? undefined : events.slice(at + 1);
}
