import { APICallError, InvalidResponseDataError, JSONParseError, LoadAPIKeyError, NoSuchModelError, TypeValidationError } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { classifyHttpFailure, classifyModelError, STREAM_ENDED_EARLY_MESSAGE } from '../src/model/classify-model-error.js';
import { INTERNAL_ERROR_MESSAGE, isRetryableModelErrorCode, MODEL_ERROR_KINDS, ModelProviderError, toChatStreamError } from '../src/model/model-error.js';
import { parseRetryAfterMs, retryAfterFromHeaders, retryAfterFromRecord } from '../src/model/retry-after.js';

const NOW = Date.UTC(2026, 0, 1);

describe('ModelProviderError', () => {
  it('derives retryable from the code unless told otherwise, and never keeps a negative retryAfterMs', () => {
    expect(new ModelProviderError('RATE_LIMITED', 'x', { provider: 'p' }).retryable).toBe(true);
    expect(new ModelProviderError('AUTH', 'x', { provider: 'p' }).retryable).toBe(false);
    expect(new ModelProviderError('TIMEOUT', 'x', { provider: 'p', retryable: false }).retryable).toBe(false);
    expect(new ModelProviderError('OVERLOADED', 'x', { provider: 'p', retryAfterMs: -5 }).retryAfterMs).toBe(0);
    const retryable = Object.keys(MODEL_ERROR_KINDS).filter((c) => isRetryableModelErrorCode(c as keyof typeof MODEL_ERROR_KINDS));
    expect(retryable.sort()).toEqual(['CONNECTION', 'OVERLOADED', 'RATE_LIMITED', 'SERVER_ERROR', 'TIMEOUT']);
  });

  it('converts to the wire ChatStreamError, omitting empty fields', () => {
    const err = new ModelProviderError('OVERLOADED', 'openai-compatible answered HTTP 503', { provider: 'openai-compatible', statusCode: 503, detail: 'busy' });
    expect(toChatStreamError(err)).toEqual({
      message: 'openai-compatible answered HTTP 503',
      detail: 'busy',
      kind: 'overloaded',
      provider: 'openai-compatible',
      retryable: true,
      status_code: 503,
    });
    expect(toChatStreamError(new ModelProviderError('CANCELLED', 'stop', { provider: 'demo' }))).toEqual({
      message: 'stop',
      kind: 'cancelled',
      provider: 'demo',
      retryable: false,
    });
  });
});

describe('classifyModelError (contract.md#model-errors, by text)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['context canceled', 'CANCELLED', false],
    ['context deadline exceeded', 'TIMEOUT', false],
    ['401 Unauthorized', 'AUTH', false],
    ['invalid API key', 'AUTH', false],
    ['model not found: gpt-9', 'MODEL_NOT_FOUND', false],
    ["This model's maximum context length is 8192 tokens", 'CONTEXT_LENGTH_EXCEEDED', false],
    ['You exceeded your current quota, please check your plan and billing details', 'QUOTA_EXCEEDED', false],
    ['Overloaded', 'OVERLOADED', true],
    ['rate limit exceeded', 'RATE_LIMITED', true],
    ['429 Too Many Requests', 'RATE_LIMITED', true],
    ['internal server error', 'SERVER_ERROR', true],
    ['unexpected status 502', 'SERVER_ERROR', true],
    ['read ECONNRESET', 'CONNECTION', true],
    ['connection aborted by peer', 'CONNECTION', true],
    ['This operation was aborted', 'CANCELLED', false],
    ['connect ECONNREFUSED 127.0.0.1:1', 'CONNECTION', true],
    ['unexpected EOF', 'CONNECTION', true],
    ['write EPIPE (broken pipe)', 'CONNECTION', true],
    ['request timed out', 'TIMEOUT', true],
    ['service unavailable', 'OVERLOADED', true],
    ['something odd happened', 'UNKNOWN', false],
  ];
  it.each(cases)('classifies "%s" as %s (retryable %s)', (text, code, retryable) => {
    const err = classifyModelError(new Error(text), 'p');
    expect(err).toMatchObject({ code, retryable, provider: 'p' });
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('reads codes down the cause chain and returns a ModelProviderError unchanged', () => {
    const socket = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(classifyModelError(new TypeError('fetch failed', { cause: socket }), 'p')).toMatchObject({ code: 'CONNECTION', retryable: true });
    const own = new ModelProviderError('AUTH', 'no', { provider: 'q' });
    expect(classifyModelError(own, 'p')).toBe(own);
    expect(classifyModelError('quota exceeded', 'p')).toMatchObject({ code: 'QUOTA_EXCEEDED' });
  });

  it('keeps the text of a thrown value out of the message: a fixed text per code, the value as the cause', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:443'), { code: 'ECONNREFUSED' });
    const conn = classifyModelError(socket, 'p');
    expect(conn).toMatchObject({ code: 'CONNECTION', retryable: true, message: 'the connection to the model provider failed' });
    expect(conn.cause).toBe(socket);
    const typeError = new TypeError("Cannot read properties of undefined (reading 'choices')");
    expect(classifyModelError(typeError, 'p')).toMatchObject({ code: 'UNKNOWN', kind: 'unknown', retryable: false, message: INTERNAL_ERROR_MESSAGE });
    for (const err of [socket, typeError, 'relation "chats" does not exist']) {
      const payload = JSON.stringify(toChatStreamError(classifyModelError(err, 'p')));
      expect(payload).not.toMatch(/10\.0\.0\.7|choices|relation/);
    }
  });

  it('prefers the permanent reading when a text names both kinds', () => {
    expect(classifyModelError(new Error('429 rate limit: insufficient_quota'), 'p')).toMatchObject({ code: 'QUOTA_EXCEEDED', retryable: false });
  });
});

