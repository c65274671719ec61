// How `chatd chat` and `chatd watch` show tool calls and results, against a scripted server (real http and ws on
// port 0) that streams what a two-step tool turn streams: the call's input as `args_delta` parts, the complete
// call, the step's message, the result as a part and in the `tool` message, then the reply. Each call and each
// result prints once, on its own line, as compact JSON (so control characters arrive escaped).
import { afterEach, describe, expect, it } from 'vitest';
import type { Chat, ChatMessage, ChatMessagePart, ChatStreamEvent } from '@chatd/protocol';
import { waitFor } from '@chatd/testkit';
import { createChatCommand, createWatchCommand } from '../src/cli/client-commands.js';
import { formatToolCall, formatToolResult, TOOL_LINE_MAX_CHARS } from '../src/cli/tool-lines.js';
import { runCli } from '../src/cli/run-cli.js';
import { startScriptedChatServer, type ScriptedChatServer } from './helpers/scripted-chat-server.js';

const CHAT_ID = '7b3c1f2e-0000-4000-8000-000000000026';
const RUN = '7b3c1f2e-0000-4000-8000-0000000000aa';
const ORG = '7b3c1f2e-0000-4000-8000-000000000001';
const AT = '2026-12-04T23:10:00.000Z';
const TIME = '2026-12-04T23:10:00.000Z';
// A result that tries to colour the terminal: it must print escaped.
const EVIL = 'red\u001b[31m<b>';

const chat: Chat = {
  id: CHAT_ID,
  organization_id: ORG,
  owner_id: ORG,
  root_chat_id: CHAT_ID,
  title: 'call get_time',
  status: 'waiting',
  last_error: null,
  created_at: AT,
  updated_at: AT,
  archived: false,
  worker_id: null,
};

const msg = (id: number, role: ChatMessage['role'], content: ChatMessagePart[], lastSeq?: number): ChatMessage => ({
  id,
  chat_id: CHAT_ID,
  created_at: AT,
  role,
  content,
  ...(lastSeq === undefined ? {} : { run_id: RUN, last_seq: lastSeq }),
});

const call1: ChatMessagePart = { type: 'tool-call', tool_call_id: 'call_1', tool_name: 'get_time', args: {} };
const call2: ChatMessagePart = { type: 'tool-call', tool_call_id: 'call_2', tool_name: 'add', args: { numbers: [1, 2] } };
const result1: ChatMessagePart = { type: 'tool-result', tool_call_id: 'call_1', tool_name: 'get_time', result: TIME };
const result2: ChatMessagePart = { type: 'tool-result', tool_call_id: 'call_2', tool_name: 'add', result: { error: EVIL }, is_error: true };
const REPLY = `get_time returned "${TIME}"`;

const history: ChatMessage[] = [
  msg(1, 'user', [{ type: 'text', text: 'call get_time\ncall add {"numbers":[1,2]}' }]),
  msg(2, 'assistant', [{ type: 'text', text: 'Checking.' }, call1, call2], 8),
  msg(3, 'tool', [result1, result2], 11),
  msg(4, 'assistant', [{ type: 'text', text: REPLY }], 13),
];

const part = (seq: number, p: ChatMessagePart): ChatStreamEvent => ({ type: 'message_part', chat_id: CHAT_ID, message_part: { role: 'assistant', part: p, seq, run_id: RUN } });
const message = (m: ChatMessage): ChatStreamEvent => ({ type: 'message', chat_id: CHAT_ID, message: m });
const status = (s: Chat['status']): ChatStreamEvent => ({ type: 'status', chat_id: CHAT_ID, status: { status: s } });

/** What a server streams for the turn, step by step (parts first, then the step's durable message). */
const FRAMES: ChatStreamEvent[][] = [
  [message(history[0]!), status('running')],
  [part(1, { type: 'text', text: 'Checking.' })],
  [part(2, { type: 'tool-call', tool_call_id: 'call_1', tool_name: 'get_time', args_delta: '{' }), part(3, { type: 'tool-call', tool_call_id: 'call_1', tool_name: 'get_time', args_delta: '}' })],
  [part(4, call1)],
  [part(5, { type: 'tool-call', tool_call_id: 'call_2', tool_name: 'add', args_delta: '{"numbers":' }), part(6, { type: 'tool-call', tool_call_id: 'call_2', tool_name: 'add', args_delta: '[1,2]}' }), part(7, call2)],
  [message(history[1]!)],
  [part(9, { type: 'tool-result', tool_call_id: 'call_1', tool_name: 'get_time', result_delta: '20' }), part(10, result1), part(11, result2)],
  [message(history[2]!)],
  [part(12, { type: 'text', text: 'get_time returned' }), part(13, { type: 'text', text: ` "${TIME}"` })],
  [message(history[3]!), status('waiting')],
];

