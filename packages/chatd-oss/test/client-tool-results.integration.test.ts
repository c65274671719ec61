// @chatd/client's side of client-executed tools (issue 27) against a scripted server (real http and ws on port 0):
// `replyText` ends on `requires_action` with the pending calls (live, where the status comes before the calls,
// and from a snapshot), `stream` yields `action_required` unchanged, and `submitToolResults` posts every result at
// once and maps refusals to typed errors like every other route.
import { afterEach, describe, expect, it } from 'vitest';
import { createChatClient, isChatdClientError, type ChatClient } from '@chatd/client';
import type { ActionRequiredToolCall, ChatStreamEvent } from '@chatd/protocol';
import { startScriptedChatServer, type ChatScript, type ScriptedChatServer } from './helpers/scripted-chat-server.js';
import {
  CONTINUATION_FRAMES,
  LIVE_FRAMES,
  PENDING_CALLS,
  RESULT_REPLY,
  SNAPSHOT_FRAMES,
  TOOL_CHAT_ID,
  finalHistory,
  toolChat,
  toolHistory,
} from './helpers/client-tool-script.js';

const servers: ScriptedChatServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(script: ChatScript): Promise<{ server: ScriptedChatServer; client: ChatClient }> {
  const server = await startScriptedChatServer(script);
  servers.push(server);
  return { server, client: createChatClient({ baseUrl: server.url, token: 'token-27' }) };
}

describe('client-executed tools in @chatd/client', () => {
  it('replyText ends on requires_action with the pending calls, waiting for them after the status', async () => {
    const { client } = await serve({ chat: toolChat('requires_action'), history: toolHistory, frames: LIVE_FRAMES });
    const seen: ActionRequiredToolCall[][] = [];
    const reply = await client.replyText(TOOL_CHAT_ID, { afterId: 0, onActionRequired: (calls) => seen.push(calls) });
    expect(reply.status).toBe('requires_action');
    expect(reply.toolCalls).toEqual(PENDING_CALLS);
    expect(reply.text).toBe('Asking.');
    expect(seen).toEqual([PENDING_CALLS]);
  });

  it('replyText of a chat already waiting reads the calls from the snapshot', async () => {
    const { client } = await serve({ chat: toolChat('requires_action'), history: toolHistory, frames: SNAPSHOT_FRAMES });
    const reply = await client.replyText(TOOL_CHAT_ID);
    expect(reply).toMatchObject({ status: 'requires_action', toolCalls: PENDING_CALLS, text: 'Asking.' });
  });

  it('submitToolResults posts all results at once; the turn then goes on to its reply', async () => {
    const script: ChatScript = { chat: toolChat('requires_action'), history: toolHistory, frames: SNAPSHOT_FRAMES, afterToolResults: CONTINUATION_FRAMES };
    const { server, client } = await serve(script);
    const first = await client.replyText(TOOL_CHAT_ID);
    expect(first.status).toBe('requires_action');
    // The next stream sockets see the chat as the server would after the submission.
    script.frames = CONTINUATION_FRAMES;
    script.history = finalHistory;
    await expect(client.submitToolResults(TOOL_CHAT_ID, [
      { tool_call_id: 'call_c1', output: 'yes' },
      { tool_call_id: 'call_c2', output: { error: 'no gps' }, is_error: true },
    ])).resolves.toBeUndefined();
    expect(server.toolResultBodies).toEqual([
      { results: [{ tool_call_id: 'call_c1', output: 'yes' }, { tool_call_id: 'call_c2', output: { error: 'no gps' }, is_error: true }] },
    ]);
    expect(server.toolResultHeaders[0]?.['coder-session-token']).toBe('token-27');
    const second = await client.replyText(TOOL_CHAT_ID, { afterId: 2 });
    expect(second).toMatchObject({ status: 'waiting', text: RESULT_REPLY });
    expect(second.toolCalls).toBeUndefined();
  });

  it('stream yields action_required unchanged', async () => {
    const { client } = await serve({ chat: toolChat('requires_action'), history: toolHistory, frames: SNAPSHOT_FRAMES });
    const stop = new AbortController();
    const events: ChatStreamEvent[] = [];
    for await (const e of client.stream(TOOL_CHAT_ID, { signal: stop.signal })) {
      events.push(e);
      if (e.type === 'action_required') stop.abort();
    }
    expect(events.at(-1)).toEqual({ type: 'action_required', chat_id: TOOL_CHAT_ID, action_required: { tool_calls: PENDING_CALLS } });
  });

  it.each([
    [400, { message: 'results must answer every pending call', validations: [{ field: 'results', detail: 'missing call_c2' }] }, 'INVALID_INPUT'],
    [409, { message: 'the chat is not waiting for tool results' }, 'CONFLICT'],
    [404, { message: 'chat not found' }, 'NOT_FOUND'],
  ] as const)('a %i answer of tool-results is a typed error', async (status, body, code) => {
    const { client } = await serve({ chat: toolChat('requires_action'), history: toolHistory, frames: SNAPSHOT_FRAMES, toolResults: () => ({ status, body }) });
    const err = await client.submitToolResults(TOOL_CHAT_ID, [{ tool_call_id: 'call_c1', output: 'yes' }]).catch((e: unknown) => e);
    expect(isChatdClientError(err, code)).toBe(true);
    expect((err as Error).message).toBe(body.message);
    expect(isChatdClientError(err) && err.status).toBe(status);
    if (status === 400) expect(isChatdClientError(err) && err.validations).toEqual(body.validations);
  });
});
