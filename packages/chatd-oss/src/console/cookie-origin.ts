// Cross-origin guard for cookie sessions (issue 15): a browser attaches the console's session cookie to any
// request to this host, even from a page on another port of it (same site, other origin), so a request
// that carries the cookie and an Origin header naming another origin is refused. Requests without the
// cookie (API clients, relays: they send a token header) and without an Origin (non-browser) pass.
import type { IncomingHttpHeaders } from 'node:http';
import { ChatdError } from '../chatd-error.js';
import { SESSION_COOKIE } from '../server/auth.js';

/** Whether the request carries a non-empty session cookie (the token source `authenticate` prefers). */
function hasSessionCookie(cookie: string | undefined): boolean {
  if (!cookie) return false;
  return cookie.split(';').some((pair) => {
    const eq = pair.indexOf('=');
    return eq > 0 && pair.slice(0, eq).trim() === SESSION_COOKIE && pair.slice(eq + 1).trim() !== '';
  });
}

/** Throws ChatdError FORBIDDEN when the session cookie comes with an Origin other than this host's. */
export function checkCookieOrigin(headers: IncomingHttpHeaders): void {
  const origin = headers.origin;
  if (origin === undefined || !hasSessionCookie(headers.cookie)) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    // `Origin: null` (sandboxed frames, file: pages) and garbage: not this origin.
    host = undefined;
  }
  if (host === undefined || host === '' || host !== headers.host) {
    throw new ChatdError('FORBIDDEN', 'Cross-origin requests may not use the session cookie.', { detail: 'Send the Coder-Session-Token header instead.' });
  }
}
