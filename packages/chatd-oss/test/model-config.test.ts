import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import { createModelProvider } from '../src/model/create-model-provider.js';
import { DEMO_TOKEN_TIMER_TAG } from '../src/model/demo-model-provider.js';
import { DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL, modelConfigFromEnv } from '../src/model/model-config.js';
import type { ModelStreamEvent } from '../src/model/model-provider.js';
import { deltaChunk, sse, startSseTestServer } from './helpers/sse-server.js';

describe('modelConfigFromEnv', () => {
  it('picks the demo model when no OpenAI variable is set, with its pace from the environment', () => {
    expect(modelConfigFromEnv({})).toEqual({ provider: 'demo', model: 'demo', tokensPerSecond: 50, replyTokens: 200 });
    expect(modelConfigFromEnv({ CHATD_MODEL: 'ignored', CHATD_DEMO_REPLY_TOKENS: '3', OPENAI_API_KEY: ' ' })).toEqual({
      provider: 'demo',
      model: 'demo',
      tokensPerSecond: 50,
      replyTokens: 3,
    });
  });

  it('picks an OpenAI-compatible endpoint when OPENAI_BASE_URL is set, with CHATD_MODEL as the model', () => {
    expect(modelConfigFromEnv({ OPENAI_BASE_URL: 'http://localhost:11434/v1', CHATD_MODEL: 'llama3.2' })).toEqual({
      provider: 'openai-compatible',
      baseUrl: 'http://localhost:11434/v1',
      apiKey: '',
      model: 'llama3.2',
    });
  });

  it('picks OpenAI itself when only OPENAI_API_KEY is set', () => {
    expect(modelConfigFromEnv({ OPENAI_API_KEY: 'sk-x' })).toEqual({
      provider: 'openai-compatible',
      baseUrl: DEFAULT_OPENAI_BASE_URL,
      apiKey: 'sk-x',
      model: DEFAULT_OPENAI_MODEL,
    });
  });

  it('rejects a base URL that is not http(s)', () => {
    expect(() => modelConfigFromEnv({ OPENAI_BASE_URL: 'ftp://x' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => modelConfigFromEnv({ OPENAI_BASE_URL: 'not a url' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});

describe('createModelProvider', () => {
  it('builds the demo model from its config', async () => {
    const clock = createMockClock();
    const model = createModelProvider({ provider: 'demo', model: 'demo', tokensPerSecond: 10, replyTokens: 1 }, { clock });
    expect(model).toMatchObject({ provider: 'demo', model: 'demo' });
    const events: ModelStreamEvent[] = [];
    const done = (async () => {
      for await (const e of model.stream({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], signal: new AbortController().signal })) events.push(e);
    })();
    const timer = await clock.waitForTimer({ tag: DEMO_TOKEN_TIMER_TAG });
    expect(timer.delayMs).toBe(100);
    await clock.advanceNext();
    await done;
    expect(events.map((e) => e.type)).toEqual(['text-delta', 'finish']);
  });

  it('builds an OpenAI-compatible provider that talks to the configured endpoint', async () => {
    const server = await startSseTestServer();
    try {
      server.handle = (r) => {
        r.res.writeHead(200, { 'content-type': 'text/event-stream' });
        r.res.end(sse(deltaChunk({ content: 'ok' }, 'stop')) + sse('[DONE]'));
      };
      const config = modelConfigFromEnv({ OPENAI_BASE_URL: server.baseUrl, OPENAI_API_KEY: 'k', CHATD_MODEL: 'm1' });
      const model = createModelProvider(config, { clock: createMockClock() });
      expect(model).toMatchObject({ provider: 'openai-compatible', model: 'm1' });
      const events: ModelStreamEvent[] = [];
      for await (const e of model.stream({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], signal: new AbortController().signal })) events.push(e);
      expect(events).toEqual([{ type: 'text-delta', text: 'ok' }, { type: 'finish', finishReason: 'stop' }]);
      expect(server.requests[0]?.headers.authorization).toBe('Bearer k');
    } finally {
      await server.close();
    }
  });
});
