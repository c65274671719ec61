// The cookie CSRF guard and the client-address rules behind it (issue 22 items 4 and 5), on plain request
// objects: a cookie request needs the public origin (scheme, host and port) for writes and upgrades, by Origin
// or Sec-Fetch-Site; its body must be JSON (a named exception for the raw-body files route); forwarded headers
// count only from trusted proxies.
import type { IncomingMessage } from 'node:http';
import { extractSessionToken } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { ChatdError } from '../src/chatd-error.js';
import { checkCookieRequest, hasSessionCookie, isRawBodyRoute, type CookieOriginPolicy } from '../src/server/cookie-origin.js';
import { clientAddress, parseTrustedProxies, requestScheme } from '../src/server/client-address.js';

const COOKIE = 'a=1; coder_session_token=chatd_x';
const CHATS = '/api/experimental/chats';

function req(method: string, headers: Record<string, string>, remoteAddress = '203.0.113.9', encrypted = false): IncomingMessage {
  return { method, headers, socket: { remoteAddress, ...(encrypted ? { encrypted } : {}) } } as unknown as IncomingMessage;
}

/** The refusal's message, or 'ok'. */
function verdict(r: IncomingMessage, path = CHATS, policy: CookieOriginPolicy & { upgrade?: boolean } = {}): string {
  try {
    checkCookieRequest(r, path, policy);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(ChatdError);
    expect((err as ChatdError).code).toBe('FORBIDDEN');
    return (err as ChatdError).message;
  }
}

const CROSS = 'Cross-origin requests may not use the session cookie.';
const NO_ORIGIN = 'A request that uses the session cookie to change something must come from the console.';
const NOT_JSON = 'A request that uses the session cookie must send a JSON body.';
const json = { 'content-type': 'application/json', 'content-length': '20' };

