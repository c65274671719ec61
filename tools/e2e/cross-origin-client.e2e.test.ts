// @chatd/client in Chromium from a page on another origin (issue 30, contract.md#cors, contract.md#tickets,
// contract.md#sse): a second HTTP server serves the page; the replica lists that origin in CHATD_CORS_ORIGINS. The
// page imports the client bundle cross-origin, authenticates with a token (no cookie can reach the replica from
// there), and streams one reply over SSE (fetch sends the token header after a preflight) and one over a WebSocket
// opened with a socket ticket minted per attempt. No socket URL carries the token.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@chatd/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../test/helpers/cluster.js';
import { launchChromium, recordPage, type PageRecord } from './helpers/browser.js';

const WAIT_MS = 30_000;

let cluster: Cluster;
let browser: Browser;
let pageServer: http.Server;
let page: Page;
let rec: PageRecord;
let pageOrigin: string;
let replicaUrl: string;

type PageState = { sse: string[]; ws: string[]; errors: string[] };

beforeAll(async () => {
  pageServer = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>another origin</title><p>app</p>');
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', () => resolve()));
  // localhost, not 127.0.0.1: another host as well as another port.
  pageOrigin = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
  [cluster, browser] = await Promise.all([startCluster(1, { CHATD_CORS_ORIGINS: pageOrigin, CHATD_DEMO_REPLY_TOKENS: '24' }), launchChromium()]);
  replicaUrl = cluster.read().replicas[0]!.url;
  page = await (await browser.newContext()).newPage();
  rec = recordPage(page);
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
  await new Promise<void>((resolve) => pageServer?.close(() => resolve()));
});

const state = () => page.evaluate(() => (window as unknown as { __chatd: PageState }).__chatd);

describe('@chatd/client from another origin', () => {
  it('streams over SSE and over a ticketed WebSocket', async () => {
    await page.goto(`${pageOrigin}/`);
    await page.evaluate(`(async () => {
      const s = { sse: [], ws: [], errors: [] };
      window.__chatd = s;
      const { createChatClient } = await import(${JSON.stringify(`${replicaUrl}/console/chatd-client.js`)});
      const run = async (transport, into) => {
        const client = createChatClient({ baseUrl: ${JSON.stringify(replicaUrl)}, token: ${JSON.stringify(cluster.read().token)}, transport });
        const chat = await client.create('hello from ' + transport);
        const stop = new AbortController();
        for await (const e of client.stream(chat.id, { signal: stop.signal })) {
          into.push(e.type);
          if (e.type === 'message' && e.message.role === 'assistant') stop.abort();
        }
      };
      run('sse', s.sse).catch((err) => s.errors.push('sse ' + err.name + ': ' + err.message));
      run('websocket', s.ws).catch((err) => s.errors.push('ws ' + err.name + ': ' + err.message));
    })()`);
    const done = (types: string[]) => types.includes('message_part') && types.filter((t) => t === 'message').length >= 2;
    await waitFor(async () => (await state()).errors.length > 0 || (done((await state()).sse) && done((await state()).ws)), { what: 'both replies', timeoutMs: WAIT_MS, intervalMs: 100 });
    const s = await state();
    expect(s.errors).toEqual([]);
    expect(done(s.sse) && done(s.ws)).toBe(true);
    const token = cluster.read().token;
    const streams = rec.urls.filter((u) => u.includes('/stream'));
    expect(streams.some((u) => u.startsWith('ws') && /[?&]ticket=chatdt_/.test(u))).toBe(true);
    for (const u of rec.urls) expect(u).not.toContain(token);
    expect(rec.consoleErrors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
  });
});