describe('classifyHttpFailure', () => {
  const cases: Array<[number, string, boolean]> = [
    [400, 'BAD_REQUEST', false],
    [401, 'AUTH', false],
    [402, 'QUOTA_EXCEEDED', false],
    [403, 'AUTH', false],
    [404, 'MODEL_NOT_FOUND', false],
    [408, 'TIMEOUT', true],
    [413, 'CONTEXT_LENGTH_EXCEEDED', false],
    [422, 'BAD_REQUEST', false],
    [429, 'RATE_LIMITED', true],
    [500, 'SERVER_ERROR', true],
    [501, 'SERVER_ERROR', false],
    [502, 'SERVER_ERROR', true],
    [503, 'OVERLOADED', true],
    [504, 'TIMEOUT', true],
    [529, 'OVERLOADED', true],
  ];
  it.each(cases)('maps HTTP %i to %s (retryable %s)', (status, code, retryable) => {
    expect(classifyHttpFailure({ status, detail: '' }, 'p')).toMatchObject({ code, retryable, statusCode: status });
  });

  it('lets the body refine a status only towards a permanent cause', () => {
    expect(classifyHttpFailure({ status: 400, detail: 'context_length_exceeded' }, 'p').code).toBe('CONTEXT_LENGTH_EXCEEDED');
    expect(classifyHttpFailure({ status: 429, detail: 'insufficient_quota' }, 'p').code).toBe('QUOTA_EXCEEDED');
    expect(classifyHttpFailure({ status: 400, detail: 'server overloaded' }, 'p')).toMatchObject({ code: 'BAD_REQUEST', retryable: false });
    expect(classifyHttpFailure({ status: 401, detail: 'rate limit' }, 'p').code).toBe('AUTH');
  });

  it('carries retryAfterMs and the body detail', () => {
    const err = classifyHttpFailure({ status: 429, detail: 'slow down', retryAfterMs: 1500 }, 'p');
    expect(err).toMatchObject({ retryAfterMs: 1500, detail: 'slow down', message: 'p answered HTTP 429: slow down' });
  });
});

describe('retry-after parsing', () => {
  it('reads delay seconds, including fractions', () => {
    expect(parseRetryAfterMs('7', NOW)).toBe(7000);
    expect(parseRetryAfterMs(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfterMs('1.5', NOW)).toBe(1500);
  });

  it('reads an HTTP date against the given now, never negative', () => {
    expect(parseRetryAfterMs(new Date(NOW + 42_000).toUTCString(), NOW)).toBe(42_000);
    expect(parseRetryAfterMs(new Date(NOW - 5_000).toUTCString(), NOW)).toBe(0);
  });

  it('ignores missing or unusable values', () => {
    expect(parseRetryAfterMs(null, NOW)).toBeUndefined();
    expect(parseRetryAfterMs('soon', NOW)).toBeUndefined();
    expect(parseRetryAfterMs('-3', NOW)).toBeUndefined();
  });

  it('prefers retry-after-ms over retry-after in headers', () => {
    expect(retryAfterFromHeaders(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), NOW)).toBe(250);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '9' }), NOW)).toBe(9000);
    expect(retryAfterFromHeaders(new Headers(), NOW)).toBeUndefined();
  });
});

