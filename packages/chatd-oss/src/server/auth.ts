// Who is calling: the session token (extracted by @chatd/protocol's extractSessionToken, in the priority of
// contract.md#auth) verified against the API tokens table. This module adapts Node's request headers to the
// protocol's header getter; the token rules themselves live only in the protocol package.
import type { IncomingHttpHeaders } from 'node:http';
import { SESSION_TOKEN_COOKIE, SESSION_TOKEN_HEADER, extractSessionToken, type HeaderGetter } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import type { Identity, IdentityStore } from '../identity/identity-store.js';

/** Cookie carrying the session token (browsers); `SESSION_TOKEN_COOKIE` of @chatd/protocol. */
export const SESSION_COOKIE = SESSION_TOKEN_COOKIE;
/** Header carrying the session token (API clients, relays), lower-cased as Node keys it. */
export const SESSION_HEADER = SESSION_TOKEN_HEADER.toLowerCase();

/** Node's request headers as the protocol's header getter (Node keys them lower-case; only single values count). */
export function nodeHeaderGetter(headers: IncomingHttpHeaders): HeaderGetter {
  return (name) => {
    const value = headers[name];
    return typeof value === 'string' ? value : undefined;
  };
}

/** Resolves the caller or throws ChatdError UNAUTHORIZED (missing, malformed, unknown or revoked token). */
export async function authenticate(identity: IdentityStore, headers: IncomingHttpHeaders): Promise<Identity> {
  const token = extractSessionToken(nodeHeaderGetter(headers));
  if (!token) throw new ChatdError('UNAUTHORIZED', 'You must be signed in to do this.', { detail: 'No session token was presented.' });
  const who = await identity.verifyToken(token);
  if (!who) throw new ChatdError('UNAUTHORIZED', 'You must be signed in to do this.', { detail: 'The session token is invalid, expired or revoked.' });
  return who;
}
