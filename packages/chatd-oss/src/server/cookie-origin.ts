// CSRF guard for cookie sessions (issues 15 and 22): a browser attaches the console's session cookie to any
// request to this host, even one a page elsewhere makes it send, and it may leave out `Origin` (older browsers,
// some navigations). So for a request that carries the cookie: an `Origin`, when present, must be the public
// origin (scheme, host and port); a write or a socket upgrade must prove it comes from our own page, by that
// `Origin` or by `Sec-Fetch-Site: same-origin`; and a body must be JSON, which no cross-site form or simple
// request can send. Requests without the cookie (API clients, relays: they send a token header) pass untouched.
import type { IncomingMessage } from 'node:http';
import { cookieSessionToken } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { NO_TRUSTED_PROXIES, requestScheme, type TrustedProxies } from './client-address.js';

/** Methods that change nothing: the only ones a cookie request may make without proving its origin. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Routes whose body is not JSON by design. `POST /files` (contract.md#files) takes the file's bytes with the file's
 * own type; it keeps the origin checks (file-routes.ts refuses types other than its list with 415).
 */
export function isRawBodyRoute(method: string, pathname: string): boolean {
  return method === 'POST' && /^\/api\/(?:experimental|v2)\/chats\/files\/?$/.test(pathname);
}

/** How the guard learns this server's public origin. */
export type CookieOriginPolicy = {
  /** The origin browsers reach us at (`CHATD_PUBLIC_URL`); without it, the request's own (Host and scheme). */
  publicOrigin?: string;
  /** Proxies whose `X-Forwarded-Proto` is believed when there is no `publicOrigin`. @default nobody */
  trustedProxies?: TrustedProxies;
};

/**
 * Whether the request carries a session cookie that authentication would use (the token source `authenticate`
 * prefers). It reads the cookie with the same parser as authentication (@chatd/protocol), so the guard applies
 * exactly when the cookie is what authenticates the request.
 */
export function hasSessionCookie(cookie: string | undefined): boolean {
  return cookieSessionToken((name) => (name === 'cookie' ? cookie : undefined)) !== undefined;
}

/** `scheme://host[:port]` as URL normalises it (default ports dropped, lower case), or undefined for garbage. */
function originOf(text: string): string | undefined {
  try {
    const origin = new URL(text).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** The origin this request was made to: the configured public one, else its scheme and Host header. */
export function expectedOrigin(req: IncomingMessage, policy: CookieOriginPolicy): string | undefined {
  if (policy.publicOrigin) return originOf(policy.publicOrigin);
  const host = req.headers.host;
  if (!host) return undefined;
  return originOf(`${requestScheme(req, policy.trustedProxies ?? NO_TRUSTED_PROXIES)}://${host}`);
}

function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

const forbidden = (message: string, detail: string) => new ChatdError('FORBIDDEN', message, { detail });

/**
 * Throws ChatdError FORBIDDEN (403) when a cookie-authenticated request may be cross-site: an Origin other than
 * the public origin; a write or upgrade with neither a matching Origin nor `Sec-Fetch-Site: same-origin`; or
 * a body that is not `application/json` (except on raw-body routes). `upgrade` marks a WebSocket handshake.
 */
export function checkCookieRequest(req: IncomingMessage, pathname: string, options: CookieOriginPolicy & { upgrade?: boolean } = {}): void {
  if (!hasSessionCookie(req.headers.cookie)) return;
  const method = (req.method ?? 'GET').toUpperCase();
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const expected = expectedOrigin(req, options);
    // `Origin: null` (sandboxed frames, file: pages) and garbage are never ours.
    if (expected === undefined || originOf(origin) !== expected) {
      throw forbidden('Cross-origin requests may not use the session cookie.', 'Send the Coder-Session-Token header instead.');
    }
  } else if (options.upgrade || !SAFE_METHODS.has(method)) {
    if (req.headers['sec-fetch-site'] !== 'same-origin') {
      throw forbidden('A request that uses the session cookie to change something must come from the console.', 'It needs an Origin header (or Sec-Fetch-Site: same-origin); API clients send the Coder-Session-Token header instead.');
    }
  }
  if (hasBody(req) && !isRawBodyRoute(method, pathname) && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw forbidden('A request that uses the session cookie must send a JSON body.', 'Set Content-Type: application/json.');
  }
}
