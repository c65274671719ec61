// ChatdChatTransport driven by the AI SDK's own Chat (what useChat wraps) against two real replicas: a reply
// streams and equals the stored turn; stop() interrupts (the partial reply is kept, the chat goes waiting); a
// resume replaced at once by another (React StrictMode's double mount) interrupts nothing; a client tool round
// trip through addToolOutput and sendAutomaticallyWhen; regenerate replaces the last reply.
import { waitFor } from '@chatd/testkit';
import { lastAssistantMessageIsCompleteWithToolCalls, type UIMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatdChatTransport, createChat, loadUIMessages, turnMessageId } from '../src/index.js';
import { startCluster, useChatdDatabase, type Cluster } from './helpers/cluster.js';
import { TestChat } from './helpers/test-chat.js';

const db = useChatdDatabase();
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const interrupts = (cluster: Cluster) => cluster.requests.filter((r) => r.startsWith('POST') && r.endsWith('/interrupt')).length;
const textOf = (m: UIMessage | undefined) => (m?.parts ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');

describe('transport under the AI SDK Chat', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(db.url);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('streams a reply that equals the stored turn, with the turn id', async () => {
    const client = cluster.client({ transport: 'sse', pick: () => 1 });
    const chat0 = await createChat(client, { content: 'first' });
    await waitFor(async () => (await client.get(chat0.id)).status === 'waiting', { what: 'the first turn', timeoutMs: 15_000 });
    const chat = new TestChat({ id: chat0.id, messages: await loadUIMessages(client, chat0.id), transport: new ChatdChatTransport({ client }) });
    await chat.sendMessage({ text: 'tell me more' });
    const stored = await loadUIMessages(client, chat0.id);
    const last = stored.at(-1)!;
    expect(last.id).toBe(turnMessageId(stored.at(-2)!.id));
    expect(plain(chat.messages.at(-1))).toEqual(plain(last));
    expect(textOf(last).length).toBeGreaterThan(0);
  });

  it('stop() interrupts the run: the chat goes waiting and keeps the partial reply', async () => {
    const client = cluster.client({ transport: 'sse' });
    const chat0 = await createChat(client, { content: 'first' });
    await waitFor(async () => (await client.get(chat0.id)).status === 'waiting', { what: 'the first turn', timeoutMs: 15_000 });
    const before = interrupts(cluster);
    let chat: TestChat;
    const stopped = new Promise<void>((resolve) => {
      chat = new TestChat({
        id: chat0.id,
        messages: [],
        transport: new ChatdChatTransport({ client }),
        onFinish: () => resolve(),
      });
    });
    const sending = chat!.sendMessage({ text: 'a long answer please' });
    await waitFor(() => textOf(chat.messages.at(-1)).length > 0 && chat.messages.at(-1)?.role === 'assistant', { what: 'the first text', timeoutMs: 15_000 });
    await chat!.stop();
    await sending;
    await stopped;
    expect(interrupts(cluster)).toBe(before + 1);
    await waitFor(async () => (await client.get(chat0.id)).status === 'waiting', { what: 'waiting after the interrupt', timeoutMs: 15_000 });
    const stored = (await loadUIMessages(client, chat0.id)).at(-1)!;
    expect(stored.role).toBe('assistant');
    // The reply stopped before its end (the demo reply has 60 words) and what was shown is its start.
    expect(textOf(stored).split(' ').length).toBeLessThan(60);
    expect(textOf(stored).startsWith(textOf(chat!.messages.at(-1)))).toBe(true);
  });

  it('a resume replaced at once by another (StrictMode) interrupts nothing and shows the turn once', async () => {
    const client = cluster.client({ transport: 'websocket' });
    const before = interrupts(cluster);
    const chat0 = await createChat(client, { content: 'resume me' });
    const chat = new TestChat({ id: chat0.id, messages: await loadUIMessages(client, chat0.id), transport: new ChatdChatTransport({ client, transport: 'websocket' }) });
    const first = chat.resumeStream();
    const second = chat.resumeStream();
    await Promise.all([first, second]);
    expect(interrupts(cluster)).toBe(before);
    const stored = await loadUIMessages(client, chat0.id);
    expect(plain(chat.messages)).toEqual(plain(stored));
  });

  it('a resume that replaces a streaming resume interrupts nothing; the replay replaces the partial message', async () => {
    const client = cluster.client({ transport: 'sse' });
    const before = interrupts(cluster);
    const chat0 = await createChat(client, { content: 'resume me while streaming' });
    const chat = new TestChat({ id: chat0.id, messages: await loadUIMessages(client, chat0.id), transport: new ChatdChatTransport({ client }) });
    const first = chat.resumeStream();
    await waitFor(() => textOf(chat.messages.at(-1)).length > 0 && chat.messages.at(-1)?.role === 'assistant', { what: 'streaming', timeoutMs: 15_000 });
    const second = chat.resumeStream();
    await Promise.all([first, second]);
    await waitFor(async () => (await client.get(chat0.id)).status === 'waiting', { what: 'the turn', timeoutMs: 15_000 });
    expect(interrupts(cluster)).toBe(before);
    const stored = await loadUIMessages(client, chat0.id);
    expect(textOf(stored.at(-1)).split(' ')).toHaveLength(60);
    expect(plain(chat.messages)).toEqual(plain(stored));
  });

  it('a client tool round trip: addToolOutput sends the output and the turn goes on in the same message', async () => {
    const client = cluster.client({ transport: 'sse' });
    const chat0 = await createChat(client, { content: 'call confirm {"question":"ship it?"}', tools: [{ name: 'confirm', input_schema: { type: 'object' } }] });
    await waitFor(async () => (await client.get(chat0.id)).status === 'requires_action', { what: 'requires_action', timeoutMs: 15_000 });
    const chat = new TestChat({
      id: chat0.id,
      messages: await loadUIMessages(client, chat0.id),
      transport: new ChatdChatTransport({ client }),
      sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
    });
    const call = chat.messages.at(-1)!.parts.find((p) => p.type === 'tool-confirm') as { toolCallId: string; state: string };
    expect(call.state).toBe('input-available');
    await chat.addToolOutput({ tool: 'confirm', toolCallId: call.toolCallId, output: 'yes' });
    await waitFor(() => chat.status === 'ready' && textOf(chat.messages.at(-1)).includes('confirm returned'), { what: 'the continuation', timeoutMs: 15_000 });
    const stored = await loadUIMessages(client, chat0.id);
    expect(plain(chat.messages)).toEqual(plain(stored));
    expect(stored).toHaveLength(2);
  });

  it('regenerate replaces the last reply with a new turn', async () => {
    const client = cluster.client({ transport: 'sse' });
    const chat0 = await createChat(client, { content: 'call add {"numbers":[2,3]}' });
    await waitFor(async () => (await client.get(chat0.id)).status === 'waiting', { what: 'the first turn', timeoutMs: 15_000 });
    const chat = new TestChat({ id: chat0.id, messages: await loadUIMessages(client, chat0.id), transport: new ChatdChatTransport({ client }) });
    const oldId = chat.messages.at(-1)!.id;
    await chat.regenerate();
    const stored = await loadUIMessages(client, chat0.id);
    expect(stored).toHaveLength(2);
    expect(stored.at(-1)!.id).not.toBe(oldId);
    expect(plain(chat.messages.at(-1))).toEqual(plain(stored.at(-1)));
  });
});
