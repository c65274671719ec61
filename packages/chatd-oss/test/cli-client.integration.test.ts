import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTcpProxy, useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatCommand, createEditCommand, createLsCommand, createSendCommand, createWatchCommand } from '../src/cli/client-commands.js';
import { runCli } from '../src/cli/run-cli.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let token: string;
let cwd: string;

beforeAll(async () => {
  replica = await startTestReplica(db.url);
  token = (await userToken(replica, 'carol')).token;
  // A cluster file as `npm start` writes it, found from a nested folder.
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-cli-'));
  fs.mkdirSync(path.join(cwd, '.chatd'));
  fs.writeFileSync(path.join(cwd, '.chatd', 'cluster.json'), JSON.stringify({ replicas: [{ id: replica.replicaId, url: replica.url }], token }));
  fs.mkdirSync(path.join(cwd, 'sub'));
});
afterAll(async () => {
  await replica?.close();
  fs.rmSync(cwd, { recursive: true, force: true });
});

function terminal() {
  const lines: string[] = [];
  const errs: string[] = [];
  let raw = '';
  return {
    io: { env: {}, out: (l: string) => lines.push(l), err: (l: string) => errs.push(l) },
    write: (t: string) => (raw += t),
    lines,
    errs,
    get raw() {
      return raw;
    },
  };
}

