// Picks the subscriber's session token out of its request headers, in the API's priority order (chatd.md 1.1,
// 5.2): the `coder_session_token` cookie, then `Coder-Session-Token`, then `Authorization: Bearer`. The relay
// forwards only this token to the peer, never the raw cookie or authorization headers.

/** Name of the session cookie. */
export const SESSION_TOKEN_COOKIE = 'coder_session_token';
/** Name of the session token header. */
export const SESSION_TOKEN_HEADER = 'Coder-Session-Token';

function cookieValue(cookieHeader: string, name: string): string | undefined {
  for (const pair of cookieHeader.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() !== name) continue;
    const raw = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

/** The session token of a request, or undefined when it carries none. */
export function extractSessionToken(headers: Headers): string | undefined {
  const cookie = headers.get('cookie');
  const fromCookie = cookie ? cookieValue(cookie, SESSION_TOKEN_COOKIE) : undefined;
  if (fromCookie) return fromCookie;
  const fromHeader = headers.get(SESSION_TOKEN_HEADER)?.trim();
  if (fromHeader) return fromHeader;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.get('authorization') ?? '');
  return match?.[1];
}
