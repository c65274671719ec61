// Who is calling: the session token from the `coder_session_token` cookie, then the
// `Coder-Session-Token` header, then `Authorization: Bearer`, in that priority (chatd.md section 1.1),
// verified against the API tokens table. The same extraction feeds the relay's forwarded credentials.
import type { IncomingHttpHeaders } from 'node:http';
import { ChatdError } from '../chatd-error.js';
import type { Identity, IdentityStore } from '../identity/identity-store.js';

/** Cookie carrying the session token (browsers). */
export const SESSION_COOKIE = 'coder_session_token';
/** Header carrying the session token (API clients, relays). */
export const SESSION_HEADER = 'coder-session-token';

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return undefined;
}

/** The token in the session cookie alone (what console sign-out revokes), or undefined. */
export function cookieSessionToken(headers: IncomingHttpHeaders): string | undefined {
  return cookieValue(headers.cookie, SESSION_COOKIE) || undefined;
}

/** The caller's session token, or undefined when none is presented. */
export function extractSessionToken(headers: IncomingHttpHeaders): string | undefined {
  const fromCookie = cookieSessionToken(headers);
  if (fromCookie) return fromCookie;
  const fromHeader = headers[SESSION_HEADER];
  if (typeof fromHeader === 'string' && fromHeader.trim()) return fromHeader.trim();
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}

/** Resolves the caller or throws ChatdError UNAUTHORIZED (missing, malformed, unknown or revoked token). */
export async function authenticate(identity: IdentityStore, headers: IncomingHttpHeaders): Promise<Identity> {
  const token = extractSessionToken(headers);
  if (!token) throw new ChatdError('UNAUTHORIZED', 'You must be signed in to do this.', { detail: 'No session token was presented.' });
  const who = await identity.verifyToken(token);
  if (!who) throw new ChatdError('UNAUTHORIZED', 'You must be signed in to do this.', { detail: 'The session token is invalid, expired or revoked.' });
  return who;
}
