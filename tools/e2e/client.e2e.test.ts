// @chatd/client's browser bundle in a real Chromium page against a real replica (issue 24): the page comes from
// the replica through a fault-injection proxy, signs in (the session cookie is all its sockets carry), imports
// /console/chatd-client.js, creates a chat and streams the reply; the proxy then cuts every connection mid-reply
// and the client resumes with its cursor: the reply's parts arrive exactly once, seq 1..n with no gap, and their
// text is the durable message's.
import { createTcpProxy, waitFor, type TcpProxy } from '@chatd/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../test/helpers/cluster.js';
import { launchChromium, recordPage, type PageRecord } from './helpers/browser.js';

/** Deadline of each wait on the page. */
const WAIT_MS = 30_000;

let cluster: Cluster;
let browser: Browser;
let proxy: TcpProxy;
let page: Page;
let rec: PageRecord;
let origin: string;

/** What the page's stream loop recorded (read with page.evaluate). */
type PageState = {
  events: { type: string; seq?: number; run_id?: string; text?: string; id?: number; role?: string; content?: string; status?: string }[];
  opens: number;
  reconnects: number;
  error?: string;
};

beforeAll(async () => {
  // A reply of 160 tokens at 20 tokens/s: eight seconds, long enough to cut the connections in the middle.
  [cluster, browser] = await Promise.all([startCluster(1, { CHATD_DEMO_TOKENS_PER_SECOND: '20', CHATD_DEMO_REPLY_TOKENS: '160' }), launchChromium()]);
  proxy = await createTcpProxy({ port: Number(new URL(cluster.read().replicas[0]!.url).port) });
  origin = `http://127.0.0.1:${proxy.port}`;
  page = await (await browser.newContext()).newPage();
  rec = recordPage(page);
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await cluster?.stop();
});

const state = () => page.evaluate(() => (window as unknown as { __chatd: PageState }).__chatd);

describe('@chatd/client in Chromium', () => {
  it('streams a reply by cookie, and resumes after its connections are cut with no gap and no duplicate', async () => {
    await page.goto(`${origin}/#signin`);
    // Sign in as the console does: the token goes in this body once and comes back as the HttpOnly cookie.
    const status = await page.evaluate(async (token) => (await fetch('/console/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })).status, cluster.read().token);
    expect(status).toBe(200);
    // Plain JavaScript as the page would write it (a string, so the test runner leaves its `import()` alone).
    const chatId = await page.evaluate<string>(`(async () => {
      const { createChatClient } = await import('/console/chatd-client.js');
      const s = { events: [], opens: 0, reconnects: 0 };
      window.__chatd = s;
      const client = createChatClient({ reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
      const chat = await client.create('Tell me a story about resuming');
      (async () => {
        for await (const e of client.stream(chat.id, { onOpen: () => s.opens++, onReconnect: () => s.reconnects++ })) {
          if (e.type === 'message_part') s.events.push({ type: e.type, seq: e.message_part.seq, run_id: e.message_part.run_id, text: e.message_part.part.text ?? '' });
          else if (e.type === 'message') s.events.push({ type: e.type, id: e.message.id, role: e.message.role, content: (e.message.content ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('') });
          else if (e.type === 'status') s.events.push({ type: e.type, status: e.status.status });
          else s.events.push({ type: e.type });
        }
      })().catch((err) => (s.error = err.name + ': ' + err.message));
      return chat.id;
    })()`);
    expect(chatId).toMatch(/^[0-9a-f-]{36}$/);
    const parts = async () => (await state()).events.filter((e) => e.type === 'message_part').length;
    await waitFor(async () => (await parts()) >= 20, { what: 'the first parts', timeoutMs: WAIT_MS, intervalMs: 50 });
    const before = await parts();
    proxy.cut();
    await waitFor(async () => (await state()).reconnects >= 1 && (await state()).opens >= 2, { what: 'the client to reconnect', timeoutMs: WAIT_MS, intervalMs: 50 });
    await waitFor(async () => (await state()).events.some((e) => e.type === 'message' && e.role === 'assistant'), { what: 'the durable reply', timeoutMs: 60_000, intervalMs: 100 });
    const s = await state();
    expect(s.error).toBeUndefined();
    const got = s.events.filter((e) => e.type === 'message_part');
    // The cut came mid-reply, and the stream went on from where it was.
    expect(before).toBeLessThan(160);
    expect(got.length).toBeGreaterThan(before);
    expect(new Set(got.map((p) => p.run_id)).size).toBe(1);
    expect(got.map((p) => p.seq)).toEqual(got.map((_, i) => i + 1));
    const reply = s.events.find((e) => e.type === 'message' && e.role === 'assistant')!;
    expect(got.map((p) => p.text).join('')).toBe(reply.content);
    // The sockets carried the cookie only: no token in any URL.
    const sockets = rec.urls.filter((u) => u.includes(`/chats/${chatId}/stream`));
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    // The resumed socket asked for what came after the last part it had.
    expect(sockets.slice(1).some((u) => /[?&]after_seq=\d+&run_id=[0-9a-f-]{36}/.test(u))).toBe(true);
    for (const u of rec.urls) expect(u).not.toContain(cluster.read().token);
    expect(rec.consoleErrors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
  });
});
