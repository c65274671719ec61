// The API token format: `chatd_` followed by 32 random bytes in base64url. Only its SHA-256 is stored, so
// verifying is a lookup by hash (no token text is ever compared or kept). Pure functions, no database.
import { createHash, randomBytes } from 'node:crypto';

/** Prefix of every token, so leaked tokens are recognisable. */
export const API_TOKEN_PREFIX = 'chatd_';

/** Random bytes in a token. @default 32 */
export const API_TOKEN_BYTES = 32;

const TOKEN_RE = /^chatd_[A-Za-z0-9_-]{43}$/;

/** A new random token (shown once to its owner). */
export function generateApiToken(): string {
  return API_TOKEN_PREFIX + randomBytes(API_TOKEN_BYTES).toString('base64url');
}

/** Whether `token` has the shape of one of ours (checked before any lookup). */
export function isApiTokenShape(token: unknown): token is string {
  return typeof token === 'string' && TOKEN_RE.test(token);
}

/** The stored hash of a token. */
export function hashApiToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
