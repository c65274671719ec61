import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMockClock, type MockClock } from '@chatd/clock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelProviderError, toChatStreamError } from '../src/model/model-error.js';
import type { ModelProvider, ModelRequest, ModelStreamEvent } from '../src/model/model-provider.js';
import { createOpenAiCompatibleProvider, OPENAI_IDLE_TIMER_TAG } from '../src/model/openai-compatible-provider.js';
import { deltaChunk, sse, startSseTestServer, type RecordedRequest, type SseTestServer } from './helpers/sse-server.js';

const IDLE_MS = 10_000;

let server: SseTestServer;
let clock: MockClock;
let model: ModelProvider;

beforeEach(async () => {
  server = await startSseTestServer();
  clock = createMockClock();
  model = createOpenAiCompatibleProvider({ baseUrl: server.baseUrl, apiKey: 'sk-test', model: 'test-model', clock, idleTimeoutMs: IDLE_MS });
});

afterEach(async () => {
  await server.close();
});

function request(signal = new AbortController().signal): ModelRequest {
  return {
    systemPrompt: 'You are terse.',
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'reasoning', text: 'hidden' }, { type: 'text', text: 'Hello!' }] },
      { role: 'user', content: [{ type: 'text', text: 'Count ' }, { type: 'text', text: 'to two.' }] },
    ],
    config: { temperature: 0.2, maxOutputTokens: 64 },
    signal,
  };
}

/** Opens an SSE answer with status 200. */
function openStream(r: RecordedRequest): void {
  r.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  r.res.flushHeaders();
}