describe('cookie CSRF guard', () => {
  it('a cookie write with no Origin and a text/plain body (the reported attack) is refused', () => {
    expect(verdict(req('POST', { host: 'h:1', cookie: COOKIE, 'content-type': 'text/plain', 'content-length': '30' }))).toBe(NO_ORIGIN);
    // With the right Origin, the text/plain body alone is still refused; JSON passes.
    expect(verdict(req('POST', { host: 'h:1', cookie: COOKIE, origin: 'http://h:1', 'content-type': 'text/plain', 'content-length': '30' }))).toBe(NOT_JSON);
    expect(verdict(req('POST', { host: 'h:1', cookie: COOKIE, origin: 'http://h:1', ...json }))).toBe('ok');
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', '']) {
      expect(verdict(req('PATCH', { host: 'h:1', cookie: COOKIE, origin: 'http://h:1', 'content-type': type, 'transfer-encoding': 'chunked' })), type).toBe(NOT_JSON);
    }
  });

  it('writes and upgrades need a matching Origin or Sec-Fetch-Site: same-origin; reads need neither', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(verdict(req(method, { host: 'h:1', cookie: COOKIE })), method).toBe(NO_ORIGIN);
      expect(verdict(req(method, { host: 'h:1', cookie: COOKIE, 'sec-fetch-site': 'same-site' })), method).toBe(NO_ORIGIN);
      expect(verdict(req(method, { host: 'h:1', cookie: COOKIE, 'sec-fetch-site': 'same-origin' })), method).toBe('ok');
      expect(verdict(req(method, { host: 'h:1', cookie: COOKIE, origin: 'http://h:1' })), method).toBe('ok');
    }
    expect(verdict(req('GET', { host: 'h:1', cookie: COOKIE }), `${CHATS}/watch`, { upgrade: true })).toBe(NO_ORIGIN);
    expect(verdict(req('GET', { host: 'h:1', cookie: COOKIE, origin: 'http://h:1' }), `${CHATS}/watch`, { upgrade: true })).toBe('ok');
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(verdict(req(method, { host: 'h:1', cookie: COOKIE })), method).toBe('ok');
  });

  it('the Origin must match scheme, host and port; a foreign one is refused even on reads', () => {
    for (const origin of ['http://h:2', 'https://h:1', 'http://evil.example', 'null', 'garbage', 'http://h:1.evil']) {
      expect(verdict(req('GET', { host: 'h:1', cookie: COOKIE, origin })), origin).toBe(CROSS);
      expect(verdict(req('POST', { host: 'h:1', cookie: COOKIE, origin, 'sec-fetch-site': 'same-origin' })), origin).toBe(CROSS);
    }
    // Default ports are the same origin written two ways.
    expect(verdict(req('POST', { host: 'h', cookie: COOKIE, origin: 'http://h:80' }))).toBe('ok');
    // No Host: nothing can match.
    expect(verdict(req('POST', { cookie: COOKIE, origin: 'http://h:1' }))).toBe(CROSS);
  });

  it('CHATD_PUBLIC_URL is the origin when set, whatever the Host header says', () => {
    const policy = { publicOrigin: 'https://chat.example.com' };
    expect(verdict(req('POST', { host: 'internal:8080', cookie: COOKIE, origin: 'https://chat.example.com' }), CHATS, policy)).toBe('ok');
    expect(verdict(req('POST', { host: 'internal:8080', cookie: COOKIE, origin: 'http://internal:8080' }), CHATS, policy)).toBe(CROSS);
    expect(verdict(req('POST', { host: 'chat.example.com', cookie: COOKIE, origin: 'http://chat.example.com' }), CHATS, policy)).toBe(CROSS);
  });

  it('X-Forwarded-Proto names the scheme only from a trusted proxy', () => {
    const headers = { host: 'h', cookie: COOKIE, origin: 'https://h', 'x-forwarded-proto': 'https' };
    expect(verdict(req('POST', headers, '198.51.100.7'))).toBe(CROSS);
    expect(verdict(req('POST', headers, '10.1.2.3'), CHATS, { trustedProxies: parseTrustedProxies('10.0.0.0/8') })).toBe('ok');
    expect(verdict(req('POST', headers, '::ffff:10.1.2.3'), CHATS, { trustedProxies: parseTrustedProxies('10.0.0.0/8') })).toBe('ok');
    // Over TLS here, no header needed.
    expect(verdict(req('POST', { host: 'h', cookie: COOKIE, origin: 'https://h' }, '198.51.100.7', true))).toBe('ok');
  });

  it('requests without the session cookie pass untouched (API clients, relays)', () => {
    expect(verdict(req('POST', { host: 'h:1', 'coder-session-token': 'chatd_x', origin: 'http://evil', 'content-type': 'text/plain', 'content-length': '3' }))).toBe('ok');
    expect(verdict(req('POST', { host: 'h:1', cookie: 'coder_session_token=', origin: 'http://evil' }))).toBe('ok');
    expect(verdict(req('POST', { host: 'h:1', cookie: 'other=coder_session_token' }))).toBe('ok');
  });

  it('sees the session cookie exactly when authentication would take its token from it', () => {
    // Authentication reads the first cookie of the name, quotes removed and percent-decoded; an empty one falls
    // through to the headers. The guard must agree, or it would refuse a header-authenticated request.
    const cookies = [
      'coder_session_token=chatd_x',
      'a=1;coder_session_token = "chatd_x" ',
      'coder_session_token=%63hatd',
      'coder_session_token=',
      'coder_session_token=""',
      'coder_session_token=; coder_session_token=chatd_x',
      'coder_session_token=""; coder_session_token=chatd_x',
      'other=coder_session_token',
      'coder_session_tokenx=chatd_x',
      '',
    ];
    const fromCookie = (cookie: string) => extractSessionToken((name) => (name === 'cookie' ? cookie : name === 'coder-session-token' ? 'from-header' : undefined)) !== 'from-header';
    for (const cookie of cookies) expect(hasSessionCookie(cookie), cookie).toBe(fromCookie(cookie));
    expect(cookies.map((c) => hasSessionCookie(c))).toEqual([true, true, true, false, false, false, false, false, false, false]);
    // A header-authenticated request with an empty cookie ahead of a real one is no cookie request.
    expect(verdict(req('POST', { host: 'h:1', cookie: 'coder_session_token=; coder_session_token=chatd_x', 'coder-session-token': 'chatd_y', 'content-type': 'text/plain', 'content-length': '3' }))).toBe('ok');
  });

  it('the files upload route keeps the origin rule but takes its own body type', () => {
    expect(isRawBodyRoute('POST', `${CHATS}/files`)).toBe(true);
    expect(isRawBodyRoute('POST', '/api/v2/chats/files')).toBe(true);
    expect(isRawBodyRoute('GET', `${CHATS}/files`)).toBe(false);
    expect(isRawBodyRoute('POST', `${CHATS}/files/x`)).toBe(false);
    const png = { 'content-type': 'image/png', 'content-length': '100' };
    expect(verdict(req('POST', { host: 'h:1', cookie: COOKIE, origin: 'http://h:1', ...png }), `${CHATS}/files`)).toBe('ok');
    expect(verdict(req('POST', { host: 'h:1', cookie: COOKIE, ...png }), `${CHATS}/files`)).toBe(NO_ORIGIN);
    expect(verdict(req('POST', { host: 'h:1', cookie: COOKIE, origin: 'http://h:1', ...png }))).toBe(NOT_JSON);
  });
});