const servers: ScriptedChatServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A terminal that keeps lines and streamed text in one transcript, in the order they were written. */
function terminal(url: string) {
  let transcript = '';
  const errs: string[] = [];
  return {
    io: { env: { CHATD_URL: url, CHATD_TOKEN: 'token' }, out: (l: string) => (transcript += `${l}\n`), err: (l: string) => errs.push(l) },
    write: (t: string) => (transcript += t),
    errs,
    get transcript() {
      return transcript;
    },
  };
}

const CALL_LINES = ['→ get_time {}', '→ add {"numbers":[1,2]}'];
const RESULT_LINES = [`← get_time "${TIME}"`, '← add {"error":"red\\u001b[31m<b>"} (error)'];

describe('tool calls in the terminal client', () => {
  it('chat prints each call and result once, on its own lines, between the texts', async () => {
    const server = await startScriptedChatServer({ chat, history, frames: FRAMES });
    servers.push(server);
    const t = terminal(server.url);
    const chatCommand = createChatCommand({ write: t.write, cwd: '/' });
    expect(await runCli(['chat', 'call get_time'], t.io, { commands: { chat: chatCommand } })).toBe(0);
    expect(t.errs).toEqual([`chat ${CHAT_ID}`]);
    expect(t.transcript).toBe(['Checking.', ...CALL_LINES, ...RESULT_LINES, REPLY, ''].join('\n'));
    expect(t.transcript).not.toContain('\u001b');
  });

  it('watch prints each call and result once, with the texts and statuses around them', async () => {
    const server = await startScriptedChatServer({ chat, history, frames: FRAMES });
    servers.push(server);
    const t = terminal(server.url);
    let stop!: () => void;
    const watch = createWatchCommand({ write: t.write, cwd: '/', stopSignal: () => new Promise<void>((resolve) => (stop = resolve)) });
    const done = runCli(['watch', CHAT_ID], t.io, { commands: { watch } });
    await waitFor(() => t.transcript.includes('[waiting]'), { timeoutMs: 10_000 });
    stop();
    expect(await done).toBe(0);
    expect(t.transcript).toBe(
      ['> call get_time\ncall add {"numbers":[1,2]}', '[running on no replica]', 'Checking.', ...CALL_LINES, ...RESULT_LINES, REPLY, '[waiting]', ''].join('\n'),
    );
  });

  it('prints calls and results it only sees in durable messages (no parts), once', async () => {
    const frames: ChatStreamEvent[][] = [[message(history[0]!), status('running')], [message(history[1]!), message(history[2]!), message(history[3]!), status('waiting')]];
    const server = await startScriptedChatServer({ chat, history, frames });
    servers.push(server);
    const t = terminal(server.url);
    expect(await runCli(['chat', 'call get_time'], t.io, { commands: { chat: createChatCommand({ write: t.write, cwd: '/' }) } })).toBe(0);
    // The text arrives only with the reply at the end, after the tool lines.
    expect(t.transcript).toBe([...CALL_LINES, ...RESULT_LINES, `Checking.${REPLY}`, ''].join('\n'));
  });

  it('formats long values cut, provider-executed calls marked, and a missing input as {}', () => {
    const long = 'x'.repeat(TOOL_LINE_MAX_CHARS * 2);
    const line = formatToolResult({ type: 'tool-result', tool_call_id: 'c', tool_name: 'read', result: long });
    expect(line.startsWith(`← read "${'x'.repeat(TOOL_LINE_MAX_CHARS - 1)}…`)).toBe(true);
    expect(line).toMatch(/\(202 more characters\)$/);
    expect(formatToolCall({ type: 'tool-call', tool_call_id: 'c', tool_name: 'web_search', args: { q: 'chatd' }, provider_executed: true })).toBe('→ web_search {"q":"chatd"} (run by the provider)');
    expect(formatToolCall({ type: 'tool-call', tool_call_id: 'c', tool_name: 'get_time' })).toBe('→ get_time {}');
  });
});
