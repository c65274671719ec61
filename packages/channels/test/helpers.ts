// Shared test helpers: small payload codecs and a channel factory.
import type { NewChannel } from '../src/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array | null): string => (b === null ? '' : decoder.decode(b));

export function chan(id: string, processId = 'proc-1', extra: Partial<NewChannel> = {}): NewChannel {
  return { id, processId, name: id, submitterId: 'user-1', ...extra };
}

/** Lets queued microtasks (callback deliveries, iterator wake-ups) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