async function collect(stream: AsyncIterable<ModelStreamEvent>): Promise<{ events: ModelStreamEvent[]; error: unknown }> {
  const events: ModelStreamEvent[] = [];
  try {
    for await (const e of stream) events.push(e);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

/** Answers with a plain HTTP error. */
function answerError(status: number, headers: Record<string, string>, body: unknown): void {
  server.handle = (r) => {
    r.res.writeHead(status, { 'content-type': 'application/json', ...headers });
    r.res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

describe('OpenAI-compatible provider', () => {
  it('streams reasoning, text and usage from a normal SSE answer, and sends a proper request', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(': keep-alive comment\n\n');
      r.res.write(sse(deltaChunk({ role: 'assistant', content: '' })));
      r.res.write(sse(deltaChunk({ reasoning_content: 'Counting' })));
      r.res.write(sse(deltaChunk({ reasoning: ' slowly.' })));
      // One event split across two writes, with CRLF line ends.
      const split = `data: ${JSON.stringify(deltaChunk({ content: 'One, ' }))}\r\n\r\n`;
      r.res.write(split.slice(0, 20));
      r.res.write(split.slice(20));
      r.res.write(sse(deltaChunk({ content: 'two.' })));
      r.res.write(sse(deltaChunk({}, 'stop')));
      r.res.write(
        sse({ id: 'x', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30, completion_tokens_details: { reasoning_tokens: 4 } } }),
      );
      r.res.end(sse('[DONE]'));
    };
    const { events, error } = await collect(model.stream(request()));
    expect(error).toBeUndefined();
    expect(events).toEqual([
      { type: 'reasoning-delta', text: 'Counting' },
      { type: 'reasoning-delta', text: ' slowly.' },
      { type: 'text-delta', text: 'One, ' },
      { type: 'text-delta', text: 'two.' },
      { type: 'finish', finishReason: 'stop', usage: { inputTokens: 21, outputTokens: 9, totalTokens: 30, reasoningTokens: 4 } },
    ]);
    const [req] = server.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v1/chat/completions');
    expect(req?.headers.authorization).toBe('Bearer sk-test');
    expect(req?.body).toEqual({
      model: 'test-model',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: 'Count to two.' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 64,
    });
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('finishes without usage when the server reports none, and maps finish reasons', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'cut' }, 'length')));
      r.res.end(sse('[DONE]'));
    };
    const { events, error } = await collect(model.stream(request()));
    expect(error).toBeUndefined();
    expect(events).toEqual([{ type: 'text-delta', text: 'cut' }, { type: 'finish', finishReason: 'length' }]);
  });

  it('fails a chunk that is not JSON as a non-retryable MALFORMED_STREAM, after the good deltas, and drops the socket', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'fine' })));
      r.res.write('data: {"choices": [oops\n\n');
    };
    const { events, error } = await collect(model.stream(request()));
    expect(events).toEqual([{ type: 'text-delta', text: 'fine' }]);
    expect(error).toBeInstanceOf(ModelProviderError);
    expect(error).toMatchObject({ code: 'MALFORMED_STREAM', retryable: false, provider: 'openai-compatible', kind: 'malformed_stream' });
    await server.requests[0]?.socketClosed;
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('fails a JSON chunk of the wrong shape as MALFORMED_STREAM', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse({ choices: [{ delta: { content: 42 } }] }));
    };
    const { events, error } = await collect(model.stream(request()));
    expect(events).toEqual([]);
    expect(error).toMatchObject({ code: 'MALFORMED_STREAM', retryable: false });
  });

  it('fails a 200 JSON answer (the server ignored stream: true) as MALFORMED_STREAM', async () => {
    answerError(200, {}, { choices: [{ message: { role: 'assistant', content: 'whole' } }] });
    const { error } = await collect(model.stream(request()));
    expect(error).toMatchObject({ code: 'MALFORMED_STREAM', retryable: false, statusCode: 200 });
  });

  it('fails a complete non-SSE body (a base URL that is not an API) as MALFORMED_STREAM', async () => {
    server.handle = (r) => {
      r.res.writeHead(200, { 'content-type': 'text/plain' });
      r.res.end('hello, this is not an API');
    };
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'MALFORMED_STREAM', retryable: false });
    answerError(200, { 'content-type': 'text/html; charset=utf-8' }, '<html></html>');
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'MALFORMED_STREAM', retryable: false });
  });

  it('classifies an error event inside the stream by its text', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'par' })));
      r.res.write(sse({ error: { message: 'Overloaded', type: 'overloaded_error' } }));
    };
    const { events, error } = await collect(model.stream(request()));
    expect(events).toEqual([{ type: 'text-delta', text: 'par' }]);
    expect(error).toMatchObject({ code: 'OVERLOADED', retryable: true });
  });

  it('maps 429 with retry-after in seconds to a retryable RATE_LIMITED carrying retryAfterMs', async () => {
    answerError(429, { 'retry-after': '7' }, { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } });
    const { error } = await collect(model.stream(request()));
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, statusCode: 429, retryAfterMs: 7000, kind: 'rate_limit' });
    expect((error as ModelProviderError).detail).toBe('Rate limit reached for requests (rate_limit_exceeded)');
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('maps 503 with retry-after as an HTTP date to a retryable OVERLOADED, read against the injected clock', async () => {
    answerError(503, { 'retry-after': new Date(clock.nowMs() + 30_000).toUTCString() }, 'upstream unavailable');
    const { error } = await collect(model.stream(request()));
    expect(error).toMatchObject({ code: 'OVERLOADED', retryable: true, statusCode: 503, retryAfterMs: 30_000, detail: 'upstream unavailable' });
  });

  it('maps 429 with a date retry-after and 503 with seconds the same way', async () => {
    answerError(429, { 'retry-after': new Date(clock.nowMs() + 5_000).toUTCString() }, {});
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 5_000 });
    answerError(503, { 'retry-after': '2' }, {});
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'OVERLOADED', retryable: true, retryAfterMs: 2_000 });
  });

  it('treats a 429 for an exhausted quota as a permanent QUOTA_EXCEEDED', async () => {
    answerError(429, {}, { error: { message: 'You exceeded your current quota', code: 'insufficient_quota' } });
    const { error } = await collect(model.stream(request()));
    expect(error).toMatchObject({ code: 'QUOTA_EXCEEDED', retryable: false, statusCode: 429 });
  });

  it('maps 401 and 403 to a non-retryable AUTH', async () => {
    answerError(401, {}, { error: { message: 'Incorrect API key provided', code: 'invalid_api_key' } });
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'AUTH', retryable: false, statusCode: 401 });
    answerError(403, {}, { error: 'forbidden' });
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'AUTH', retryable: false, statusCode: 403 });
  });

  it('maps 400 to a non-retryable BAD_REQUEST, or CONTEXT_LENGTH_EXCEEDED when the body says so', async () => {
    answerError(400, {}, { error: { message: "Invalid value for 'temperature'" } });
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'BAD_REQUEST', retryable: false, statusCode: 400 });
    answerError(400, {}, { error: { message: 'too long', code: 'context_length_exceeded' } });
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'CONTEXT_LENGTH_EXCEEDED', retryable: false });
  });

  it('maps 500 and 502 to a retryable SERVER_ERROR and 404 to MODEL_NOT_FOUND', async () => {
    answerError(500, {}, 'boom');
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'SERVER_ERROR', retryable: true, statusCode: 500 });
    answerError(502, {}, '');
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'SERVER_ERROR', retryable: true, statusCode: 502 });
    answerError(404, {}, { error: { message: 'The model `nope` does not exist', code: 'model_not_found' } });
    expect((await collect(model.stream(request()))).error).toMatchObject({ code: 'MODEL_NOT_FOUND', retryable: false, statusCode: 404 });
  });

  it('maps a connection the server destroys mid-stream to a retryable CONNECTION, after the deltas it sent', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'Hel' })));
      r.res.write(sse(deltaChunk({ content: 'lo' })));
    };
    const it = model.stream(request())[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'Hel' });
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'lo' });
    server.requests[0]?.res.socket?.destroy();
    const error = await it.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelProviderError);
    expect(error).toMatchObject({ code: 'CONNECTION', retryable: true, kind: 'connection' });
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('maps a body that ends cleanly before the model finished to a retryable CONNECTION', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.end(sse(deltaChunk({ content: 'half' })));
    };
    const { events, error } = await collect(model.stream(request()));
    expect(events).toEqual([{ type: 'text-delta', text: 'half' }]);
    expect(error).toMatchObject({ code: 'CONNECTION', retryable: true });
  });

  it('maps a refused connection to a retryable CONNECTION', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = createOpenAiCompatibleProvider({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: '', model: 'm', clock });
    const { error } = await collect(refused.stream(request()));
    expect(error).toMatchObject({ code: 'CONNECTION', retryable: true });
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('keeps the socket error (which names the address) as the cause only: the message is fixed', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    // A fetch that surfaces the socket error itself (as node:http clients and some fetch wrappers do).
    const bareFetch: typeof fetch = (input, init) => fetch(input, init).catch((err: unknown) => Promise.reject((err as Error).cause ?? err));
    const refused = createOpenAiCompatibleProvider({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: '', model: 'm', clock, fetch: bareFetch });
    const { error } = await collect(refused.stream(request()));
    expect(error).toMatchObject({ code: 'CONNECTION', retryable: true, message: 'the model request failed' });
    expect(((error as Error).cause as Error).message).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(JSON.stringify(toChatStreamError(error as ModelProviderError))).not.toMatch(new RegExp(`ECONNREFUSED|127\\.0\\.0\\.1|${port}`));
  });

  it('cancels mid-stream on abort: CANCELLED, and the server sees the socket close', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'streaming' })));
    };
    const controller = new AbortController();
    const it = model.stream(request(controller.signal))[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'streaming' });
    expect(server.requests[0]?.res.socket?.destroyed).toBe(false);
    // The next read is in flight when the abort lands.
    const pending = it.next().catch((e: unknown) => e);
    controller.abort();
    const error = await pending;
    expect(error).toMatchObject({ code: 'CANCELLED', retryable: false });
    await server.requests[0]?.socketClosed;
    expect(server.requests[0]?.res.writableEnded).toBe(false);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('cancels while the consumer holds a delta, and releases the socket', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'a' })));
    };
    const controller = new AbortController();
    const it = model.stream(request(controller.signal))[Symbol.asyncIterator]();
    await it.next();
    controller.abort();
    await expect(it.next()).rejects.toMatchObject({ code: 'CANCELLED' });
    await server.requests[0]?.socketClosed;
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('releases the socket when the consumer stops iterating early', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'first' })));
    };
    const got: ModelStreamEvent[] = [];
    for await (const e of model.stream(request())) {
      got.push(e);
      break;
    }
    expect(got).toEqual([{ type: 'text-delta', text: 'first' }]);
    await server.requests[0]?.socketClosed;
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('makes no request when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const { error } = await collect(model.stream(request(controller.signal)));
    expect(error).toMatchObject({ code: 'CANCELLED' });
    expect(server.requests).toHaveLength(0);
  });

  it('times out a silent stream on the injected clock as a retryable TIMEOUT, closing the socket', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'then silence' })));
    };
    const it = model.stream(request())[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'then silence' });
    const pending = it.next().catch((e: unknown) => e);
    const timer = await clock.waitForTimer({ tag: OPENAI_IDLE_TIMER_TAG });
    expect(timer.delayMs).toBe(IDLE_MS);
    await clock.advance(IDLE_MS);
    const error = await pending;
    expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true, kind: 'timeout' });
    await server.requests[0]?.socketClosed;
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('does not count the time the consumer holds an event against the idle timeout', async () => {
    server.handle = (r) => {
      openStream(r);
      r.res.write(sse(deltaChunk({ content: 'slow consumer' })));
    };
    const it = model.stream(request())[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'text-delta', text: 'slow consumer' });
    expect(clock.pendingTimers()).toEqual([]);
    await clock.advance(IDLE_MS * 3);
    server.requests[0]?.res.end(sse(deltaChunk({}, 'stop')) + sse('[DONE]'));
    expect((await it.next()).value).toEqual({ type: 'finish', finishReason: 'stop' });
    expect((await it.next()).done).toBe(true);
  });

  it('names errors after the configured provider name', async () => {
    const named = createOpenAiCompatibleProvider({ baseUrl: server.baseUrl, apiKey: 'k', model: 'm', clock, name: 'ollama' });
    answerError(401, {}, '');
    expect(named.provider).toBe('ollama');
    expect((await collect(named.stream(request()))).error).toMatchObject({ code: 'AUTH', provider: 'ollama' });
  });

  it('sends no authorization header without an API key, and lets a request override the model', async () => {
    const keyless = createOpenAiCompatibleProvider({ baseUrl: `${server.baseUrl}/`, apiKey: '', model: 'default-model', clock });
    server.handle = (r) => {
      openStream(r);
      r.res.end(sse(deltaChunk({}, 'stop')) + sse('[DONE]'));
    };
    const { error } = await collect(keyless.stream({ ...request(), config: { model: 'other-model' } }));
    expect(error).toBeUndefined();
    expect(server.requests[0]?.url).toBe('/v1/chat/completions');
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
    expect(server.requests[0]?.body).toMatchObject({ model: 'other-model' });
  });
});
