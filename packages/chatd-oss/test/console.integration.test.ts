// The web console's server side (issue 15) on a real replica: the page and its files with their content
// types and a strict CSP, the session route (exact cookie attributes; the cookie holds a console session
// token, never the API token; a bad token is a 401 without a cookie), who-am-I, sign-out (which revokes the
// session), session expiry on the replica's clock, 404 for anything else, and no token in any URL or body.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { useTestDatabase } from '@chatd/testkit';
import { createMockClock, type MockClock } from '@chatd/clock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { findClientBundle, findConsoleDir } from '../src/console/console-assets.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
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

/** Every console session token minted by these tests, checked for at the end like the API token. */
const sessionTokens: string[] = [];

/** The session token a sign-in answer set as the cookie (asserting the cookie's exact attributes). */
function sessionFrom(res: { headers: Headers }, secure = false): string {
  const [cookie, ...more] = res.headers.getSetCookie();
  expect(more).toEqual([]);
  const m = new RegExp(`^coder_session_token=(chatd_[A-Za-z0-9_-]{43}); Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}$`).exec(cookie ?? '');
  expect(m, cookie).not.toBeNull();
  sessionTokens.push(m![1]!);
  return m![1]!;
}

/** Signs alice in and returns the Cookie header her browser would then send. */
async function signedInCookie(): Promise<string> {
  const res = await signIn(alice.token);
  expect(res.status).toBe(200);
  return `coder_session_token=${sessionFrom(res)}`;
}

