// Test helpers: a recording listener and sample payloads.
import { waitFor } from '@chatd/testkit';
import type { PubSubError, PubSubListener } from '../src/index.js';

/** A listener that records what it receives. */
export type Recorder = {
  listener: PubSubListener;
  messages: string[];
  errors: PubSubError[];
  /** Messages and errors in arrival order (`!CODE` for errors). */
  events: string[];
  waitForMessages(n: number, timeoutMs?: number): Promise<void>;
  waitForError(code: string, timeoutMs?: number): Promise<PubSubError>;
  waitForMessage(text: string, timeoutMs?: number): Promise<void>;
};

/** Creates a recording listener; `onMessage` may return a promise to hold delivery. */
export function recorder(onMessage?: (text: string) => void | Promise<void>): Recorder {
  const r: Recorder = {
    messages: [],
    errors: [],
    events: [],
    listener: (message, error) => {
      if (error) {
        r.errors.push(error);
        r.events.push(`!${error.code}`);
        return undefined;
      }
      const text = message!.toString('utf8');
      r.messages.push(text);
      r.events.push(text);
      return onMessage?.(text);
    },
    async waitForMessages(n, timeoutMs = 10_000) {
      await waitFor(() => r.messages.length >= n, { timeoutMs, what: `${n} messages (have ${r.messages.length})` });
    },
    async waitForError(code, timeoutMs = 10_000) {
      return waitFor(() => r.errors.find((e) => e.code === code), { timeoutMs, what: `a ${code} error` });
    },
    async waitForMessage(text, timeoutMs = 10_000) {
      await waitFor(() => r.messages.includes(text), { timeoutMs, what: `message ${JSON.stringify(text)}` });
    },
  };
  return r;
}

export const OWNER = '6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f';
export const CHAT = '0b6f7a1e-2c3d-4e5f-9a0b-1c2d3e4f5a6b';
export const ORG = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