describe('chatd terminal client', () => {
  it('chat streams the reply token by token and ends with the final text once', async () => {
    const t = terminal();
    const chat = createChatCommand({ write: t.write, cwd: path.join(cwd, 'sub') });
    expect(await runCli(['chat', 'hello', 'there'], t.io, { commands: { chat } })).toBe(0);
    const chatId = /^chat ([0-9a-f-]{36})$/.exec(t.errs[0] ?? '')?.[1];
    expect(chatId).toBeDefined();
    const { body } = await fetch(`${replica.url}/api/experimental/chats/${chatId}/messages`, { headers: { 'coder-session-token': token } }).then(async (r) => ({ body: (await r.json()) as { messages: { role: string; content: { text: string }[] }[] } }));
    const final = body.messages.find((m) => m.role === 'assistant')!.content.map((p) => p.text).join('');
    expect(t.raw).toBe(`${final}\n`);
  });

  it('send queues or sends; ls lists the chats with their replica', async () => {
    const t = terminal();
    const chat = createChatCommand({ write: t.write, cwd });
    await runCli(['chat', 'list me'], t.io, { commands: { chat } });
    const chatId = /([0-9a-f-]{36})/.exec(t.errs[0]!)![1]!;
    const s = terminal();
    expect(await runCli(['send', chatId, 'and more'], s.io, { commands: { send: createSendCommand({ cwd }) } })).toBe(0);
    expect(s.lines[0]).toMatch(/^(queued|sent) \(/);
    const l = terminal();
    expect(await runCli(['ls'], l.io, { commands: { ls: createLsCommand({ cwd }) } })).toBe(0);
    expect(l.lines.some((line) => line.startsWith(chatId) && line.includes('list me'))).toBe(true);
  });

  it('send --file uploads each file, then sends them as parts after the text; the file reads back', async () => {
    const t = terminal();
    const chat = createChatCommand({ write: t.write, cwd });
    await runCli(['chat', 'files please'], t.io, { commands: { chat } });
    const chatId = /([0-9a-f-]{36})/.exec(t.errs[0]!)![1]!;
    fs.writeFileSync(path.join(cwd, 'build.log'), 'step 3 failed');
    fs.writeFileSync(path.join(cwd, 'shot.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const s = terminal();
    expect(await runCli(['send', chatId, 'see these', '--file', 'build.log', '--file', 'shot.png'], s.io, { commands: { send: createSendCommand({ cwd }) } })).toBe(0);
    const page = await fetch(`${replica.url}/api/experimental/chats/${chatId}/messages`, { headers: { 'coder-session-token': token } }).then((r) => r.json() as Promise<{ messages: { role: string; content: Record<string, string>[] }[] }>);
    const sent = page.messages.find((m) => m.role === 'user' && m.content[0]?.text === 'see these')!;
    expect(sent.content.slice(1).map((p) => [p.type, p.media_type, p.name])).toEqual([
      ['file', 'text/plain', 'build.log'],
      ['file', 'image/png', 'shot.png'],
    ]);
    const back = await fetch(`${replica.url}/api/experimental/chats/files/${sent.content[1]!.file_id}`, { headers: { 'coder-session-token': token } });
    expect(await back.text()).toBe('step 3 failed');
    // An extension uploads do not take is a usage error before anything is sent.
    fs.writeFileSync(path.join(cwd, 'page.html'), '<p>');
    expect(await runCli(['send', chatId, '--file', 'page.html'], terminal().io, { commands: { send: createSendCommand({ cwd }) } })).toBe(2);
  });

  it('edit replaces a user message and every later one with a new turn; a bad id is a usage error, a reply a 400', async () => {
    const t = terminal();
    const chat = createChatCommand({ write: t.write, cwd });
    await runCli(['chat', 'edit me'], t.io, { commands: { chat } });
    const chatId = /([0-9a-f-]{36})/.exec(t.errs[0]!)![1]!;
    const page = await fetch(`${replica.url}/api/experimental/chats/${chatId}/messages`, { headers: { 'coder-session-token': token } }).then((r) => r.json() as Promise<{ messages: { id: number; role: string }[] }>);
    const [reply, user] = page.messages;
    const edit = createEditCommand({ cwd });
    const e = terminal();
    expect(await runCli(['edit', chatId, String(user!.id), 'edited', 'text'], e.io, { commands: { edit } })).toBe(0);
    expect(e.lines).toEqual([expect.stringMatching(/^edited \(message \d+; hid 2 messages\)$/)]);
    const after = await fetch(`${replica.url}/api/experimental/chats/${chatId}/messages`, { headers: { 'coder-session-token': token } }).then((r) => r.json() as Promise<{ messages: { id: number; role: string; content: { text: string }[] }[] }>);
    expect(after.messages.at(-1)!.content).toEqual([{ type: 'text', text: 'edited text' }]);
    const bad = terminal();
    expect(await runCli(['edit', chatId, 'x1', 'text'], bad.io, { commands: { edit } })).toBe(2);
    const notUser = terminal();
    expect(await runCli(['edit', chatId, String(reply!.id), 'text'], notUser.io, { commands: { edit } })).toBe(1);
  });

  it('watch resumes after the connection is cut without printing any text twice', async () => {
    const proxy = await createTcpProxy({ port: replica.port });
    let stop!: () => void;
    const t = terminal();
    const watch = createWatchCommand({ write: t.write, cwd, stopSignal: () => new Promise<void>((r) => (stop = r)) });
    const created = await fetch(`${replica.url}/api/experimental/chats`, {
      method: 'POST',
      headers: { 'coder-session-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ content: [{ type: 'text', text: 'watch this' }] }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const done = runCli(['watch', created.id, '--url', `http://127.0.0.1:${proxy.port}`], t.io, { commands: { watch } });
    await waitFor(() => t.raw.length > 5, { what: 'some streamed text' });
    proxy.cut();
    await waitFor(() => t.lines.includes('[waiting]'), { what: 'the end of the reply', timeoutMs: 20_000 });
    stop();
    expect(await done).toBe(0);
    const page = await fetch(`${replica.url}/api/experimental/chats/${created.id}/messages`, { headers: { 'coder-session-token': token } }).then((r) => r.json() as Promise<{ messages: { role: string; content: { text: string }[] }[] }>);
    const final = page.messages.find((m) => m.role === 'assistant')!.content.map((p) => p.text).join('');
    // The streamed text plus anything printed from the durable message is the reply, exactly once.
    const printedReply = t.raw.replace(/\n/g, '') + t.lines.filter((l) => !l.startsWith('[') && !l.startsWith('>')).join('');
    expect(printedReply).toBe(final);
    expect(t.lines).toContain('> watch this');
    expect(t.errs.some((e) => e.startsWith('[reconnecting'))).toBe(true);
    await proxy.close();
  });

  it('refuses to run without a server, with one clear line and exit code 2', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-nocluster-'));
    const t = terminal();
    expect(await runCli(['ls'], t.io, { commands: { ls: createLsCommand({ cwd: empty }) } })).toBe(2);
    expect(t.errs).toHaveLength(1);
    expect(t.errs[0]).toContain('npm start');
    fs.rmSync(empty, { recursive: true, force: true });
  });
});
