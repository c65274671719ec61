// The react-chat example (issue 31) in Chromium: the built page (examples/react-chat, `vite preview`, whose proxy
// adds the token) talks to a replica started with --no-worker, so every reply is generated on the other replica
// (started by `npm start`'s launcher, which restarts it when it dies) and reaches the page by relay. Scenarios: a
// reply streams; a reload mid-reply resumes the same reply (the shown text equals the stored message: nothing
// repeated or missing); Stop keeps the partial reply and the chat waits with no more parts; the confirm client
// tool (Yes -> addToolOutput -> the turn goes on) and the get_time server tool; regenerate replaces the last
// reply; and last, kill -9 of the generating replica mid-reply ends with the complete reply shown once.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '@chatd/testkit';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, freePortRange, repoRoot, startCluster, type Cluster } from '../test/helpers/cluster.js';
import { SCREENSHOT_DIR, launchChromium, recordPage, type PageRecord } from './helpers/browser.js';

/** Deadline of each wait on the page. */
const WAIT_MS = 30_000;
/** Deadline of a reply that survives a crash (stale detection, then a re-run from the start). */
const CRASH_WAIT_MS = 90_000;
/** Words of each demo reply: at 30 per second a reply takes 4 s, long enough to reload, stop or crash mid-reply. */
const REPLY_TOKENS = 120;

const exampleDir = path.join(repoRoot, 'examples', 'react-chat');
const viteBin = path.join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js');
const eeBin = path.join(repoRoot, 'packages', 'chatd-enterprise', 'dist', 'bin', 'chatd-enterprise.js');

let cluster: Cluster;
let browser: Browser;
let page: Page;
let rec: PageRecord;
let token: string;
/** The --no-worker replica serving the page's API. */
let api: { id: string; url: string; child: ChildProcess };
let preview: ChildProcess;
let pageUrl: string;

/** SGR escape sequences (colours, bold) in a child's output. */
const ANSI_CODES = /\x1b\[[0-9;]*m/g;

/** Spawns `cmd`, collecting its output, and resolves once a line matches `ready`. */
async function spawnUntil(cmd: string[], options: { cwd: string; env: NodeJS.ProcessEnv }, ready: RegExp, what: string): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, cmd, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  // Colour codes are dropped before matching: with colours on (as in the clean CI run) vite prints the port in bold,
  // `127.0.0.1:\x1b[1m22104\x1b[22m/`, which a plain pattern never matches.
  const plain = () => out.replace(ANSI_CODES, '');
  try {
    await waitFor(() => ready.test(plain()) || child.exitCode !== null, { what, timeoutMs: WAIT_MS, intervalMs: 50 });
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${what} did not start:\n${plain().slice(-3000)}`, { cause: err });
  }
  if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${plain().slice(-3000)}`);
  return { child, match: ready.exec(plain())! };
}