describe('console: the page and its files', () => {
  it('serves the page at / with a strict Content-Security-Policy and the serving replica', async () => {
    const res = await request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const host = new URL(replica.url).host;
    expect(res.headers.get('content-security-policy')).toBe(
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self' ws://${host} wss://${host}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
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

  it('serves the script, the client bundle, style and icon with their content types, the CSP, and revalidation', async () => {
    const types: Record<string, string> = {
      '/console/console.js': 'text/javascript; charset=utf-8',
      '/console/console.css': 'text/css; charset=utf-8',
      '/console/icon.svg': 'image/svg+xml',
      '/console/chatd-client.js': 'text/javascript; charset=utf-8',
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
    // The client bundle is @chatd/client's browser build, as built.
    expect((await request('GET', '/console/chatd-client.js')).body).toBe(fs.readFileSync(findClientBundle()!, 'utf8'));
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
  it('a good token sets the HttpOnly, SameSite=Strict session cookie, exactly, holding a new session token and never the API token', async () => {
    const res = await signIn(alice.token);
    expect(res.status).toBe(200);
    const session = sessionFrom(res);
    expect(session).not.toBe(alice.token);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(res.body)).toEqual({ replica_id: replica.replicaId, user: { id: alice.userId, username: 'alice', admin: false } });
    expect(await replica.chatd.identity.verifyToken(session)).toMatchObject({ tokenKind: 'session', user: { id: alice.userId } });
    // Behind a TLS-terminating proxy the cookie is Secure too; every sign-in is a session of its own.
    const proxied = await signIn(alice.token, { 'x-forwarded-proto': 'https' });
    expect(sessionFrom(proxied, true)).not.toBe(session);
  });

  it('a session token does not sign in (only an API token mints a session)', async () => {
    const session = (await signedInCookie()).split('=')[1]!;
    const res = await signIn(session);
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie()).toEqual([]);
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
    const cookie = await signedInCookie();
    const anon = await request('GET', '/console/whoami');
    expect(JSON.parse(anon.body)).toEqual({ replica_id: replica.replicaId, user: null, features: { replicas: false } });
    const me = await request('GET', '/console/whoami', { headers: { cookie } });
    expect(JSON.parse(me.body)).toEqual({ replica_id: replica.replicaId, user: { id: alice.userId, username: 'alice', admin: false }, features: { replicas: false } });
    // As a browser sends them: the page's Origin on every write and socket.
    const origin = new URL(replica.url).origin;
    const created = await request('POST', '/api/experimental/chats', { body: JSON.stringify({ content: 'hello by cookie' }), headers: { cookie, origin, 'content-type': 'application/json' } });
    expect(created.status).toBe(201);
    const chatId = (JSON.parse(created.body) as { id: string }).id;
    const wsBase = replica.url.replace(/^http/, 'ws');
    for (const p of [`/api/experimental/chats/${chatId}/stream`, '/api/experimental/chats/watch']) {
      const ws = new WebSocket(`${wsBase}${p}`, { headers: { cookie }, origin });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`${p}: ${res.statusCode}`)));
        ws.once('error', reject);
      });
      ws.close();
    }
  });

  it('the cookie is refused from another origin (a page on another port of this host included); tokens in headers are not', async () => {
    const cookie = await signedInCookie();
    const self = new URL(replica.url).origin;
    const otherPort = `http://127.0.0.1:${Number(new URL(replica.url).port) + 1}`;
    const post = (headers: Record<string, string>, type = 'application/json') =>
      request('POST', '/api/experimental/chats', { body: JSON.stringify({ content: 'csrf?' }), headers: { 'content-type': type, ...headers } });
    for (const origin of ['http://evil.example', otherPort, 'null', self.replace('http:', 'https:')]) {
      const res = await post({ cookie, origin });
      expect(res.status, origin).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ message: 'Cross-origin requests may not use the session cookie.' });
    }
    expect((await post({ cookie, origin: self })).status).toBe(201);
    expect((await post({ cookie, 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    expect((await post({ 'coder-session-token': alice.token, origin: 'http://evil.example' }, 'text/plain')).status).toBe(201);
    const wsUrl = `${replica.url.replace(/^http/, 'ws')}/api/experimental/chats/watch`;
    const dial = (origin: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(wsUrl, { headers: { cookie }, ...(origin ? { origin } : {}) });
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
    expect(await dial(undefined)).toBe(403);
    expect(await dial(self)).toBe(101);
  });

  it('a cookie request without Origin, or with a text/plain body, creates nothing (issue 22 item 5)', async () => {
    const cookie = await signedInCookie();
    const self = new URL(replica.url).origin;
    const count = async () => JSON.parse((await request('GET', '/api/experimental/chats', { headers: { cookie } })).body).length as number;
    const before = await count();
    // The reported attack: the browser left out Origin, and a simple (preflight-free) text/plain body.
    const attack = await request('POST', '/api/experimental/chats', { body: JSON.stringify({ content: 'csrf' }), headers: { cookie, 'content-type': 'text/plain' } });
    expect(attack.status).toBe(403);
    expect(JSON.parse(attack.body)).toMatchObject({ message: 'A request that uses the session cookie to change something must come from the console.' });
    const plain = await request('POST', '/api/experimental/chats', { body: JSON.stringify({ content: 'csrf' }), headers: { cookie, origin: self, 'content-type': 'text/plain' } });
    expect(plain.status).toBe(403);
    expect(JSON.parse(plain.body)).toMatchObject({ message: 'A request that uses the session cookie must send a JSON body.' });
    const form = await request('POST', '/api/experimental/chats', { body: 'content=csrf', headers: { cookie, origin: self, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(403);
    expect(await count()).toBe(before);
  });

  it('sign-out revokes the session and clears the cookie: a kept copy of the cookie is refused after it', async () => {
    const cookie = await signedInCookie();
    expect((await request('GET', '/api/experimental/chats', { headers: { cookie } })).status).toBe(200);
    const origin = new URL(replica.url).origin;
    // Sign-out is a write: a cookie without the page's Origin is refused and revokes nothing.
    expect((await request('DELETE', '/console/session', { headers: { cookie } })).status).toBe(403);
    expect((await request('GET', '/api/experimental/chats', { headers: { cookie } })).status).toBe(200);
    const res = await request('DELETE', '/console/session', { headers: { cookie, origin } });
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie()).toEqual(['coder_session_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict']);
    expect((await request('GET', '/api/experimental/chats', { headers: { cookie } })).status).toBe(401);
    expect(JSON.parse((await request('GET', '/console/whoami', { headers: { cookie } })).body)).toMatchObject({ user: null });
    // The API token it was minted from is untouched, and signing out again (or with no cookie) still just clears.
    expect((await request('GET', '/api/experimental/chats', { headers: { 'coder-session-token': alice.token } })).status).toBe(200);
    expect((await request('DELETE', '/console/session', { headers: { cookie, origin } })).status).toBe(204);
    expect((await request('DELETE', '/console/session')).status).toBe(204);
  });

  it('sign-out with an API token in the cookie (a client, or a console from before sessions) clears it but never revokes the token', async () => {
    const res = await request('DELETE', '/console/session', { headers: { cookie: `coder_session_token=${alice.token}`, origin: new URL(replica.url).origin } });
    expect(res.status).toBe(204);
    expect((await request('GET', '/api/experimental/chats', { headers: { 'coder-session-token': alice.token } })).status).toBe(200);
  });

  it('no token appeared in any URL, response body or response header', () => {
    expect(seen.length).toBeGreaterThan(20);
    expect(sessionTokens.length).toBeGreaterThan(3);
    for (const s of seen) {
      for (const token of [alice.token, ...sessionTokens]) {
        expect(s.url).not.toContain(token);
        expect(s.body).not.toContain(token);
        expect(s.headers).not.toContain(token);
      }
    }
  });
});

describe('console: session expiry on the replica clock', () => {
  const TTL_MS = 60 * 60 * 1000;
  let clock: MockClock;
  let timed: RunningChatd;

  beforeAll(async () => {
    clock = createMockClock({ now: new Date('2026-01-01T00:00:00Z') });
    timed = await startTestReplica(db.url, { clock, config: { databaseUrl: db.url, worker: false, consoleSessionTtlMs: TTL_MS } });
  });
  afterAll(async () => {
    await timed?.close();
  });

  it('a session unused for CHATD_CONSOLE_SESSION_TTL_MS is a 401; one in use slides', async () => {
    const api = (path: string, cookie: string) => fetch(`${timed.url}${path}`, { headers: { cookie } }).then((r) => r.status);
    const signInHere = async () => {
      const res = await fetch(`${timed.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: alice.token }) });
      expect(res.status).toBe(200);
      return `coder_session_token=${sessionFrom(res)}`;
    };
    const idle = await signInHere();
    const busy = await signInHere();
    for (let i = 0; i < 4; i++) {
      await clock.advance(TTL_MS / 4);
      expect(await api('/api/experimental/chats', busy)).toBe(200);
    }
    // A full TTL later: the idle session is refused everywhere, the busy one (used every quarter) is not.
    expect(await api('/api/experimental/chats', idle)).toBe(401);
    expect(await api('/api/experimental/chats', busy)).toBe(200);
    const who = (await fetch(`${timed.url}/console/whoami`, { headers: { cookie: idle } }).then((r) => r.json())) as { user: unknown };
    expect(who.user).toBeNull();
    await clock.advance(TTL_MS);
    expect(await api('/api/experimental/chats', busy)).toBe(401);
  });
});
