// The caller's session token (contract.md#auth): the `coder_session_token` cookie, then the `Coder-Session-Token`
// header, then `Authorization: Bearer`, in that priority. Headers come through a getter so that Node's
// IncomingHttpHeaders and fetch's Headers both fit; this module never verifies a token.

/** Name of the session cookie (browsers). */
export const SESSION_TOKEN_COOKIE = 'coder_session_token';
/** Name of the session token header (API clients, relays). */
export const SESSION_TOKEN_HEADER = 'Coder-Session-Token';

/** Reads one request header by its lower-case name; undefined when absent. */
export type HeaderGetter = (lowerCaseName: string) => string | undefined;

/** A fetch `Headers` (or anything with its `get`) as a header getter. */
export function fetchHeaderGetter(headers: { get(name: string): string | null }): HeaderGetter {
  return (name) => headers.get(name) ?? undefined;
}

/** The value of cookie `name` in a `Cookie` header (quotes of a quoted value removed, percent-decoded when valid). */
function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const pair of cookieHeader.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    // RFC 6265 allows a cookie value in double quotes; the quotes are not part of it.
    const raw = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

/** The token in the session cookie alone (what a console sign-out revokes), or undefined. */
export function cookieSessionToken(header: HeaderGetter): string | undefined {
  return cookieValue(header('cookie'), SESSION_TOKEN_COOKIE) || undefined;
}

/** The caller's session token, or undefined when none is presented. */
export function extractSessionToken(header: HeaderGetter): string | undefined {
  const fromCookie = cookieSessionToken(header);
  if (fromCookie) return fromCookie;
  const fromHeader = header(SESSION_TOKEN_HEADER.toLowerCase())?.trim();
  if (fromHeader) return fromHeader;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header('authorization') ?? '');
  return match?.[1];
}