describe('classifyModelError (the AI SDK error types)', () => {
  const apiError = (statusCode: number | undefined, extra: Partial<ConstructorParameters<typeof APICallError>[0]> = {}) =>
    new APICallError({ message: 'provider words', url: 'http://x/v1/chat/completions', requestBodyValues: {}, statusCode, ...extra });

  it('reads an APICallError by its status, its retry-after headers and its error body', () => {
    const limited = classifyModelError(
      apiError(429, { responseHeaders: { 'retry-after-ms': '1500' }, data: { error: { message: 'Rate limit reached', code: 'rate_limit_exceeded' } }, isRetryable: true }),
      'p',
      NOW,
    );
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', retryable: true, statusCode: 429, retryAfterMs: 1500, detail: 'Rate limit reached (rate_limit_exceeded)', provider: 'p' });
    const dated = classifyModelError(apiError(503, { responseHeaders: { 'Retry-After': new Date(NOW + 30_000).toUTCString() } }), 'p', NOW);
    expect(dated).toMatchObject({ code: 'OVERLOADED', retryable: true, retryAfterMs: 30_000 });
    expect(classifyModelError(apiError(401), 'p')).toMatchObject({ code: 'AUTH', retryable: false, statusCode: 401 });
    expect(classifyModelError(apiError(500), 'p')).toMatchObject({ code: 'SERVER_ERROR', retryable: true });
    expect(classifyModelError(apiError(529, { responseBody: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' }), 'p')).toMatchObject({
      code: 'OVERLOADED',
      detail: 'Overloaded (overloaded_error)',
    });
    // The SDK calls 4xx other than 408/409/429 not retryable, and so do we; retryability follows our policy.
    expect(classifyModelError(apiError(429, { data: { error: { message: 'quota', code: 'insufficient_quota' } }, isRetryable: true }), 'p')).toMatchObject({ code: 'QUOTA_EXCEEDED', retryable: false });
  });

  it('reads an APICallError without an answer, or with a 2xx body that broke off, as a transport failure', () => {
    const refused = apiError(undefined, { message: 'Cannot connect to API: connect ECONNREFUSED 127.0.0.1:9', cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), isRetryable: true });
    expect(classifyModelError(refused, 'p')).toMatchObject({ code: 'CONNECTION', retryable: true, message: 'the connection to the model provider failed' });
    const broke = apiError(200, { message: 'Failed to process successful response', cause: new TypeError('terminated') });
    expect(classifyModelError(broke, 'p')).toMatchObject({ code: 'CONNECTION', retryable: true });
    const timedOut = apiError(undefined, { cause: Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }) });
    expect(classifyModelError(timedOut, 'p')).toMatchObject({ code: 'TIMEOUT', retryable: true });
  });

  it('reads a missing key as AUTH, an unknown model as MODEL_NOT_FOUND, and unparseable chunks as MALFORMED_STREAM', () => {
    expect(classifyModelError(new LoadAPIKeyError({ message: 'OpenAI API key is missing.' }), 'p')).toMatchObject({ code: 'AUTH', retryable: false });
    expect(classifyModelError(new NoSuchModelError({ modelId: 'x', modelType: 'languageModel' }), 'p')).toMatchObject({ code: 'MODEL_NOT_FOUND' });
    expect(classifyModelError(new JSONParseError({ text: '{oops', cause: new SyntaxError('x') }), 'p')).toMatchObject({ code: 'MALFORMED_STREAM', retryable: false });
    expect(classifyModelError(new TypeValidationError({ value: {}, cause: new Error('x') }), 'p')).toMatchObject({ code: 'MALFORMED_STREAM' });
    expect(classifyModelError(new InvalidResponseDataError({ data: { id: 1 }, message: 'bad tool call' }), 'p')).toMatchObject({ code: 'MALFORMED_STREAM' });
  });

  it('reads a chat-completions stream that ended without a finish reason as a retryable cut', () => {
    const ended = new InvalidResponseDataError({ data: undefined, message: 'Response stream ended without a finish reason.' });
    expect(classifyModelError(ended, 'p')).toMatchObject({ code: 'CONNECTION', retryable: true, message: STREAM_ENDED_EARLY_MESSAGE });
  });

  it('reads provider error objects sent inside a stream by their type and message', () => {
    expect(classifyModelError({ type: 'overloaded_error', message: 'Overloaded' }, 'p')).toMatchObject({ code: 'OVERLOADED', retryable: true });
    expect(classifyModelError({ message: 'Rate limit reached', type: 'tokens', code: 'rate_limit_exceeded' }, 'p')).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('reads retry-after from a plain header record in any case', () => {
    expect(retryAfterFromRecord({ 'Retry-After': '3' }, NOW)).toBe(3000);
    expect(retryAfterFromRecord({}, NOW)).toBeUndefined();
  });

  it('names content_filter as a kind that is not retried', () => {
    expect(MODEL_ERROR_KINDS.CONTENT_FILTER).toBe('content_filter');
    expect(isRetryableModelErrorCode('CONTENT_FILTER')).toBe(false);
  });
});
