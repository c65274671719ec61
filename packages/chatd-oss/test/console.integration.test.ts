// The web console's server side (issue 15) on a real replica: the page and its files with their content
// types and a strict CSP, the session route (exact cookie attributes; a bad token is a 401 without a
// cookie), who-am-I, sign-out, 404 for anything else, and no token in any URL or response body.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { findConsoleDir } from '../src/console/console-assets.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/server/start-chatd-server.js';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let alice: { token: string; userId: string };

beforeAll(async () => {
  replica = await startTestReplica(db.url);
  alice = await userToken(replica, 'alice');
});
afterAll(async () => {
  await replica?.close();
});

/** Every body and URL seen by these tests, checked for the token at the end. */
const seen: { url: string; body: string; headers: string }[] = [];

async function request(method: string, urlPath: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${replica.url}${urlPath}`, { method, headers: init.headers ?? {}, ...(init.body !== undefined ? { body: init.body } : {}), redirect: 'manual' });
  const body = await res.text();
  seen.push({ url: res.url, body, headers: [...res.headers.entries()].filter(([k]) => k !== 'set-cookie').map(([k, v]) => `${k}: ${v}`).join('\n') });
  return { status: res.status, headers: res.headers, body };
}

/** A raw request, so paths like `/console/../x` reach the server unnormalised. */
function rawGet(rawPath: string): Promise<number> {
  const { port } = new URL(replica.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(port), path: rawPath, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const signIn = (token: string, headers: Record<string, string> = {}) =>
  request('POST', '/console/session', { body: JSON.stringify({ token }), headers: { 'content-type': 'application/json', ...headers } });

describe('console: the page and its files', () => {
  it('serves the page at / with a strict Content-Security-Policy and the serving replica', async () => {
    const res = await request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const host = new URL(replica.url).host;
    expect(res.headers.get('content-security-policy')).toBe(
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' ws://${host} wss://${host}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-chatd-replica')).toBe(replica.replicaId);
    expect(res.body).toContain('<script type="module" src="/console/console.js"></script>');
    // Nothing inline for the CSP to refuse: no inline script, no style element or attribute, no handlers.
    expect(res.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(res.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    // The sign-in form posts (a submit without the script never puts the token in a URL).
    expect(res.body).toMatch(/<form id="signin-form" method="post"/);
  });

  it('serves the script, style and icon with their content types, the CSP, and revalidation', async () => {
    const types: Record<string, string> = {
      '/console/console.js': 'text/javascript; charset=utf-8',
      '/console/console.css': 'text/css; charset=utf-8',
      '/console/icon.svg': 'image/svg+xml',
    };
    for (const [p, type] of Object.entries(types)) {
      const res = await request('GET', p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type'), p).toBe(type);
      expect(res.headers.get('content-security-policy'), p).toMatch(/^default-src 'none'/);
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      const etag = res.headers.get('etag');
      expect(etag, p).toMatch(/^"[\w-]+"$/);
      const again = await request('GET', p, { headers: { 'if-none-match': etag! } });
      expect(again.status, p).toBe(304);
    }
  });

  it('answers 404 for unknown paths, other methods and escapes from the folder', async () => {
    for (const p of ['/index.html', '/console/', '/console/nope.js', '/console/index.html', '/console/console.js.map', '/favicon.ico', '/console']) {
      expect((await request('GET', p)).status, p).toBe(404);
    }
    expect((await request('POST', '/')).status).toBe(404);
    expect((await request('GET', '/console/session')).status).toBe(404);
    for (const p of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/..%2fpackage.json']) expect(await rawGet(p), p).toBe(404);
  });

  it('the browser script sends the token only in the sign-in body, never in a URL or to storage', () => {
    const dir = findConsoleDir();
    expect(dir).toBe(path.resolve(import.meta.dirname, '..', 'console'));
    const js = fs.readFileSync(path.join(dir!, 'console.js'), 'utf8');
    expect(js).not.toMatch(/localStorage|sessionStorage|document\.cookie|innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function/);
    expect(js).not.toMatch(/[?&]token=/);
    // The only place the token value goes: the JSON body of POST /console/session.
    const uses = js.split('\n').filter((l) => /\btoken\b/.test(l) && /fetch|api\(|WebSocket|location|URLSearchParams|console\.log/.test(l));
    expect(uses.map((l) => l.trim())).toEqual(["const me = await api('POST', '/console/session', { token });"]);
  });
});

describe('console: the session', () => {
  it('a good token sets the HttpOnly, SameSite=Strict session cookie, exactly', async () => {
    const res = await signIn(alice.token);
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([`coder_session_token=${encodeURIComponent(alice.token)}; Path=/; HttpOnly; SameSite=Strict`]);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(res.body)).toEqual({ replica_id: replica.replicaId, user: { id: alice.userId, username: 'alice', admin: false } });
    // Behind a TLS-terminating proxy the cookie is Secure too.
    const proxied = await signIn(alice.token, { 'x-forwarded-proto': 'https' });
    expect(proxied.headers.getSetCookie()).toEqual([`coder_session_token=${encodeURIComponent(alice.token)}; Path=/; HttpOnly; SameSite=Strict; Secure`]);
  });

  it('a bad, empty or missing token is refused without a cookie', async () => {
    const bad = await signIn(`${alice.token}x`);
    expect(bad.status).toBe(401);
    expect(bad.headers.getSetCookie()).toEqual([]);
    expect(JSON.parse(bad.body)).toMatchObject({ message: 'That token is not valid.' });
    for (const body of [JSON.stringify({ token: '' }), JSON.stringify({}), 'not json', JSON.stringify({ token: 'x'.repeat(600) })]) {
      const res = await request('POST', '/console/session', { body, headers: { 'content-type': 'application/json' } });
      expect(res.status, body.slice(0, 20)).toBe(400);
      expect(res.headers.getSetCookie()).toEqual([]);
    }
  });

  it('refuses a form post and a cross-origin sign-in', async () => {
    const form = await request('POST', '/console/session', { body: `token=${encodeURIComponent(alice.token)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(400);
    expect(form.headers.getSetCookie()).toEqual([]);
    const cross = await signIn(alice.token, { origin: 'http://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.headers.getSetCookie()).toEqual([]);
    const same = await signIn(alice.token, { origin: replica.url });
    expect(same.status).toBe(200);
  });

  it('the cookie authenticates the API and both sockets; whoami names the user and the replica', async () => {
    const cookie = `coder_session_token=${encodeURIComponent(alice.token)}`;
    const anon = await request('GET', '/console/whoami');
    expect(JSON.parse(anon.body)).toEqual({ replica_id: replica.replicaId, user: null, features: { replicas: false } });
    const me = await request('GET', '/console/whoami', { headers: { cookie } });
    expect(JSON.parse(me.body)).toEqual({ replica_id: replica.replicaId, user: { id: alice.userId, username: 'alice', admin: false }, features: { replicas: false } });
    const created = await request('POST', '/api/experimental/chats', { body: JSON.stringify({ content: 'hello by cookie' }), headers: { cookie, 'content-type': 'application/json' } });
    expect(created.status).toBe(201);
    const chatId = (JSON.parse(created.body) as { id: string }).id;
    const wsBase = replica.url.replace(/^http/, 'ws');
    for (const p of [`/api/experimental/chats/${chatId}/stream`, '/api/experimental/chats/watch']) {
      const ws = new WebSocket(`${wsBase}${p}`, { headers: { cookie } });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`${p}: ${res.statusCode}`)));
        ws.once('error', reject);
      });
      ws.close();
    }
  });

  it('the cookie is refused from another origin (a page on another port of this host included); tokens in headers are not', async () => {
    const cookie = `coder_session_token=${encodeURIComponent(alice.token)}`;
    const self = new URL(replica.url).origin;
    const otherPort = `http://127.0.0.1:${Number(new URL(replica.url).port) + 1}`;
    const post = (headers: Record<string, string>) =>
      request('POST', '/api/experimental/chats', { body: JSON.stringify({ content: 'csrf?' }), headers: { 'content-type': 'text/plain', ...headers } });
    for (const origin of ['http://evil.example', otherPort, 'null']) {
      const res = await post({ cookie, origin });
      expect(res.status, origin).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ message: 'Cross-origin requests may not use the session cookie.' });
    }
    expect((await post({ cookie, origin: self })).status).toBe(201);
    expect((await post({ cookie })).status).toBe(201);
    expect((await post({ 'coder-session-token': alice.token, origin: 'http://evil.example' })).status).toBe(201);
    const wsUrl = `${replica.url.replace(/^http/, 'ws')}/api/experimental/chats/watch`;
    const dial = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(wsUrl, { headers: { cookie }, origin });
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('unexpected-response', (_req, res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        ws.once('error', reject);
      });
    expect(await dial(otherPort)).toBe(403);
    expect(await dial(self)).toBe(101);
  });

  it('sign-out clears the cookie', async () => {
    const res = await request('DELETE', '/console/session');
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie()).toEqual(['coder_session_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict']);
  });

  it('no token appeared in any URL, response body or response header', () => {
    expect(seen.length).toBeGreaterThan(20);
    for (const s of seen) {
      expect(s.url).not.toContain(alice.token);
      expect(s.body).not.toContain(alice.token);
      expect(s.headers).not.toContain(alice.token);
    }
  });
});
