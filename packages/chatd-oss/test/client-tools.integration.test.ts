// Client-executed tools over the public API on two replicas of one database (issue 27, contract.md#client-tools):
// `unsafe_dynamic_tools` on create (and its 400s), the demo model calling a client tool, `requires_action` with
// `action_required` on the stream socket (live and in a snapshot) and the watch socket, `POST /{chat}/tool-results`
// on the other replica with every refusal, server tools of the same step first, and the "cancelled" answers of a
// new message and of an interrupt.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import type { ChatMessage, ChatStreamEvent } from '@chatd/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import type { ServerTool } from '../src/tools/server-tool.js';
import { apiClient, hasStatus, openStream, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const add: ServerTool<{ a: number; b: number }> = {
  name: 'add',
  inputSchema: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => a + b,
};
const pickColor = { name: 'pick_color', description: 'Asks the user for a colour.', input_schema: { type: 'object', properties: { hint: { type: 'string' } } } };

let a: RunningChatd;
let b: RunningChatd;
let token: string;
let apiA: ReturnType<typeof apiClient>;
let apiB: ReturnType<typeof apiClient>;
beforeEach(async () => {
  a = await startTestReplica(db.url, { tools: [add] });
  b = await startTestReplica(db.url, { tools: [add] });
  ({ token } = await userToken(a, 'client-tools-user'));
  apiA = apiClient(a.url, token);
  apiB = apiClient(b.url, token);
});
afterEach(async () => {
  await Promise.all([a.close(), b.close()]);
});

function openWatch(url: string) {
  const frames: any[] = [];
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/experimental/chats/watch`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  ws.on('error', () => {});
  const ready = new Promise<void>((resolve) => ws.once('ping', () => resolve()));
  return { frames, ready, close: () => ws.close() };
}

const actionRequired = (events: ChatStreamEvent[]) => events.filter((e): e is Extract<ChatStreamEvent, { type: 'action_required' }> => e.type === 'action_required');

async function messages(api: ReturnType<typeof apiClient>, chatId: string): Promise<ChatMessage[]> {
  const r = await api('GET', `/${chatId}/messages`);
  return (r.body.messages as ChatMessage[]).slice().reverse();
}

/** Creates a chat with the client tool whose message calls it, and waits (over REST) for `requires_action`. */
async function waitingChat(text = 'call pick_color {"hint":"warm"}'): Promise<string> {
  const created = await apiA('POST', '', { content: text, unsafe_dynamic_tools: [pickColor] });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  await waitFor(async () => (await apiA('GET', `/${id}`)).body.status === 'requires_action', { what: 'requires_action', timeoutMs: 15_000 });
  return id;
}

describe('client-executed tools', () => {
  it('round trip on two replicas: action_required on the stream and watch sockets of B, results on B, the reply reads them', async () => {
    const watch = openWatch(b.url);
    await watch.ready;
    const created = await apiA('POST', '', { content: 'call pick_color {"hint":"warm"}', unsafe_dynamic_tools: [pickColor] });
    expect(created.status).toBe(201);
    const chatId = created.body.id as string;
    const stream = openStream(b.url, chatId, token);
    await stream.until((e) => actionRequired(e).length > 0, 'action_required');
    const [ev] = actionRequired(stream.events);
    expect(ev!.action_required.tool_calls).toHaveLength(1);
    const call = ev!.action_required.tool_calls[0]!;
    expect(call).toMatchObject({ tool_name: 'pick_color' });
    expect(JSON.parse(call.args)).toEqual({ hint: 'warm' });
    // The status comes first, then the event.
    const statusAt = stream.events.findIndex((e) => e.type === 'status' && e.status.status === 'requires_action');
    expect(statusAt).toBeGreaterThanOrEqual(0);
    expect(statusAt).toBeLessThan(stream.events.indexOf(ev!));
    await waitFor(() => watch.frames.some((f) => f.kind === 'action_required'), { what: 'the watch frame' });
    const frame = watch.frames.find((f) => f.kind === 'action_required');
    expect(frame.chat).toMatchObject({ id: chatId, status: 'requires_action' });
    expect(frame.tool_calls).toEqual([call]);

    const r = await apiB('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: call.tool_call_id, output: { color: 'red' } }] });
    expect(r.status).toBe(204);
    await stream.until((e) => e.some((x) => x.type === 'message' && x.message.role === 'assistant' && JSON.stringify(x.message.content).includes('pick_color returned')) && hasStatus(e, 'waiting'), 'the reply');
    stream.close();
    watch.close();
    const history = await messages(apiA, chatId);
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(history[2]!.content).toEqual([{ type: 'tool-result', tool_call_id: call.tool_call_id, tool_name: 'pick_color', result: { color: 'red' } }]);
    expect(JSON.stringify(history[3]!.content)).toContain('pick_color returned {\\"color\\":\\"red\\"}');
  });

  it('every refusal of tool-results: missing, unknown, repeated in one body, wrong status, a repeat, another user (404); none changes anything', async () => {
    const chatId = await waitingChat();
    const pending = (await messages(apiA, chatId))[1]!.content![0] as { tool_call_id: string };
    const id = pending.tool_call_id;
    const missing = await apiB('POST', `/${chatId}/tool-results`, { results: [] });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body.validations)).toContain(id);
    const unknown = await apiB('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: id, output: 1 }, { tool_call_id: 'nope', output: 2 }] });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body.validations)).toContain('nope');
    const twice = await apiB('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: id, output: 1 }, { tool_call_id: id, output: 2 }] });
    expect(twice.status).toBe(400);
    const noOutput = await apiB('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: id }] });
    expect(noOutput.status).toBe(400);
    const other = await userToken(a, 'someone-else');
    const foreign = await apiClient(b.url, other.token)('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: id, output: 1 }] });
    expect(foreign.status).toBe(404);
    expect((await apiA('GET', `/${chatId}`)).body.status).toBe('requires_action');
    expect(await messages(apiA, chatId)).toHaveLength(2);

    expect((await apiB('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: id, output: 'blue', is_error: false }] })).status).toBe(204);
    const repeat = await apiA('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: id, output: 'blue' }] });
    expect(repeat.status).toBe(409);
    await waitFor(async () => (await apiA('GET', `/${chatId}`)).body.status === 'waiting', { what: 'the reply', timeoutMs: 15_000 });
    const after = await messages(apiA, chatId);
    expect(after.filter((m) => m.role === 'tool')).toHaveLength(1);
    const late = await apiA('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: id, output: 'blue' }] });
    expect(late.status).toBe(409);
    expect(await messages(apiA, chatId)).toHaveLength(after.length);
  });

  it('create validates unsafe_dynamic_tools with 400 validations and creates nothing', async () => {
    const bad = [
      [{ name: 'bad name', input_schema: {} }],
      [pickColor, pickColor],
      [{ name: 'add', input_schema: {} }],
      [{ name: 'x' }],
      Array.from({ length: 251 }, (_, i) => ({ name: `t${i}`, input_schema: {} })),
      [{ name: 'big', input_schema: { description: 'x'.repeat(256 * 1024) } }],
      'pick_color',
    ];
    const fresh = apiClient(a.url, (await userToken(a, 'no-chats-yet')).token);
    for (const tools of bad) {
      const r = await fresh('POST', '', { content: 'hi', unsafe_dynamic_tools: tools });
      expect(r.status).toBe(400);
      expect(r.body.validations?.length).toBeGreaterThan(0);
    }
    expect((await fresh('GET', '')).body).toEqual([]);
  });

  it('mixed server and client calls in one step: the server result is persisted before the chat waits', async () => {
    const chatId = await waitingChat('call add {"a":2,"b":3}\ncall pick_color {}');
    const history = await messages(apiA, chatId);
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect((history[1]!.content ?? []).flatMap((p) => (p.type === 'tool-call' ? [p.tool_name] : []))).toEqual(['add', 'pick_color']);
    expect(history[2]!.content).toEqual([expect.objectContaining({ type: 'tool-result', tool_name: 'add', result: 5 })]);
    const stream = openStream(b.url, chatId, token);
    await stream.until((e) => actionRequired(e).length > 0, 'action_required');
    expect(actionRequired(stream.events)[0]!.action_required.tool_calls.map((c) => c.tool_name)).toEqual(['pick_color']);
    const clientId = actionRequired(stream.events)[0]!.action_required.tool_calls[0]!.tool_call_id;
    expect((await apiB('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: clientId, output: 'green' }] })).status).toBe(204);
    await stream.until((e) => hasStatus(e, 'waiting'), 'the reply');
    stream.close();
    const after = await messages(apiA, chatId);
    expect(after.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant']);
  });

  it('a snapshot of a waiting chat ends with action_required, after the messages', async () => {
    const chatId = await waitingChat();
    const stream = openStream(a.url, chatId, token);
    await stream.until((e) => actionRequired(e).length > 0, 'action_required');
    stream.close();
    const types = stream.events.map((e) => e.type);
    expect(types[0]).toBe('status');
    expect(types.at(-1)).toBe('action_required');
    expect(types.lastIndexOf('message')).toBeLessThan(types.indexOf('action_required'));
    expect(actionRequired(stream.events)).toHaveLength(1);
  });

  it('a new message answers the pending calls "cancelled" and starts its turn; an interrupt answers them the same way and leaves the chat waiting', async () => {
    const chatId = await waitingChat();
    const sent = await apiB('POST', `/${chatId}/messages`, { content: 'never mind' });
    expect(sent.status).toBe(200);
    expect(sent.body.queued).toBe(false);
    await waitFor(async () => (await apiA('GET', `/${chatId}`)).body.status === 'waiting', { what: 'the new turn', timeoutMs: 15_000 });
    const history = await messages(apiA, chatId);
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'user', 'assistant']);
    expect(history[2]!.content).toEqual([expect.objectContaining({ type: 'tool-result', tool_name: 'pick_color', result: { error: 'cancelled' }, is_error: true })]);

    const chat2 = await waitingChat();
    const interrupted = await apiB('POST', `/${chat2}/interrupt`);
    expect(interrupted.status).toBe(200);
    expect(interrupted.body.status).toBe('waiting');
    const h2 = await messages(apiA, chat2);
    expect(h2.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(h2[2]!.content).toEqual([expect.objectContaining({ result: { error: 'cancelled' }, is_error: true })]);
    expect((await apiA('POST', `/${chat2}/tool-results`, { results: [] })).status).toBe(409);
  });
});