beforeAll(async () => {
  // The page as CI ships it: a fresh `vite build` (seconds, no network).
  const built = spawnSync(process.execPath, [viteBin, 'build', '--logLevel', 'warn'], { cwd: exampleDir, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`vite build of the example failed:\n${built.stdout}\n${built.stderr}`);
  [cluster, browser] = await Promise.all([startCluster(1, { CHATD_DEMO_TOKENS_PER_SECOND: '30', CHATD_DEMO_REPLY_TOKENS: String(REPLY_TOKENS) }), launchChromium()]);
  const c = cluster.read();
  token = c.token;
  const env = {
    ...process.env,
    DATABASE_URL: c.database_url,
    CHATD_LOG_LEVEL: 'warn',
    CHATD_DEMO_TOOLS: '1',
    CHATD_HEARTBEAT_INTERVAL_MS: '500',
    CHATD_STALE_AFTER_MS: '3000',
  };
  const served = await spawnUntil([eeBin, 'serve', '--port', '0', '--host', '127.0.0.1', '--no-worker', '--no-migrate'], { cwd: repoRoot, env }, /listening on (\S+) \(replica ([0-9a-f-]{36})/, 'the --no-worker replica');
  api = { url: served.match[1]!, id: served.match[2]!, child: served.child };
  const port = await freePortRange(1);
  preview = (
    await spawnUntil([viteBin, 'preview', '--port', String(port), '--strictPort'], { cwd: exampleDir, env: { ...process.env, NO_COLOR: '1', CHATD_URL: api.url, CHATD_TOKEN: token } }, new RegExp(`127\\.0\\.0\\.1:${port}`), 'vite preview')
  ).child;
  pageUrl = `http://127.0.0.1:${port}/`;
  page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  rec = recordPage(page);
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
}, 150_000);

afterAll(async () => {
  await browser?.close();
  preview?.kill('SIGTERM');
  api?.child.kill('SIGTERM');
  await cluster?.stop();
});

type StoredMessage = { id: number; role: string; content?: { type: string; text?: string }[] };
type ApiChat = { id: string; status: string; worker_id: string | null };

const headers = () => ({ 'coder-session-token': token, 'content-type': 'application/json' });
async function apiChat(id: string): Promise<ApiChat> {
  return (await (await fetch(`${api.url}/api/experimental/chats/${id}`, { headers: headers() })).json()) as ApiChat;
}
/** The chat's visible history, oldest first. */
async function storedMessages(id: string): Promise<StoredMessage[]> {
  const res = await fetch(`${api.url}/api/experimental/chats/${id}/messages?limit=200`, { headers: headers() });
  return ((await res.json()) as { messages: StoredMessage[] }).messages.reverse();
}
/** The text of the last turn's reply as stored: every assistant message after the last user message. */
async function storedReplyText(id: string): Promise<string> {
  const messages = await storedMessages(id);
  const lastUser = messages.findLastIndex((m) => m.role === 'user');
  return messages
    .slice(lastUser + 1)
    .filter((m) => m.role === 'assistant')
    .flatMap((m) => (m.content ?? []).map((p) => (p.type === 'text' ? (p.text ?? '') : '')))
    .join('');
}

const assistants = () => page.locator('[data-testid="message"][data-role="assistant"]');
/** The text the page shows for the last reply (its text parts, as they are). */
async function shownReplyText(p: Page = page): Promise<string> {
  const last = p.locator('[data-testid="message"][data-role="assistant"]').last();
  if ((await last.count()) === 0) return '';
  return (await last.locator('[data-testid="text-part"]').allTextContents()).join('');
}
const text = async (l: Locator) => ((await l.textContent()) ?? '').trim();
const chatIdOf = (p: Page) => new URL(p.url()).searchParams.get('chat');

/** Starts a chat from the page's form; resolves with its id once the URL carries it. */
async function startChat(content: string, query = ''): Promise<string> {
  await page.goto(`${pageUrl}${query}`);
  await page.getByTestId('new-chat-text').fill(content);
  await page.getByTestId('new-chat-submit').click();
  await waitFor(() => chatIdOf(page) !== null, { what: 'the chat id in the URL', timeoutMs: WAIT_MS, intervalMs: 50 });
  await page.getByTestId('chat').waitFor({ state: 'visible', timeout: WAIT_MS });
  return chatIdOf(page)!;
}

/** Waits until the chat is `waiting`, the page is idle, and the shown reply equals the stored one; returns it. */
async function settled(id: string, timeoutMs = WAIT_MS, p: Page = page): Promise<string> {
  let stored = '';
  try {
    await waitFor(
      async () => {
        if ((await apiChat(id)).status !== 'waiting' || (await text(p.getByTestId('chat-status'))) !== 'ready') return false;
        stored = await storedReplyText(id);
        return stored.length > 0 && (await shownReplyText(p)) === stored;
      },
      { what: 'the reply shown as stored, the chat waiting', timeoutMs, intervalMs: 100 },
    );
  } catch (err) {
    // Say what differed: the chat's status, the page's, and the two texts.
    const state = { api: (await apiChat(id)).status, page: await text(p.getByTestId('chat-status')), error: await p.getByTestId('chat-error').textContent().catch(() => null) };
    throw new Error(`${(err as Error).message}: ${JSON.stringify(state)}\nstored: ${JSON.stringify(await storedReplyText(id))}\nshown:  ${JSON.stringify(await shownReplyText(p))}\npage errors: ${rec.consoleErrors.join(' | ')}`, { cause: err });
  }
  return stored;
}

/** Waits until the streaming reply shows more than `chars` characters. */
const shownMoreThan = (chars: number, what: string) => waitFor(async () => (await shownReplyText()).length > chars, { what, timeoutMs: WAIT_MS, intervalMs: 50 });

describe('the react-chat example in Chromium', () => {
  let firstChat: string;

  it('streams a reply generated on the other replica', async () => {
    firstChat = await startChat('Tell me a story about streams');
    await shownMoreThan(10, 'the first words');
    const first = (await shownReplyText()).length;
    await shownMoreThan(first + 10, 'more words, live');
    expect(await text(page.getByTestId('chat-status'))).toMatch(/submitted|streaming/);
    const chat = await apiChat(firstChat);
    expect(chat.worker_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(chat.worker_id).not.toBe(api.id);
    const stored = await settled(firstChat);
    expect(stored.trim().split(/\s+/)).toHaveLength(REPLY_TOKENS);
    expect(await assistants().count()).toBe(1);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'react-chat-reply.png'), fullPage: true });
  });

  it.each([
    ['SSE', ''],
    ['a WebSocket', '?transport=websocket'],
  ])('a reload mid-reply continues the same reply over %s: nothing repeated, nothing missing', async (_name, query) => {
    const id = await startChat(`Another story, to be reloaded halfway${query}`, query);
    await shownMoreThan(20, 'part of the reply');
    const before = await assistants().last().getAttribute('data-message-id');
    await page.reload();
    expect(chatIdOf(page)).toBe(id);
    if (query) expect(new URL(page.url()).searchParams.get('transport')).toBe('websocket');
    // Resumed mid-reply: the reply is still being generated when the page comes back.
    await waitFor(async () => (await shownReplyText()).length > 0, { what: 'the resumed reply', timeoutMs: WAIT_MS, intervalMs: 50 });
    expect((await apiChat(id)).status).toMatch(/pending|running/);
    const stored = await settled(id);
    // Whole: neither the reload nor StrictMode's second mount (whose first resume is dropped) stopped the run.
    expect(stored.trim().split(/\s+/)).toHaveLength(REPLY_TOKENS);
    expect(await assistants().count()).toBe(1);
    // The same UI message (its id derives from the turn), not a second one.
    expect(await assistants().last().getAttribute('data-message-id')).toBe(before);
  });

  it('Stop interrupts the run of a sent message: the partial reply is kept and the chat waits with no more parts', async () => {
    // A quick first turn, then a message sent from the composer (useChat's sendMessage), stopped mid-reply.
    const id = await startChat('call get_time');
    await settled(id);
    await page.getByTestId('composer-text').fill('A story to stop early');
    await page.getByTestId('send').click();
    await waitFor(async () => (await assistants().count()) === 2, { what: 'the second reply', timeoutMs: WAIT_MS, intervalMs: 50 });
    await shownMoreThan(20, 'part of the reply');
    await page.getByTestId('stop').click();
    await waitFor(async () => (await apiChat(id)).status === 'waiting', { what: 'the chat waiting after Stop', timeoutMs: WAIT_MS, intervalMs: 100 });
    await waitFor(async () => (await text(page.getByTestId('chat-status'))) === 'ready', { what: 'the page idle', timeoutMs: WAIT_MS, intervalMs: 50 });
    const shown = await shownReplyText();
    const stored = await storedReplyText(id);
    // Generation stopped: the stored reply is partial, and the page shows (a prefix of) it.
    const storedWords = stored.trim().split(/\s+/).length;
    expect(storedWords).toBeGreaterThan(0);
    expect(storedWords).toBeLessThan(REPLY_TOKENS);
    expect(stored.startsWith(shown)).toBe(true);
    expect(shown.length).toBeGreaterThan(20);
    // A reload shows exactly the kept partial reply, and the history does not move any more.
    const history = (await storedMessages(id)).map((m) => m.id);
    await page.reload();
    await settled(id);
    expect(await shownReplyText()).toBe(stored);
    expect((await storedMessages(id)).map((m) => m.id)).toEqual(history);
    expect(await storedReplyText(id)).toBe(stored);
  });

  it('the get_time server tool and the confirm client tool: Yes goes back by addToolOutput and the turn goes on', async () => {
    const id = await startChat('call get_time\ncall confirm {"question":"Deploy now?"}');
    const time = page.locator('[data-testid="tool-part"][data-tool-name="get_time"]');
    const confirm = page.locator('[data-testid="tool-part"][data-tool-name="confirm"]');
    await page.getByTestId('confirm-yes').waitFor({ state: 'visible', timeout: WAIT_MS });
    await waitFor(async () => (await apiChat(id)).status === 'requires_action', { what: 'requires_action', timeoutMs: WAIT_MS, intervalMs: 100 });
    expect(await text(confirm)).toContain('Deploy now?');
    await waitFor(async () => (await time.getAttribute('data-state')) === 'output-available', { what: 'the get_time result', timeoutMs: WAIT_MS, intervalMs: 50 });
    expect(await text(time.getByTestId('tool-output'))).toMatch(/^→ "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    await page.getByTestId('confirm-yes').click();
    await waitFor(async () => (await confirm.getAttribute('data-state')) === 'output-available', { what: 'the confirm answer shown', timeoutMs: WAIT_MS, intervalMs: 50 });
    const stored = await settled(id);
    expect(stored).toContain('confirm returned "yes"');
    // The answer reached chatd as the tool message of the turn.
    const tools = (await storedMessages(id)).filter((m) => m.role === 'tool');
    expect(JSON.stringify(tools)).toContain('"yes"');
    expect(await page.getByTestId('confirm-yes').count()).toBe(0);
    expect(await assistants().count()).toBe(1);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'react-chat-tools.png'), fullPage: true });
  });

  it('regenerate replaces the last reply', async () => {
    await page.goto(`${pageUrl}?chat=${firstChat}`);
    await settled(firstChat);
    const before = await storedMessages(firstChat);
    const oldReply = before.filter((m) => m.role === 'assistant').map((m) => m.id);
    const oldUiId = await assistants().last().getAttribute('data-message-id');
    await page.getByTestId('regenerate').click();
    await waitFor(async () => (await storedMessages(firstChat)).every((m) => !oldReply.includes(m.id)), { what: 'the old reply gone', timeoutMs: WAIT_MS, intervalMs: 100 });
    await settled(firstChat);
    const after = await storedMessages(firstChat);
    expect(after.filter((m) => m.role === 'user')).toHaveLength(1);
    expect(after.filter((m) => m.role === 'assistant').some((m) => oldReply.includes(m.id))).toBe(false);
    expect(await assistants().count()).toBe(1);
    expect(await assistants().last().getAttribute('data-message-id')).not.toBe(oldUiId);
  });

  it('kill -9 of the generating replica mid-reply: the complete reply is shown once', async () => {
    const id = await startChat('A story that survives a crash');
    await shownMoreThan(20, 'part of the reply');
    const worker = cluster.read().replicas[0]!;
    expect((await apiChat(id)).worker_id).toBe(worker.id);
    process.kill(worker.pid, 'SIGKILL');
    await waitFor(() => !alive(worker.pid), { what: 'the worker gone', timeoutMs: WAIT_MS });
    // The launcher restarts it; the restarted replica takes the chat over once the lost run is stale.
    const stored = await settled(id, CRASH_WAIT_MS);
    expect(stored.trim().split(/\s+/)).toHaveLength(REPLY_TOKENS);
    expect(await assistants().count()).toBe(1);
    // The app heard of the lost run through the transport's onResync.
    expect(await text(page.getByTestId('resync'))).toMatch(/resynced \((run_lost|relay_failed)\)/);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'react-chat-after-crash.png'), fullPage: true });
  });

  it('logged no page errors and put the token in no URL', () => {
    expect(rec.consoleErrors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    for (const u of rec.urls) expect(u).not.toContain(token);
    expect(rec.urls.some((u) => u.startsWith('http') && u.includes('/stream'))).toBe(true);
    expect(rec.urls.some((u) => u.startsWith('ws') && u.includes('/stream'))).toBe(true);
  });
});
