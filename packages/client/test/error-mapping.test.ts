// The client's error answers against a real HTTP server on port 0: a 429 means a full queue on `post`, but a
// rate limit (with Retry-After) anywhere; the client tells them apart by the header and the route and exposes
// `retryAfterMs`. The status of every error answer is kept.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatClient } from '../src/chat-client.js';
import { isChatdClientError } from '../src/chatd-client-error.js';
import { errorFromResponse, parseRetryAfterMs } from '../src/http-error.js';

const CHAT = '5a1d9e33-0000-4000-8000-000000000009';
let server: http.Server;
let baseUrl: string;
/** What the next request is answered with. */
let answer: { status: number; body: unknown; headers?: Record<string, string> };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('expected an error'),
    (err: unknown) => err,
  );

describe('429 answers', () => {
  it('a rate limit (Retry-After) is RATE_LIMITED with retryAfterMs, on any route, posting included', async () => {
    const client = createChatClient({ baseUrl, token: 't' });
    answer = { status: 429, body: { message: 'Too many failed authentications.' }, headers: { 'retry-after': '3' } };
    for (const call of [() => client.list(), () => client.get(CHAT), () => client.post(CHAT, 'hi')]) {
      const err = await failure(call());
      expect(isChatdClientError(err, 'RATE_LIMITED'), String(err)).toBe(true);
      expect(err).toMatchObject({ retryAfterMs: 3000, status: 429, message: 'Too many failed authentications.' });
    }
  });

  it('a full queue (no Retry-After) on post is QUEUE_FULL, without retryAfterMs', async () => {
    const client = createChatClient({ baseUrl, token: 't' });
    answer = { status: 429, body: { message: 'Message queue is full.', detail: 'Maximum 20 messages can be queued.' } };
    const err = await failure(client.post(CHAT, 'hi'));
    expect(isChatdClientError(err, 'QUEUE_FULL')).toBe(true);
    expect(err).toMatchObject({ retryAfterMs: undefined, status: 429, detail: 'Maximum 20 messages can be queued.' });
  });

  it('errorFromResponse reads Retry-After and the route\'s meaning of a bare 429', () => {
    expect(errorFromResponse(429, '{"message":"m"}', 'x', { retryAfter: '2' })).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 2000 });
    expect(errorFromResponse(429, '{"message":"m"}', 'x', { tooManyCode: 'TOO_MANY_CONNECTIONS' }).code).toBe('TOO_MANY_CONNECTIONS');
    expect(errorFromResponse(429, '{"message":"m"}', 'x').code).toBe('QUEUE_FULL');
    expect(errorFromResponse(404, '{"message":"m"}', 'x', { retryAfter: '2' })).toMatchObject({ code: 'NOT_FOUND', retryAfterMs: undefined, status: 404 });
    expect([parseRetryAfterMs('0'), parseRetryAfterMs(' 12 '), parseRetryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT'), parseRetryAfterMs(null), parseRetryAfterMs('-1')]).toEqual([0, 12_000, undefined, undefined, undefined]);
  });
});

describe('409 answers', () => {
  it('a spend-limit refusal (the 409 with the figures, contract.md#spend-limits) is SPEND_LIMIT with `spend`', async () => {
    const client = createChatClient({ baseUrl, token: 't' });
    answer = { status: 409, body: { message: 'You have reached your spend limit.', spent_micros: 5170, limit_micros: 5000, resets_at: '2026-12-06T00:00:00Z' } };
    const err = await failure(client.post(CHAT, 'hi'));
    expect(isChatdClientError(err, 'SPEND_LIMIT'), String(err)).toBe(true);
    expect(err).toMatchObject({ status: 409, spend: { spentMicros: 5170, limitMicros: 5000, resetsAt: '2026-12-06T00:00:00Z' } });
  });

  it('any other 409 stays CONFLICT without figures', async () => {
    const client = createChatClient({ baseUrl, token: 't' });
    answer = { status: 409, body: { message: 'No pending tool call with that id.' } };
    const err = await failure(client.submitToolResults(CHAT, [{ tool_call_id: 'c1', output: 1 }]));
    expect(isChatdClientError(err, 'CONFLICT')).toBe(true);
    expect(err).toMatchObject({ spend: undefined });
  });
});