describe('client address', () => {
  const trusted = parseTrustedProxies('10.0.0.0/8, 192.0.2.1, ::1');

  it('is the socket peer unless that peer is a trusted proxy', () => {
    expect(clientAddress(req('GET', { 'x-forwarded-for': '1.2.3.4' }, '198.51.100.7'), trusted)).toBe('198.51.100.7');
    expect(clientAddress(req('GET', {}, '::ffff:198.51.100.7'), trusted)).toBe('198.51.100.7');
    expect(clientAddress(req('GET', { 'x-forwarded-for': '1.2.3.4' }, '10.0.0.5'), trusted)).toBe('1.2.3.4');
  });

  it('reads X-Forwarded-For from the right, skipping trusted hops: a spoofed left part is never the client', () => {
    expect(clientAddress(req('GET', { 'x-forwarded-for': '6.6.6.6, 1.2.3.4, 10.0.0.9' }, '10.0.0.5'), trusted)).toBe('1.2.3.4');
    expect(clientAddress(req('GET', { 'x-forwarded-for': '6.6.6.6, 1.2.3.4' }, '::1'), trusted)).toBe('1.2.3.4');
    expect(clientAddress(req('GET', { 'x-forwarded-for': '10.0.0.7, 192.0.2.1' }, '10.0.0.5'), trusted)).toBe('10.0.0.7');
    expect(clientAddress(req('GET', { 'x-forwarded-for': 'junk, not-an-ip' }, '10.0.0.5'), trusted)).toBe('10.0.0.5');
    expect(clientAddress(req('GET', {}, '10.0.0.5'), trusted)).toBe('10.0.0.5');
  });

  it('the scheme comes from TLS or a trusted X-Forwarded-Proto', () => {
    expect(requestScheme(req('GET', { 'x-forwarded-proto': 'https' }, '198.51.100.7'), trusted)).toBe('http');
    expect(requestScheme(req('GET', { 'x-forwarded-proto': 'https, http' }, '10.0.0.5'), trusted)).toBe('https');
    expect(requestScheme(req('GET', {}, '198.51.100.7', true), trusted)).toBe('https');
  });

  it('refuses a trusted-proxy list entry that is no IP or CIDR', () => {
    for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0.0/x', '::1/129']) {
      expect(() => parseTrustedProxies(bad), bad).toThrow(ChatdError);
    }
    expect(parseTrustedProxies(' , ').entries).toEqual([]);
  });
});
