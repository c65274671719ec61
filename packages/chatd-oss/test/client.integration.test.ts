// createChatClient against a real replica: every REST call, typed errors from real error answers,
// the stream's backoff on the injected (mock) clock while the server refuses connections, refusals
// that end the stream, and replyText for a plain reply and for a queued one.
import { createMockClock, createRealClock } from '@chatd/clock';
import { createTcpProxy, useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatClient, isChatdClientError, RECONNECT_TIMER_TAG, UNAVAILABLE_CODE, type ChatClient, type StreamConnectionEnd } from '@chatd/client';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createDemoLanguageModel, demoReplyTokens } from '../src/model/demo-model.js';
import { ModelProviderError } from '../src/model/model-error.js';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { fixedModels, lastUserText } from './helpers/test-models.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import type { ChatStreamEvent } from '@chatd/protocol';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const REPLY_TOKENS = 16;
let replica: RunningChatd;
let token: string;
let client: ChatClient;

/** The demo model, except that a prompt containing `please fail` fails the run (not retryable). */
function createFailingDemo(): LanguageModelV3 {
  const demo = createDemoLanguageModel({ clock: createRealClock(), tokensPerSecond: 200, replyTokens: REPLY_TOKENS });
  return {
    ...demo,
    async doStream(call) {
      if (lastUserText(call).includes('please fail')) throw new ModelProviderError('AUTH', 'the key was refused', { provider: 'demo' });
      return demo.doStream(call);
    },
  };
}

beforeAll(async () => {
  replica = await startTestReplica(db.url, { models: fixedModels(createFailingDemo()) });
  ({ token } = await userToken(replica, 'client-user'));
  client = createChatClient({ baseUrl: replica.url, token });
});
afterAll(async () => {
  await replica?.close();
});

const reply = (prompt: string) => demoReplyTokens(prompt, REPLY_TOKENS).join('');

async function expectChatdError(p: Promise<unknown>, code: string, message?: string) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isChatdClientError(err), `expected a ChatdClientError ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  if (message !== undefined) expect((err as Error).message).toBe(message);
  return err as { detail?: string; validations?: { field: string; detail: string }[] };
}

describe('createChatClient: editMessage', () => {
  it('edits a user message (deleted_message_ids, a new reply), regenerates the last reply, and maps the 400 and 404', async () => {
    const chat = await client.create('first words');
    await client.replyText(chat.id);
    const [reply1, user1] = (await client.messages(chat.id)).messages;
    const edited = await client.editMessage(chat.id, user1!.id, { content: 'other words' });
    expect(edited.deleted_message_ids).toEqual([user1!.id, reply1!.id]);
    expect(edited.message).toMatchObject({ role: 'user', content: [{ type: 'text', text: 'other words' }] });
    expect(await client.replyText(chat.id, { afterId: edited.message.id })).toMatchObject({ status: 'waiting', text: reply('other words') });
    // Regenerate: the last user message edited with its own content.
    const again = await client.editMessage(chat.id, edited.message.id, { content: edited.message.content as { type: 'text'; text: string }[] });
    expect(await client.replyText(chat.id, { afterId: again.message.id })).toMatchObject({ status: 'waiting', text: reply('other words') });
    expect((await client.messages(chat.id)).messages.map((m) => m.role)).toEqual(['assistant', 'user']);
    const last = (await client.messages(chat.id)).messages[0]!;
    const notUser = await expectChatdError(client.editMessage(chat.id, last.id, { content: 'x' }), 'INVALID_INPUT');
    expect(notUser.validations?.[0]?.field).toBe('message');
    await expectChatdError(client.editMessage(chat.id, user1!.id, { content: 'x' }), 'NOT_FOUND');
  });
});

describe('createChatClient: REST calls', () => {
  it('create, get, list, update, messages, post (direct and queued) and interrupt with wait', async () => {
    const chat = await client.create('hello from the client', { labels: { team: 'a' }, clientType: 'api' });
    expect(chat).toMatchObject({ title: 'hello from the client', archived: false });
    expect((await client.get(chat.id)).id).toBe(chat.id);
    const done = await client.replyText(chat.id);
    expect(done).toMatchObject({ status: 'waiting', text: reply('hello from the client') });
    const page = await client.messages(chat.id, { limit: 1 });
    expect(page.messages).toHaveLength(1);
    expect(page.has_more).toBe(true);
    expect(page.messages[0]?.role).toBe('assistant');
    const older = await client.messages(chat.id, { beforeId: page.messages[0]!.id });
    expect(older.messages.map((m) => m.role)).toEqual(['user']);

    const direct = await client.post(chat.id, 'second question');
    expect(direct.queued).toBe(false);
    expect(direct.message?.role).toBe('user');
    // While that reply runs, another post queues.
    const queued = await client.post(chat.id, 'third question');
    expect(queued.queued).toBe(true);
    expect(queued.queued_message?.content).toEqual([{ type: 'text', text: 'third question' }]);
    const stopped = await client.interrupt(chat.id, { wait: true });
    expect(stopped.id).toBe(chat.id);

    await client.update(chat.id, { title: 'Renamed by client' });
    expect((await client.get(chat.id)).title).toBe('Renamed by client');
    await client.update(chat.id, { archived: true });
    expect((await client.list()).map((c) => c.id)).not.toContain(chat.id);
    expect((await client.list({ archived: true, limit: 10 })).map((c) => c.id)).toContain(chat.id);
  });

  it('error answers become typed ChatdErrors with the body message, detail and validations', async () => {
    const invalid = await expectChatdError(client.create([]), 'INVALID_INPUT');
    expect(invalid.validations?.length ?? (invalid.detail ? 1 : 0)).toBeGreaterThan(0);
    await expectChatdError(client.get('3f0e8ae4-0000-4000-8000-0000000000ff'), 'NOT_FOUND', 'Resource not found or you do not have access to this resource.');
    await expectChatdError(createChatClient({ baseUrl: replica.url, token: 'chatd_wrong' }).list(), 'UNAUTHORIZED');
    await expectChatdError(client.create('x', { organizationId: '3f0e8ae4-0000-4000-8000-000000000001' }), 'FORBIDDEN');
    await expectChatdError(client.create('y'.repeat(300 * 1024)), 'PAYLOAD_TOO_LARGE');
    // Nothing listens there: the request fails before any answer.
    const gone = await createTcpProxy({ port: replica.port });
    const port = gone.port;
    await gone.close();
    await expectChatdError(createChatClient({ baseUrl: `http://127.0.0.1:${port}`, token }).list(), UNAVAILABLE_CODE);
  });
});

