// Unit tests of the client's pure parts: the stream cursor (exactly-once filter and resume query),
// the reconnect backoff and the mapping of error answers to ChatdClientError.
import { describe, expect, it } from 'vitest';
import { isChatdClientError } from '../src/chatd-client-error.js';
import { errorFromResponse, isRetryableStatus, UNAVAILABLE_CODE } from '../src/http-error.js';
import { reconnectDelayMs } from '../src/reconnect-backoff.js';
import { createStreamCursor, toAfterId } from '../src/stream-cursor.js';
import type { ChatStreamEvent } from '@chatd/protocol';

const CHAT = '0b5e7c52-0000-4000-8000-000000000002';
const part = (run: string, seq: number, text = `t${seq}`): ChatStreamEvent => ({ type: 'message_part', chat_id: CHAT, message_part: { role: 'assistant', part: { type: 'text', text }, seq, run_id: run } });
const message = (id: number): ChatStreamEvent => ({ type: 'message', chat_id: CHAT, message: { id, chat_id: CHAT, created_at: '2026-01-01T00:00:00Z', role: 'assistant' } });
const status: ChatStreamEvent = { type: 'status', chat_id: CHAT, status: { status: 'running' } };
const lost: ChatStreamEvent = { type: 'discontinuity', chat_id: CHAT, discontinuity: { reason: 'run_lost', resync_after_id: 5 } };

describe('stream cursor', () => {
  it('lets each message (by id) and each part (by run and seq) through once, and resumes after the last of each', () => {
    const c = createStreamCursor();
    expect(c.query()).toBe('');
    const accepted = [status, message(5), part('r1', 1), part('r1', 2), message(5), part('r1', 2), part('r1', 1), status, part('r1', 3)].map((e) => c.accept(e));
    expect(accepted).toEqual([true, true, true, true, false, false, false, true, true]);
    expect(c.query()).toBe('?after_id=5&after_seq=3&run_id=r1');
    expect(c.position()).toEqual({ afterId: 5n, runId: 'r1', afterSeq: 3 });
    // A coalesced part carries the last merged seq: accepted, and the cursor jumps to it.
    expect(c.accept(part('r1', 9, 't4..t9'))).toBe(true);
    expect(c.accept(part('r1', 7))).toBe(false);
    // A message of a lower id than one seen is a duplicate (ids rise within a chat).
    expect(c.accept(message(7))).toBe(true);
    expect(c.accept(message(6))).toBe(false);
    expect(c.query()).toBe('?after_id=7&after_seq=9&run_id=r1');
  });

  it('a history reset forgets everything: the re-sent history passes, and a reconnect asks for all of it', () => {
    const c = createStreamCursor({ afterId: 5n });
    c.accept(message(7));
    c.accept(part('r1', 2));
    expect(c.accept({ type: 'history_reset', chat_id: CHAT })).toBe(true);
    expect(c.query()).toBe('');
    expect([message(3), message(6), message(7), message(7)].map((e) => c.accept(e))).toEqual([true, true, true, false]);
    expect(c.accept(part('r1', 1))).toBe(true);
    expect(c.query()).toBe('?after_id=7&after_seq=1&run_id=r1');
  });

  it('a discontinuity forgets the in-flight run: no part cursor, and its parts count as new if sent again', () => {
    const c = createStreamCursor({ afterId: 5n });
    c.accept(part('r1', 1));
    c.accept(part('r1', 2));
    expect(c.accept(lost)).toBe(true);
    expect(c.query()).toBe('?after_id=5');
    expect(c.accept(part('r1', 1))).toBe(true);
    // Another run's parts are independent.
    expect(c.accept(part('r2', 1))).toBe(true);
    expect(c.position()).toEqual({ afterId: 5n, runId: 'r2', afterSeq: 1 });
  });

  it('starts from a given cursor', () => {
    const c = createStreamCursor({ afterId: 9_223_372_036_854_775_807n, runId: 'r7', afterSeq: 4 });
    expect(c.query()).toBe('?after_id=9223372036854775807&after_seq=4&run_id=r7');
    expect(c.accept(part('r7', 4))).toBe(false);
    expect(c.accept(part('r7', 5))).toBe(true);
  });

  it('toAfterId takes numbers, bigints and int64 strings exactly, and refuses the rest', () => {
    expect(toAfterId(undefined)).toBe(0n);
    expect(toAfterId(42)).toBe(42n);
    expect(toAfterId('9223372036854775807')).toBe(9_223_372_036_854_775_807n);
    expect(toAfterId(7n)).toBe(7n);
    for (const bad of [-1, 1.5, '-1', 'abc', '01', '92233720368547758070']) expect(() => toAfterId(bad), String(bad)).toThrow(RangeError);
  });
});

describe('reconnect backoff', () => {
  it('retries at once after a healthy connection, then doubles from the floor up to the ceiling, jitter in the upper half', () => {
    const fixed = (r: number) => ({ minDelayMs: 100, maxDelayMs: 1000, random: () => r });
    expect(reconnectDelayMs(0, fixed(0.5))).toBe(0);
    expect([1, 2, 3, 4, 5, 6].map((n) => reconnectDelayMs(n, fixed(1)))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3, 4, 5].map((n) => reconnectDelayMs(n, fixed(0)))).toEqual([50, 100, 200, 400, 500]);
    expect(reconnectDelayMs(1000, fixed(1))).toBe(1000);
  });
});

describe('error answers', () => {
  it('maps the documented statuses to ChatdClientError codes and keeps message, detail and validations', () => {
    const cases: [number, string][] = [
      [400, 'INVALID_INPUT'],
      [401, 'UNAUTHORIZED'],
      [403, 'FORBIDDEN'],
      [404, 'NOT_FOUND'],
      [409, 'CONFLICT'],
      [413, 'PAYLOAD_TOO_LARGE'],
      [429, 'QUEUE_FULL'],
    ];
    for (const [status, code] of cases) expect(errorFromResponse(status, '{"message":"m"}', 'x').code).toBe(code);
    const err = errorFromResponse(400, JSON.stringify({ message: 'Invalid request.', detail: 'content is empty', validations: [{ field: 'content', detail: 'required' }, { bad: 1 }] }), 'creating');
    expect(isChatdClientError(err, 'INVALID_INPUT')).toBe(true);
    expect(err.message).toBe('Invalid request.');
    expect(err.detail).toBe('content is empty');
    expect(err.validations).toEqual([{ field: 'content', detail: 'required' }]);
  });

  it('a 5xx or undocumented status is UNAVAILABLE and retryable; a body that is not JSON becomes the detail', () => {
    const err = errorFromResponse(502, '<html>bad gateway</html>', 'reading a chat');
    expect(err.code).toBe(UNAVAILABLE_CODE);
    expect(err.message).toBe('reading a chat failed with HTTP 502');
    expect(err.detail).toBe('<html>bad gateway</html>');
    expect([500, 502, 503, 429, 408, 418].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 413].some(isRetryableStatus)).toBe(false);
  });
});
