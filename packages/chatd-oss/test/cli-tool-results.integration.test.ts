// The terminal client's side of client-executed tools (issue 27) against a scripted server (real http and ws on
// port 0): `chatd chat` and `chatd watch` print each pending call with the command that answers it (control
// characters escaped), and `chatd tool-results` sends every answer in one request, refuses malformed arguments
// with exit 2 before any request, and prints the route's validations on a 400.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@chatd/testkit';
import { createChatCommand, createToolResultsCommand, createWatchCommand } from '../src/cli/client-commands.js';
import { formatPendingCall } from '../src/cli/tool-lines.js';
import { CHATD_COMMANDS, runCli } from '../src/cli/run-cli.js';
import { startScriptedChatServer, type ChatScript, type ScriptedChatServer } from './helpers/scripted-chat-server.js';
import { LIVE_FRAMES, PENDING_CALLS, SNAPSHOT_FRAMES, TOOL_CHAT_ID, toolChat, toolHistory } from './helpers/client-tool-script.js';

const servers: ScriptedChatServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(script: Partial<ChatScript> = {}): Promise<ScriptedChatServer> {
  const server = await startScriptedChatServer({ chat: toolChat('requires_action'), history: toolHistory, frames: LIVE_FRAMES, ...script });
  servers.push(server);
  return server;
}

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

const PENDING_LINES = [
  `? confirm {"question":"deploy?"}  (answer with: chatd tool-results ${TOOL_CHAT_ID} call_c1=<json>)`,
  `? locate {"why":"red\\u001b[31m"}  (answer with: chatd tool-results ${TOOL_CHAT_ID} call_c2=<json>)`,
];

describe('client tool calls in the terminal client', () => {
  it('formats a pending call with its input as escaped JSON and the command that answers it', () => {
    expect(PENDING_CALLS.map((c) => formatPendingCall(c, TOOL_CHAT_ID))).toEqual(PENDING_LINES);
    expect(formatPendingCall({ tool_call_id: "it's", tool_name: 'x', args: 'not json' }, 'c')).toBe(`? x "not json"  (answer with: chatd tool-results c 'it'\\''s'=<json>)`);
  });

  it('chat ends at requires_action and prints the pending calls', async () => {
    const server = await serve();
    const t = terminal(server.url);
    const chat = createChatCommand({ write: t.write, cwd: '/' });
    expect(await runCli(['chat', 'call confirm'], t.io, { commands: { chat } })).toBe(0);
    expect(t.transcript).toBe(['Asking.', '→ confirm {"question":"deploy?"}', '→ locate {"why":"red\\u001b[31m"}', ...PENDING_LINES, ''].join('\n'));
    expect(t.transcript).not.toContain('\u001b');
  });

  it('watch prints the pending calls of a waiting chat', async () => {
    const server = await serve({ frames: SNAPSHOT_FRAMES });
    const t = terminal(server.url);
    let stop!: () => void;
    const watch = createWatchCommand({ write: t.write, cwd: '/', stopSignal: () => new Promise<void>((resolve) => (stop = resolve)) });
    const done = runCli(['watch', TOOL_CHAT_ID], t.io, { commands: { watch } });
    await waitFor(() => t.transcript.includes('call_c2=<json>'), { timeoutMs: 10_000 });
    stop();
    expect(await done).toBe(0);
    expect(t.transcript).toBe(['> call confirm', 'Asking.', '→ confirm {"question":"deploy?"}', '→ locate {"why":"red\\u001b[31m"}', '[requires_action]', ...PENDING_LINES, ''].join('\n'));
  });

  it('tool-results sends every answer in one request, --error marking one', async () => {
    const server = await serve();
    const t = terminal(server.url);
    const command = createToolResultsCommand({ cwd: '/' });
    expect(await runCli(['tool-results', TOOL_CHAT_ID, 'call_c1="yes"', '--error', 'call_c2', 'call_c2={"error":"no gps"}'], t.io, { commands: { 'tool-results': command } })).toBe(0);
    expect(server.toolResultBodies).toEqual([{ results: [{ tool_call_id: 'call_c1', output: 'yes' }, { tool_call_id: 'call_c2', output: { error: 'no gps' }, is_error: true }] }]);
    expect(t.transcript).toBe(`sent 2 results; follow the reply with: chatd watch ${TOOL_CHAT_ID}\n`);
  });

  it.each([
    [[TOOL_CHAT_ID], 'give the chat and one <tool_call_id>=<json> per pending call'],
    [[TOOL_CHAT_ID, 'call_c1'], '"call_c1" is not <tool_call_id>=<json>'],
    [[TOOL_CHAT_ID, '=1'], '"=1" is not <tool_call_id>=<json>'],
    [[TOOL_CHAT_ID, 'call_c1=yes'], `the output of call_c1 is not JSON (a string needs quotes: call_c1='"text"')`],
    [[TOOL_CHAT_ID, 'call_c1=1', 'call_c1=2'], 'call_c1 is answered twice'],
    [[TOOL_CHAT_ID, 'call_c1=1', '--error', 'call_c9'], '--error call_c9 names no result given'],
    [[TOOL_CHAT_ID, 'call_c1=1', '--error'], '--error needs a tool call id'],
  ])('tool-results %j is a usage error (exit 2) and sends nothing', async (args, message) => {
    const server = await serve();
    const t = terminal(server.url);
    const command = createToolResultsCommand({ cwd: '/' });
    expect(await runCli(['tool-results', ...args], t.io, { commands: { 'tool-results': command } })).toBe(2);
    expect(t.errs).toEqual([`chatd tool-results: ${message} (usage: chatd ${command.usage})`]);
    expect(server.toolResultBodies).toEqual([]);
  });

  it('tool-results prints the validations of a 400 and exits 1; a 409 exits 1 with its message', async () => {
    let status = 400;
    const server = await serve({
      toolResults: () =>
        status === 400
          ? { status, body: { message: 'results must answer every pending call', validations: [{ field: 'results', detail: 'missing call_c2' }] } }
          : { status, body: { message: 'the chat is not waiting for tool results' } },
    });
    const t = terminal(server.url);
    const command = createToolResultsCommand({ cwd: '/' });
    expect(await runCli(['tool-results', TOOL_CHAT_ID, 'call_c1=1'], t.io, { commands: { 'tool-results': command } })).toBe(1);
    expect(t.errs).toEqual(['chatd tool-results: results must answer every pending call', '  results: missing call_c2']);
    status = 409;
    expect(await runCli(['tool-results', TOOL_CHAT_ID, 'call_c1=1'], t.io, { commands: { 'tool-results': command } })).toBe(1);
    expect(t.errs.at(-1)).toBe('chatd tool-results: the chat is not waiting for tool results');
  });

  it('is a chatd command with help text', async () => {
    expect(CHATD_COMMANDS['tool-results']).toBeDefined();
    const lines: string[] = [];
    expect(await runCli(['tool-results', '--help'], { env: {}, out: (l) => lines.push(l), err: (l) => lines.push(l) })).toBe(0);
    expect(lines).toEqual([`usage: chatd ${CHATD_COMMANDS['tool-results']!.usage}`]);
    const help: string[] = [];
    await runCli(['help'], { env: {}, out: (l) => help.push(l), err: (l) => help.push(l) });
    expect(help.some((l) => l.startsWith('  tool-results ') && l.includes('answer the pending client tool calls'))).toBe(true);
  });
});
