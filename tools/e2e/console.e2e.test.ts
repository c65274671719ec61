// The web console in a real browser (issue 15): on a two-replica cluster started by `npm start`'s launcher,
// Chromium loads the console from replica 2, signs in, creates a chat and sees tokens arrive, sends a queued
// message and an interrupting one, interrupts, archives, and checks statuses, the relay display, the
// replicas panel, HTML rendered as text, the CSP header, the cookie, no console errors, no token in a URL,
// and a 390-pixel-wide layout. Screenshots go to tools/e2e/screenshots/.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '@chatd/testkit';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, startCluster, type Cluster } from '../test/helpers/cluster.js';
import { SCREENSHOT_DIR, launchChromium, recordPage, type PageRecord } from './helpers/browser.js';

/** Deadline of each wait on the page. */
const WAIT_MS = 20_000;

let cluster: Cluster;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let rec: PageRecord;
let token: string;
let r2: { id: string; url: string };

beforeAll(async () => {
  // A reply takes a few seconds (20 tokens/s), long enough to queue behind it and interrupt it.
  [cluster, browser] = await Promise.all([startCluster(2, { CHATD_DEMO_TOKENS_PER_SECOND: '20', CHATD_DEMO_REPLY_TOKENS: '120' }), launchChromium()]);
  const c = cluster.read();
  token = c.token;
  r2 = c.replicas[1]!;
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  rec = recordPage(page);
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

const text = async (l: Locator) => ((await l.textContent()) ?? '').trim();
const waitText = (l: Locator, ok: (t: string) => boolean, what: string) => waitFor(async () => ok(await text(l)), { what, timeoutMs: WAIT_MS, intervalMs: 50 });
const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOT_DIR, name), fullPage: true });

/** The chat as the API sees it (to compare with what the page shows). */
async function apiChat(id: string): Promise<{ id: string; status: string; worker_id: string | null; title: string }> {
  const res = await fetch(`${r2.url}/api/experimental/chats/${id}`, { headers: { 'coder-session-token': token } });
  return (await res.json()) as never;
}

const selectedChatId = () => page.locator('#chat-list li.selected').getAttribute('data-chat-id');

