// ChatdChatTransport on a scripted ChatClient (no server): the turn's end is decided by the chat's status now, so a
// stale terminal status (a NOTIFY of the previous turn's end reaching the new subscription) does not end the turn.
import type { ChatClient } from '@chatd/client';
import type { Chat, ChatMessage, ChatStatus, ChatStreamEvent } from '@chatd/protocol';
import { readUIMessageStream, type UIMessage } from 'ai';
import { describe, expect, it } from 'vitest';
import { ChatdChatTransport, historyToUIMessages } from '../src/index.js';
import { CHAT, messageEvent, msg, partEvent, statusEvent } from './ui-assembly.js';

const RUN = '33333333-3333-4333-8333-333333333333';

/** A client whose stream yields `events` and whose chat status is `status()` when asked. */
function scriptedClient(history: ChatMessage[], events: ChatStreamEvent[], status: () => ChatStatus): ChatClient {
  const missing = () => {
    throw new Error('not scripted');
  };
  return {
    async post(_chatId, content) {
      const m = msg(20, 'user', content as ChatMessage['content'] & object);
      history.push(m);
      return { queued: false, message: m };
    },
    async get() {
      return { id: CHAT, status: status() } as Chat;
    },
    async messages(_chatId, o = {}) {
      const after = o.afterId === undefined ? 0 : Number(o.afterId);
      const page = after > 0 ? history.filter((m) => m.id > after) : [...history].reverse();
      return { messages: page, queued_messages: [], has_more: false };
    },
    async *stream() {
      for (const e of events) yield e;
    },
    async interrupt() {
      return missing();
    },
    create: missing,
    editMessage: missing,
    list: missing,
    update: missing,
    submitToolResults: missing,
    uploadFile: missing,
    getFile: missing,
    replyText: missing,
  } as ChatClient;
}

describe('ChatdChatTransport on a scripted client', () => {
  it('a stale terminal status does not end the turn; the status the chat has now does', async () => {
    const history: ChatMessage[] = [msg(10, 'user', [{ type: 'text', text: 'hi' }]), msg(11, 'assistant', [{ type: 'text', text: 'old' }])];
    const reply = msg(21, 'assistant', [{ type: 'text', text: 'new reply' }], { run_id: RUN, last_seq: 2 });
    let status: ChatStatus = 'running';
    const events: ChatStreamEvent[] = [
      statusEvent('waiting'), // the previous turn's end, delivered late
      partEvent(RUN, 1, { type: 'text', text: 'new ' }),
      partEvent(RUN, 2, { type: 'text', text: 'reply' }),
      messageEvent(reply),
    ];
    const client = scriptedClient(history, events, () => status);
    // The reply is persisted and the chat waits once the stream has delivered it.
    events.push({ ...statusEvent('waiting') });
    const transport = new ChatdChatTransport({ client });
    const origGet = client.get.bind(client);
    let gets = 0;
    client.get = async (id) => {
      gets++;
      if (gets === 2) {
        status = 'waiting';
        history.push(reply);
      }
      return origGet(id);
    };
    const stream = await transport.sendMessages({ trigger: 'submit-message', chatId: CHAT, messageId: undefined, messages: [{ id: 'x', role: 'user', parts: [{ type: 'text', text: 'again' }] }], abortSignal: undefined });
    let last: UIMessage | undefined;
    for await (const m of readUIMessageStream({ stream, terminateOnError: true })) last = structuredClone(m);
    expect(gets).toBe(2);
    expect(JSON.parse(JSON.stringify(last))).toEqual(JSON.parse(JSON.stringify(historyToUIMessages(history).at(-1))));
    expect(last!.id).toBe('chatd-turn-20');
  });

  it('tool outputs with no call waiting for them are refused before any request (no empty answer to loop on)', async () => {
    const call = msg(11, 'assistant', [{ type: 'tool-call', tool_call_id: 'k1', tool_name: 'confirm', args: {} }], { run_id: RUN, last_seq: 1 });
    const answered = msg(12, 'tool', [{ type: 'tool-result', tool_call_id: 'k1', tool_name: 'confirm', result: { error: 'cancelled' }, is_error: true }]);
    const history = [msg(10, 'user', [{ type: 'text', text: 'hi' }]), call, answered];
    const client = scriptedClient(history, [], () => 'waiting');
    const submitted: unknown[] = [];
    client.submitToolResults = async (_id, results) => {
      submitted.push(results);
    };
    const ui = historyToUIMessages(history);
    const transport = new ChatdChatTransport({ client });
    await expect(
      transport.sendMessages({ trigger: 'submit-message', chatId: CHAT, messageId: undefined, messages: ui, abortSignal: undefined }),
    ).rejects.toThrow(/no client tool call/);
    expect(submitted).toEqual([]);
  });

  it('a send aborted while its message was being posted interrupts the run and answers a closed stream', async () => {
    const history: ChatMessage[] = [msg(10, 'user', [{ type: 'text', text: 'hi' }])];
    const client = scriptedClient(history, [], () => 'pending');
    const interrupted: string[] = [];
    client.interrupt = async (id) => {
      interrupted.push(id);
      return { id, status: 'waiting' } as Chat;
    };
    const ac = new AbortController();
    const post = client.post.bind(client);
    client.post = async (id, content, o) => {
      ac.abort();
      return post(id, content, o);
    };
    const transport = new ChatdChatTransport({ client });
    const stream = await transport.sendMessages({ trigger: 'submit-message', chatId: CHAT, messageId: undefined, messages: [{ id: 'x', role: 'user', parts: [{ type: 'text', text: 'stop me' }] }], abortSignal: ac.signal });
    const chunks: unknown[] = [];
    for await (const c of stream) chunks.push(c);
    await Promise.resolve();
    expect(chunks).toEqual([]);
    expect(interrupted).toEqual([CHAT]);
  });

  it('a chat error ends the stream with error{errorText} and no finish; history_reset ends it with finish', async () => {
    const history: ChatMessage[] = [msg(10, 'user', [{ type: 'text', text: 'hi' }])];
    const failing: ChatStreamEvent[] = [
      partEvent(RUN, 1, { type: 'text', text: 'par' }),
      { type: 'error', chat_id: CHAT, error: { message: 'the model is down', kind: 'connection' } },
      statusEvent('error'),
    ];
    const client = scriptedClient(history, failing, () => 'error');
    const send = () =>
      new ChatdChatTransport({ client }).sendMessages({ trigger: 'submit-message', chatId: CHAT, messageId: undefined, messages: [{ id: 'x', role: 'user', parts: [{ type: 'text', text: 'go' }] }], abortSignal: undefined });
    const chunks: { type: string; errorText?: string }[] = [];
    for await (const c of await send()) chunks.push(c as { type: string });
    expect(chunks.map((c) => c.type)).toEqual(['start', 'start-step', 'text-start', 'text-delta', 'text-end', 'finish-step', 'error']);
    expect(chunks.at(-1)!.errorText).toBe('the model is down');

    const resetClient = scriptedClient([msg(10, 'user', [{ type: 'text', text: 'hi' }])], [partEvent(RUN, 1, { type: 'text', text: 'x' }), { type: 'history_reset', chat_id: CHAT }], () => 'pending');
    const reset: string[] = [];
    const stream = await new ChatdChatTransport({ client: resetClient }).sendMessages({ trigger: 'submit-message', chatId: CHAT, messageId: undefined, messages: [{ id: 'x', role: 'user', parts: [{ type: 'text', text: 'go' }] }], abortSignal: undefined });
    for await (const c of stream) reset.push(c.type);
    expect(reset.at(-1)).toBe('finish');
  });
});