describe('createChatClient: 429 answers', () => {
  it('a full queue is QUEUE_FULL; the failed-authentication limit is RATE_LIMITED with retryAfterMs from Retry-After', async () => {
    // Its own replica: a one-message queue, a failed-auth burst of 2, and replies slow enough to queue behind.
    const clock = createRealClock();
    const strict = await startTestReplica(db.url, {
      config: { databaseUrl: db.url, acquireIntervalMs: 50, heartbeatIntervalMs: 1000, staleAfterMs: 5000, maxQueueSize: 1, authFailureBurst: 2, authFailuresPerMinute: 1 },
      models: fixedModels(createDemoLanguageModel({ clock, tokensPerSecond: 20, replyTokens: 400 })),
    });
    try {
      const c = createChatClient({ baseUrl: strict.url, token });
      const chat = await c.create('a long reply to queue behind');
      await waitFor(async () => (await c.get(chat.id)).status === 'running', { what: 'the reply to run', timeoutMs: 20_000 });
      expect((await c.post(chat.id, 'queued one')).queued).toBe(true);
      const full = await expectChatdError(c.post(chat.id, 'one too many'), 'QUEUE_FULL');
      expect(full).toMatchObject({ status: 429, retryAfterMs: undefined });
      await c.interrupt(chat.id);
      const wrong = createChatClient({ baseUrl: strict.url, token: 'chatd_wrong' });
      await expectChatdError(wrong.list(), 'UNAUTHORIZED');
      await expectChatdError(wrong.list(), 'UNAUTHORIZED');
      const limited = await expectChatdError(wrong.list(), 'RATE_LIMITED');
      expect(limited).toMatchObject({ status: 429, message: 'Too many failed authentications.' });
      expect((limited as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThanOrEqual(1000);
    } finally {
      await strict.close();
    }
  });
});

describe('createChatClient: stream', () => {
  it('backs off on the injected clock while the server refuses connections, then streams', async () => {
    const chat = await client.create('wait for me');
    await client.replyText(chat.id);
    const proxy = await createTcpProxy({ port: replica.port });
    proxy.refuse(true);
    const clock = createMockClock();
    const ends: StreamConnectionEnd[] = [];
    const slow = createChatClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, token, clock, reconnect: { minDelayMs: 1000, maxDelayMs: 8000, random: () => 1 } });
    const stop = new AbortController();
    const events: ChatStreamEvent[] = [];
    const consumed = (async () => {
      for await (const e of slow.stream(chat.id, { signal: stop.signal, onReconnect: (end) => ends.push(end) })) {
        events.push(e);
        if (e.type === 'message' && e.message.role === 'assistant') stop.abort();
      }
    })();
    try {
      // Each refused attempt arms one reconnect timer, each twice as long as the last.
      for (const delayMs of [1000, 2000, 4000]) {
        const timer = await clock.waitForTimer({ tag: RECONNECT_TIMER_TAG, delayMs });
        expect(timer.delayMs).toBe(delayMs);
        expect(events).toEqual([]);
        if (delayMs === 4000) proxy.refuse(false);
        await clock.advance(delayMs);
      }
      await consumed;
      expect(ends.map((e) => e.delayMs)).toEqual([1000, 2000, 4000]);
      expect(events[0]?.type).toBe('status');
      expect(events.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.role : ''))).toEqual(['user', 'assistant']);
    } finally {
      stop.abort();
      await proxy.close();
    }
  });

  it('ends with a ChatdError when the server refuses the stream for good (404, 401)', async () => {
    const iterate = async (c: ChatClient, chatId: string) => {
      for await (const e of c.stream(chatId)) void e;
    };
    await expectChatdError(iterate(client, '3f0e8ae4-0000-4000-8000-0000000000fe'), 'NOT_FOUND');
    const chat = await client.create('not yours');
    await expectChatdError(iterate(createChatClient({ baseUrl: replica.url, token: 'chatd_wrong' }), chat.id), 'UNAUTHORIZED');
  });
});