describe('the web console in Chromium', () => {
  it('loads from replica 2 with a strict CSP and signs in by cookie', async () => {
    // npm start prints a sign-in link that holds no token.
    const link = new RegExp(`web console: (http://127\\.0\\.0\\.1:\\d+/#signin) `).exec(cluster.output());
    expect(link?.[1]).toBe(`${cluster.read().replicas[0]!.url}/#signin`);
    const res = await page.goto(`${r2.url}/#signin`);
    expect(res?.status()).toBe(200);
    await page.locator('#signin-token').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await page.locator('#app').isHidden()).toBe(true);
    await shot('console-signin.png');
    const csp = res!.headers()['content-security-policy'] ?? '';
    expect(csp).toMatch(/^default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+; /);
    expect(csp).not.toMatch(/unsafe|\*/);
    expect(res!.headers()['x-chatd-replica']).toBe(r2.id);
    await page.locator('#signin-token').fill(token);
    await page.locator('#signin-form button[type=submit]').click();
    await page.locator('#app').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await text(page.locator('#serving'))).toBe(`served by replica ${r2.id.slice(0, 8)}`);
    expect(await text(page.locator('#user'))).toBe('demo (admin)');
    expect(page.url()).toBe(`${r2.url}/`);
    const cookies = await context.cookies();
    expect(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path }))).toEqual([{ name: 'coder_session_token', httpOnly: true, sameSite: 'Strict', path: '/' }]);
    // Not readable by the page's script.
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await waitText(page.locator('#watch-state'), (t) => t === 'live', 'the watch socket');
  });

  it('shows both replicas from the registry', async () => {
    await waitFor(async () => (await page.locator('#replica-list > li').count()) === 2, { what: 'two replicas in the panel', timeoutMs: WAIT_MS });
    expect(await page.locator('#replica-list > li.self').getAttribute('data-replica-id')).toBe(r2.id);
    expect(await text(page.locator('#replica-list > li.self'))).toMatch(new RegExp(`^${new URL(r2.url).host} · ${r2.id.slice(0, 8)} · \\(serving this page\\) · \\d+ running`));
  });

  let chatId: string;
  it('creates a chat and sees its tokens arrive live, with the generating replica and the relay shown', async () => {
    await page.locator('#new-chat-text').fill('Tell me a long story about streams');
    await page.locator('#new-chat button[type=submit]').click();
    await page.locator('#chat-detail').waitFor({ state: 'visible', timeout: WAIT_MS });
    chatId = (await selectedChatId())!;
    expect(chatId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await text(page.locator('#chat-title'))).toBe('Tell me a long story about…');
    const live = page.locator('#live-text');
    await waitText(live, (t) => t.length > 0, 'the first tokens');
    const first = (await text(live)).length;
    await waitText(live, (t) => t.length > first + 10, 'more tokens');
    await waitText(page.locator('#chat-status'), (t) => t === 'running', 'status running');
    // Which replica generates it, and whether its parts reach replica 2 by relay, as the API says.
    const chat = await apiChat(chatId);
    expect(chat.worker_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await text(page.locator('#chat-worker'))).toContain(chat.worker_id!);
    const relay = chat.worker_id !== r2.id;
    expect(await page.locator('#chat-delivery').getAttribute('data-relay')).toBe(String(relay));
    const workerHost = new URL(cluster.read().replicas.find((r) => r.id === chat.worker_id)!.url).host;
    expect(await text(page.locator('#chat-delivery'))).toBe(relay ? `by relay from replica ${workerHost} (${chat.worker_id!.slice(0, 8)})` : 'directly (this replica generates the chat)');
    if (!relay) {
      // Replica 2 generates it: watch it from replica 1 too (the cookie is per host, not per port), where
      // the parts can only arrive by relay.
      const viewer = await context.newPage();
      const viewerRec = recordPage(viewer);
      await viewer.goto(`${cluster.read().replicas[0]!.url}/`);
      await viewer.locator(`#chat-list li[data-chat-id="${chatId}"] button`).click();
      await waitText(viewer.locator('#chat-delivery'), (t) => t === `by relay from replica ${new URL(r2.url).host} (${r2.id.slice(0, 8)})`, 'the relay shown on replica 1');
      const seen = (await text(viewer.locator('#live-text'))).length;
      await waitText(viewer.locator('#live-text'), (t) => t.length > seen + 5, 'tokens by relay on replica 1');
      await viewer.screenshot({ path: path.join(SCREENSHOT_DIR, 'console-relay.png'), fullPage: true });
      await viewer.close();
      expect(viewerRec.consoleErrors).toEqual([]);
    }
    await waitFor(async () => (await text(page.locator(`#replica-list > li[data-replica-id="${chat.worker_id}"]`))).includes('Tell me a long story'), {
      what: 'the chat under its replica in the panel',
      timeoutMs: WAIT_MS,
    });
    await shot('console-streaming.png');
  });

  const html = '<img src=x onerror="window.__xss=1"><b>bold?</b> & <script>window.__xss=2</script>';
  it('queues a message behind the reply, then interrupts with an HTML-laden one that renders as text', async () => {
    await page.locator('#message-text').fill('and then what happened?');
    await page.locator('#send-queue').click();
    await waitText(page.locator('#queue'), (t) => t.includes('and then what happened?'), 'the queued message');
    expect(await text(page.locator('#chat-status'))).toBe('running');
    await page.locator('#message-text').fill(html);
    await page.locator('#send-interrupt').click();
    // Both user messages are promoted and answered in turn; the chat ends waiting.
    const userTexts = page.locator('#messages .message.user .text');
    await waitFor(async () => (await userTexts.allTextContents()).includes(html), { what: 'the HTML message in the history', timeoutMs: WAIT_MS });
    await waitFor(async () => (await page.locator('#messages .message.assistant').count()) >= 3 && (await text(page.locator('#chat-status'))) === 'waiting', {
      what: 'three replies and waiting',
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    expect(await userTexts.allTextContents()).toEqual(['Tell me a long story about streams', 'and then what happened?', html]);
    expect(await page.locator('#messages b, #messages img, #messages script, #chat-list b').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('#queue-box').isHidden()).toBe(true);
    // The stream said: running, then (interrupted, queue promoted) pending/running again, then waiting.
    const statuses = rec.statuses(chatId);
    expect(statuses[0]).toMatch(/pending|running/);
    expect(statuses.filter((s) => s === 'running').length).toBeGreaterThanOrEqual(2);
    expect(statuses.at(-1)).toBe('waiting');
    expect(statuses).not.toContain('error');
    // Each part arrived once.
    const parts = (rec.events.get(chatId) ?? []).filter((e) => e.type === 'message_part').map((e) => `${e.message_part!.run_id}/${e.message_part!.seq}`);
    expect(parts.length).toBeGreaterThan(20);
    expect(new Set(parts).size).toBe(parts.length);
    expect(await text(page.locator('#chat-list li.selected .status'))).toBe('waiting');
  });

  it('interrupts a running reply: the partial reply is kept and the chat waits', async () => {
    const before = await page.locator('#messages .message.assistant').count();
    await page.locator('#message-text').fill('one more, please');
    await page.locator('#message-text').press('Control+Enter');
    await waitText(page.locator('#live-text'), (t) => t.length > 5, 'the next reply to stream');
    await page.locator('#interrupt').click();
    await waitText(page.locator('#chat-status'), (t) => t === 'waiting', 'waiting after the interrupt');
    await waitFor(async () => (await page.locator('#messages .message.assistant').count()) === before + 1, { what: 'the partial reply', timeoutMs: WAIT_MS });
    expect(await page.locator('#live').isHidden()).toBe(true);
    await shot('console-desktop.png');
  });

  it('edits a user message and regenerates the last reply: the history is replaced, no part of a discarded reply follows the reset', async () => {
    const chatId = (await selectedChatId())!;
    const userTexts = page.locator('#messages .message.user .text');
    const lastUser = page.locator('#messages .message.user').last();
    await lastUser.locator('.edit-message').click();
    await lastUser.locator('.edit-text').fill('a short edit');
    await lastUser.locator('.save-edit').click();
    await waitFor(async () => (await userTexts.allTextContents()).at(-1) === 'a short edit', { what: 'the edited message', timeoutMs: WAIT_MS, intervalMs: 50 });
    expect(await userTexts.allTextContents()).not.toContain('one more, please');
    await waitText(page.locator('#chat-status'), (t) => t === 'waiting', 'the reply to the edit');
    const replies = page.locator('#messages .message.assistant');
    await waitFor(async () => (await page.locator('#messages .regenerate').count()) === 1, { what: 'the regenerate button', timeoutMs: WAIT_MS });
    const before = await replies.count();
    const replaced = await replies.last().getAttribute('data-message-id');
    await page.locator('#messages .regenerate').click();
    await waitFor(async () => (await replies.count()) === before && (await replies.last().getAttribute('data-message-id')) !== replaced && (await text(page.locator('#chat-status'))) === 'waiting', {
      what: 'the regenerated reply',
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    expect((await userTexts.allTextContents()).at(-1)).toBe('a short edit');
    // The page was told twice to drop its history; nothing of a run that was replaced came after either reset.
    const events = rec.events.get(chatId) ?? [];
    const resets = events.flatMap((e, i) => (e.type === 'history_reset' ? [i] : []));
    expect(resets.length).toBeGreaterThanOrEqual(2);
    for (const at of resets) {
      const seen = new Set(events.slice(0, at).flatMap((e) => (e.type === 'message_part' ? [e.message_part!.run_id] : [])));
      expect(events.slice(at).filter((e) => e.type === 'message_part' && seen.has(e.message_part!.run_id))).toEqual([]);
    }
  });

  it('shows an HTML chat title as text, and archives a chat', async () => {
    const title = '<b>bold</b> <img src=x onerror=alert(1)>';
    await page.locator('#new-chat-text').fill(title);
    await page.locator('#new-chat button[type=submit]').click();
    await waitFor(async () => (await selectedChatId()) !== chatId, { what: 'the new chat selected', timeoutMs: WAIT_MS });
    const htmlChat = (await selectedChatId())!;
    const item = page.locator(`#chat-list li[data-chat-id="${htmlChat}"] .title`);
    expect(await item.textContent()).toBe(title);
    expect(await page.locator('#chat-title').textContent()).toBe(title);
    expect(await page.locator('#chat-list b, #chat-list img, #chat-title b').count()).toBe(0);
    await waitText(page.locator('#chat-status'), (t) => t === 'waiting', 'the HTML chat to finish');
    await page.locator('#archive').click();
    await waitFor(async () => (await page.locator(`#chat-list li[data-chat-id="${htmlChat}"]`).count()) === 0, { what: 'the archived chat gone', timeoutMs: WAIT_MS });
    expect(await page.locator('#chat-empty').isVisible()).toBe(true);
    expect((await fetch(`${r2.url}/api/experimental/chats?archived=true`, { headers: { 'coder-session-token': token } }).then((r) => r.json())) as { id: string }[]).toContainEqual(
      expect.objectContaining({ id: htmlChat, archived: true }),
    );
  });

  it('shows the git diff status once the chat has a git reference, and fits a 390-pixel-wide screen', async () => {
    const put = await fetch(`${r2.url}/api/experimental/chats/${chatId}/git`, {
      method: 'PUT',
      headers: { 'coder-session-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ origin: 'https://github.com/example/chatd-demo.git', branch: 'console-e2e' }),
    });
    expect(put.status).toBe(204);
    await page.locator(`#chat-list li[data-chat-id="${chatId}"] button`).click();
    await page.locator('#chat-detail').waitFor({ state: 'visible', timeout: WAIT_MS });
    await waitText(page.locator('#chat-diff'), (t) => t.startsWith('+0 −0 in 0 files · no pull request yet'), 'the diff status');
    expect(await page.locator('#chat-diff-label').isVisible()).toBe(true);
    await page.setViewportSize({ width: 390, height: 844 });
    await waitFor(async () => (await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, { what: 'no horizontal scroll at 390px', timeoutMs: WAIT_MS });
    const side = (await page.locator('.sidebar').boundingBox())!;
    const view = (await page.locator('.chat-view').boundingBox())!;
    // One column, the open chat first, both within the screen.
    expect(side.y).toBeGreaterThanOrEqual(view.y + view.height);
    for (const box of [side, view]) expect(box.x + box.width).toBeLessThanOrEqual(390);
    for (const id of ['#send-queue', '#send-interrupt', '#interrupt', '#archive']) {
      const b = (await page.locator(id).boundingBox())!;
      expect(b.x + b.width, id).toBeLessThanOrEqual(390);
    }
    await shot('console-phone.png');
  });

  it('logged no console errors and put the token in no URL', () => {
    expect(rec.consoleErrors).toEqual([]);
    expect(rec.urls.length).toBeGreaterThan(5);
    expect(rec.urls.some((u) => u.includes('/stream'))).toBe(true);
    for (const u of rec.urls) expect(u).not.toContain(token);
    // Nor in the replicas' logs (the launcher's banner prints it on purpose; replica lines are prefixed).
    const replicaLines = cluster.output().split('\n').filter((l) => l.startsWith('[replica'));
    for (const l of replicaLines) expect(l).not.toContain(token);
  });

  it('on an OSS-only replica (no replica registry) the panel shows just that replica', async () => {
    const bin = path.join(repoRoot, 'packages', 'chatd-oss', 'dist', 'bin', 'chatd.js');
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--no-worker', '--no-migrate'], {
      env: { ...process.env, DATABASE_URL: cluster.read().database_url, CHATD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      await waitFor(() => /listening on (\S+) \(replica /.test(out), { what: 'the OSS replica to listen', timeoutMs: WAIT_MS });
      const [, url, id] = /listening on (\S+) \(replica ([0-9a-f-]{36})/.exec(out)!;
      const p = await context.newPage();
      const pr = recordPage(p);
      await p.goto(`${url}/`);
      // Signed in already: the cookie belongs to the host, whatever the port.
      await waitFor(async () => (await p.locator('#replica-list > li').count()) === 1 && (await p.locator('#chat-list > li').count()) > 0, { what: 'the OSS page', timeoutMs: WAIT_MS });
      expect(await p.locator('#replica-list > li').getAttribute('data-replica-id')).toBe(id);
      expect(await text(p.locator('#replica-note'))).toBe('This replica has no replica registry; only it is shown.');
      expect(pr.urls.some((u) => u.endsWith('/replicas'))).toBe(false);
      await p.close();
      expect(pr.consoleErrors).toEqual([]);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('keeps streaming when the generating replica is killed mid-reply (the reply is re-run, shown once); signs out', async () => {
    // Last, and watched from the surviving replica only: a page whose own server dies logs failed sockets.
    await page.close();
    const created = await fetch(`${r2.url}/api/experimental/chats`, {
      method: 'POST',
      headers: { 'coder-session-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'A story that survives a crash' }),
    });
    const id = ((await created.json()) as { id: string }).id;
    let worker: string | null = null;
    await waitFor(async () => (worker = (await apiChat(id)).worker_id) !== null, { what: 'a replica to take the chat', timeoutMs: WAIT_MS });
    const replicas = cluster.read().replicas;
    const victim = replicas.find((r) => r.id === worker)!;
    const survivor = replicas.find((r) => r.id !== worker)!;
    const p = await context.newPage();
    const pr = recordPage(p);
    await p.goto(`${survivor.url}/`);
    await p.locator(`#chat-list li[data-chat-id="${id}"] button`).click();
    await waitText(p.locator('#live-text'), (t) => t.length > 10, 'tokens by relay');
    expect(await p.locator('#chat-delivery').getAttribute('data-relay')).toBe('true');
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(async () => (await p.locator('#messages .message.assistant').count()) === 1 && (await text(p.locator('#chat-status'))) === 'waiting', {
      what: 'the re-run reply after the crash',
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    expect(await p.locator('#live').isHidden()).toBe(true);
    const events = pr.events.get(id) ?? [];
    const parts = events.filter((e) => e.type === 'message_part').map((e) => e.message_part!);
    const keys = parts.map((m) => `${m.run_id}/${m.seq}`);
    expect(new Set(keys).size).toBe(keys.length);
    // The lost run's parts were dropped; the reply shown is exactly the last run's parts, from seq 1.
    const runs = [...new Set(parts.map((m) => m.run_id))];
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const last = parts.filter((m) => m.run_id === runs.at(-1));
    expect(last.map((m) => m.seq)).toEqual(last.map((_, i) => i + 1));
    expect(await text(p.locator('#messages .message.assistant .text'))).toBe(last.map((m) => m.part.text ?? '').join('').trim());
    expect(pr.statuses(id)).not.toContain('error');
    await p.screenshot({ path: path.join(SCREENSHOT_DIR, 'console-after-crash.png'), fullPage: true });
    // Signing out clears the cookie: a reload asks for the token again.
    await p.locator('#signout').click();
    await p.locator('#signin-token').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect((await context.cookies()).filter((c) => c.name === 'coder_session_token')).toEqual([]);
    await p.reload();
    await p.locator('#signin-token').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await p.locator('#app').isHidden()).toBe(true);
    expect(pr.consoleErrors).toEqual([]);
  });
});
