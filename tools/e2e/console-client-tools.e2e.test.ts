// A client-executed tool answered by hand in the web console (issue 27), in Chromium on a two-replica cluster:
// a chat created over the API with `unsafe_dynamic_tools` and a `call confirm {...}` line stops in
// `requires_action`; the console (on replica 2) shows the pending call with a JSON box, refuses invalid JSON in the
// page without a request, then "Send results" answers it; the box goes away, the `tool` message shows the result
// and the turn ends `waiting`. Needs the server side of issue 27 (h27-server): it runs once both branches are merged.
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '@chatd/testkit';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../test/helpers/cluster.js';
import { SCREENSHOT_DIR, launchChromium, recordPage, type PageRecord } from './helpers/browser.js';

/** Deadline of each wait on the page. */
const WAIT_MS = 20_000;

let cluster: Cluster;
let browser: Browser;
let page: Page;
let rec: PageRecord;
let token: string;
let r2: { id: string; url: string };

beforeAll(async () => {
  [cluster, browser] = await Promise.all([startCluster(2, { CHATD_DEMO_TOKENS_PER_SECOND: '200' }), launchChromium()]);
  const c = cluster.read();
  token = c.token;
  r2 = c.replicas[1]!;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
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

describe('client-executed tools in the web console', () => {
  let chatId: string;
  it('shows the pending call of a chat in requires_action with a JSON box', async () => {
    // The chat is created from replica 1, so replica 2's page may see it generated elsewhere.
    const res = await fetch(`${cluster.read().replicas[0]!.url}/api/experimental/chats`, {
      method: 'POST',
      headers: { 'coder-session-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({
        content: [{ type: 'text', text: 'call confirm {"question":"<b>deploy?</b>"}' }],
        unsafe_dynamic_tools: [{ name: 'confirm', description: 'Ask the user to confirm', input_schema: { type: 'object', properties: { question: { type: 'string' } } } }],
      }),
    });
    expect(res.status).toBe(201);
    chatId = ((await res.json()) as { id: string }).id;

    await page.goto(`${r2.url}/#signin`);
    await page.locator('#signin-token').waitFor({ state: 'visible', timeout: WAIT_MS });
    await page.locator('#signin-token').fill(token);
    await page.locator('#signin-form button[type=submit]').click();
    await page.locator('#app').waitFor({ state: 'visible', timeout: WAIT_MS });
    const item = page.locator(`#chat-list li[data-chat-id="${chatId}"] button`);
    await item.waitFor({ state: 'visible', timeout: WAIT_MS });
    await item.click();
    await page.locator('#pending-box').waitFor({ state: 'visible', timeout: WAIT_MS });
    await waitText(page.locator('#chat-status'), (t) => t === 'requires_action', 'status requires_action');
    const call = page.locator('#pending-calls .tool-pending');
    expect(await call.count()).toBe(1);
    // The input arrives as text, markup and all.
    expect(await text(call.locator('.tool-name'))).toBe('? confirm');
    expect(await text(call.locator('.tool-value'))).toBe('{"question":"<b>deploy?</b>"}');
    expect(await call.locator('b').count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'console-client-tool.png'), fullPage: true });
  });

  it('refuses invalid JSON in the page, then sends the results and follows the turn to its end', async () => {
    const box = page.locator('#pending-calls textarea.tool-answer');
    const before = rec.urls.filter((u) => u.includes('/tool-results')).length;
    await box.fill('yes');
    await page.locator('#send-tool-results').click();
    await waitText(page.locator('#pending-error'), (t) => t.includes('is not valid JSON'), 'the refusal');
    expect(rec.urls.filter((u) => u.includes('/tool-results')).length).toBe(before);
    expect(await page.locator('#pending-box').isVisible()).toBe(true);

    await box.fill('"yes, deploy"');
    await page.locator('#send-tool-results').click();
    await page.locator('#pending-box').waitFor({ state: 'hidden', timeout: WAIT_MS });
    expect(rec.urls.filter((u) => u.includes(`/${chatId}/tool-results`)).length).toBe(before + 1);
    await waitFor(async () => (await page.locator('#messages li.message.tool').count()) === 1, { what: 'the tool message', timeoutMs: WAIT_MS });
    expect(await text(page.locator('#messages li.message.tool .tool-result'))).toBe('← confirm "yes, deploy"');
    await waitText(page.locator('#chat-status'), (t) => t === 'waiting', 'status waiting');
    expect(await page.locator('#messages li.message.assistant').count()).toBeGreaterThanOrEqual(2);
    expect(rec.statuses(chatId)).toContain('requires_action');
    expect(rec.consoleErrors).toEqual([]);
    for (const u of rec.urls) expect(u).not.toContain(token);
  });
});