describe('createChatClient: replyText', () => {
  it("returns the reply to the message just posted, its deltas streamed to onText", async () => {
    const chat = await client.create('first things first');
    await client.replyText(chat.id);
    const posted = await client.post(chat.id, 'and now the follow-up');
    let streamed = '';
    const r = await client.replyText(chat.id, { afterId: posted.message!.id, onText: (t) => (streamed += t) });
    expect(r.status).toBe('waiting');
    expect(r.text).toBe(reply('and now the follow-up'));
    expect(r.messages).toHaveLength(1);
    expect(streamed).toBe(r.text);
    // Asked again once the chat rests, the same reply comes from the record.
    const again = await client.replyText(chat.id);
    expect(again).toMatchObject({ status: 'waiting', text: r.text });
    expect(again.messages.map((m) => m.id)).toEqual(r.messages.map((m) => m.id));
  });

  it('follows a queued message to its own reply (the chat never rests in between)', async () => {
    const chat = await client.create('the long one first');
    const queued = await client.post(chat.id, 'then the queued one');
    expect(queued.queued).toBe(true);
    const r = await client.replyText(chat.id);
    expect(r.text).toBe(reply('then the queued one'));
    const page = await client.messages(chat.id);
    expect(page.messages.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant', 'user']);
  });

  it('a failed run answers status error with the run\'s error payload', async () => {
    const chat = await client.create('please fail now');
    const r = await client.replyText(chat.id);
    expect(r.status).toBe('error');
    expect(r.text).toBe('');
    expect(r.error?.message).toContain('the key was refused');
    // A chat that had already failed before the call answers the same.
    const chat2 = await client.create('please fail again');
    await waitFor(async () => (await client.get(chat2.id)).status === 'error', { what: 'the run to fail' });
    expect(await client.replyText(chat2.id)).toMatchObject({ status: 'error', text: '', error: { message: expect.stringContaining('the key was refused') } });
  });

  it('an aborted replyText rejects with the abort reason', async () => {
    const chat = await client.create('never mind');
    const stop = new AbortController();
    const pending = client.replyText(chat.id, { signal: stop.signal, afterId: Number.MAX_SAFE_INTEGER });
    stop.abort(new Error('user pressed ctrl-c'));
    await expect(pending).rejects.toThrow('user pressed ctrl-c');
  });
});

describe('createChatClient: client-executed tools against a real replica (issue 27)', () => {
  it('create with unsafeDynamicTools, replyText ends in requires_action with the call, submitToolResults, replyText reads the reply', async () => {
    const chat = await client.create('call read_note {"name":"todo"}', {
      unsafeDynamicTools: [{ name: 'read_note', description: 'Reads a note on the device.', input_schema: { type: 'object', properties: { name: { type: 'string' } } } }],
    });
    const seen: string[] = [];
    const first = await client.replyText(chat.id, { onActionRequired: (calls) => seen.push(...calls.map((c) => c.tool_name)) });
    expect(first.status).toBe('requires_action');
    expect(seen).toEqual(['read_note']);
    const call = first.toolCalls![0]!;
    expect(JSON.parse(call.args)).toEqual({ name: 'todo' });
    await client.submitToolResults(chat.id, [{ tool_call_id: call.tool_call_id, output: { text: 'buy milk' } }]);
    // A second submission of the same calls is refused: the chat no longer waits for them.
    await expectChatdError(client.submitToolResults(chat.id, [{ tool_call_id: call.tool_call_id, output: 'again' }]), 'CONFLICT');
    const second = await client.replyText(chat.id);
    expect(second.status).toBe('waiting');
    expect(second.text).toContain('read_note returned {"text":"buy milk"}');
  });
});
