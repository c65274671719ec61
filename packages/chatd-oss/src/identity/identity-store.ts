// Users, organizations and API tokens in our own tables (contract.md#auth). Every user is a
// member of the default organization; tokens are stored as hashes, listed without them and revoked by
// id, after which they stop verifying. Console sessions are tokens of kind `session` in the same table:
// minted at sign-in, they expire (sliding: use moves the expiry forward) and sign-out revokes them.
// Every revocation is announced on `chat:token_revoked` by token id, so replicas close the sockets opened with
// it; unknown tokens are remembered for a few seconds so a flood of them costs no queries (issue 22).
// Password or SSO login is out of scope.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import { isUuid } from '@chatd/protocol';
import {
  CHAT_CONFIG_EVENT_CHANNEL,
  TOKEN_REVOKED_EVENT_CHANNEL,
  encodeChatConfigEvent,
  encodeTokenRevokedEvent,
  notifyInTransaction,
  type ChatConfigEvent,
  type PubSub,
} from '@chatd/pubsub';
import { ChatdError } from '../chatd-error.js';
import { requireUuid } from '../store/chat-input.js';
import { inTransaction, sqlState } from '../store/db.js';
import { generateApiToken, hashApiToken, isApiTokenShape } from './api-token.js';

/** A user. */
export type User = { id: string; username: string; admin: boolean; systemPrompt: string; createdAt: string };

/** An organization. */
export type Organization = { id: string; name: string; isDefault: boolean; createdAt: string };

/** An API token's metadata (never its text or hash). */
export type ApiTokenInfo = {
  id: string;
  userId: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
};

/** `api`: a token made for its owner (never expires); `session`: a console session minted at sign-in (expires). */
export type TokenKind = 'api' | 'session';

/** Who a verified token belongs to. */
export type Identity = { user: User; tokenId: string; tokenKind: TokenKind };

/** A console session just minted; `token` is the only time its text is seen (it goes into the cookie). */
export type ConsoleSession = { token: string; tokenId: string; expiresAt: string };

/** Users, organizations and API tokens. Rejects with `ChatdError` on bad input. */
export interface IdentityStore {
  /** The default organization (created by the first migration). */
  defaultOrganization(): Promise<Organization>;
  /** Creates an organization (CONFLICT when the name is taken). */
  createOrganization(name: string): Promise<Organization>;
  /** Creates a user, a member of the default organization (CONFLICT when the username is taken). */
  createUser(input: { username: string; admin?: boolean }): Promise<User>;
  /** The user with `username`, created (in the default organization) when absent; `admin: true` also grants admin. */
  ensureUser(input: { username: string; admin?: boolean }): Promise<{ user: User; created: boolean }>;
  getUser(id: string): Promise<User | undefined>;
  getUserByUsername(username: string): Promise<User | undefined>;
  /** Sets a user's system prompt and publishes a `user_prompt` ChatConfigEvent. */
  setUserSystemPrompt(userId: string, prompt: string): Promise<void>;
  /** Adds a user to an organization (idempotent). */
  addMember(organizationId: string, userId: string): Promise<void>;
  /** Removes a user from an organization. */
  removeMember(organizationId: string, userId: string): Promise<void>;
  isMember(organizationId: string, userId: string): Promise<boolean>;
  /** The user's organizations, default first. */
  listUserOrganizations(userId: string): Promise<Organization[]>;
  /** Creates a token for the user; the returned `token` is the only time its text is seen. */
  createToken(userId: string, name?: string): Promise<{ token: string; info: ApiTokenInfo }>;
  /** The user's API tokens, newest first (revoked ones included, marked; console sessions are not listed). */
  listTokens(userId: string): Promise<ApiTokenInfo[]>;
  /** Revokes a token (a session included); false when there was no such unrevoked token. */
  revokeToken(tokenId: string): Promise<boolean>;
  /**
   * The identity of a valid token: unrevoked and, for a session, not expired; otherwise undefined. Using a
   * session moves its expiry to now + the session TTL (written at most once per `SESSION_EXTEND_RESOLUTION_MS`).
   * A valid answer is remembered for `tokenCacheMs`; `fresh` asks the database whatever is remembered.
   */
  verifyToken(token: string, options?: { fresh?: boolean }): Promise<Identity | undefined>;
  /** Mints a console session for the user, expiring after the session TTL unless used (NOT_FOUND for no such user). */
  createSession(userId: string): Promise<ConsoleSession>;
  /** Revokes the console session whose token this is; false when it is no unrevoked session (an API token is never revoked here). */
  revokeSession(token: string): Promise<boolean>;
  /**
   * Whether the token with this id is still valid (unrevoked, and for a session unexpired), by primary key. It
   * neither touches `last_used_at` nor slides a session: an open socket re-checking is not use.
   */
  isTokenActive(tokenId: string): Promise<boolean>;
  /** Drops the remembered verification of the token with this id (its revocation was heard). */
  forgetVerifiedToken(tokenId: string): void;
  /** Drops every remembered verification (a revocation may have been missed). */
  forgetVerifiedTokens(): void;
}

/** Options of `createIdentityStore`. */
export type IdentityStoreOptions = {
  pool: pg.Pool;
  clock: Clock;
  /** Where a changed user system prompt is announced (`user_prompt` ChatConfigEvent). */
  pubsub?: PubSub;
  /** Called on this replica after a user prompt change, before publishing. */
  onConfigChange?: (event: ChatConfigEvent) => void;
  /** Called when publishing the event fails (the change itself is committed). */
  onPublishError?: (err: unknown, event: ChatConfigEvent) => void;
  /**
   * Called when announcing a revocation through `pubsub` fails (the revocation is committed; sockets then close
   * at their next keep-alive re-check). Without `pubsub` the announcement is a NOTIFY inside the revoking
   * transaction (what the CLI does), which cannot fail apart from it.
   */
  onRevocationPublishError?: (err: unknown, tokenId: string) => void;
  /** How long an unknown token is answered from memory. @default DEFAULT_NEGATIVE_TOKEN_CACHE_MS */
  negativeCacheMs?: number;
  /** Unknown tokens remembered at most (the oldest is forgotten first). @default DEFAULT_NEGATIVE_TOKEN_CACHE_SIZE */
  negativeCacheSize?: number;
  /** How long a console session lives after its last use. @default DEFAULT_CONSOLE_SESSION_TTL_MS (12 h) */
  sessionTtlMs?: number;
  /** How long a verified token's identity is reused (0: never). @default DEFAULT_TOKEN_CACHE_MS */
  tokenCacheMs?: number;
  /** Verified tokens remembered at most (the oldest is forgotten first). @default DEFAULT_TOKEN_CACHE_SIZE */
  tokenCacheSize?: number;
};

type UserRow = { id: string; username: string; admin: boolean; system_prompt: string; created_at: Date };
type OrgRow = { id: string; name: string; is_default: boolean; created_at: Date };
type TokenRow = { id: string; user_id: string; name: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null };

const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ORG_NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
/** How stale `last_used_at` may get before a verify writes it again. @default 60000 */
export const TOKEN_LAST_USED_RESOLUTION_MS = 60_000;
/** How long a console session lives after its last use. @default 43200000 (12 h) */
export const DEFAULT_CONSOLE_SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/**
 * A session's expiry is moved forward only when it would move by at least this much (or half the TTL, if
 * that is shorter), so an active console costs one write every few minutes, not one per request. @default 300000
 */
export const SESSION_EXTEND_RESOLUTION_MS = 5 * 60 * 1000;
/**
 * How long a token that verified as unknown (or revoked, or expired) is answered "invalid" from memory: a flood
 * of one bad token costs one query per interval. It only ever remembers failures, so it never makes a revoked
 * token valid. @default 5000
 */
export const DEFAULT_NEGATIVE_TOKEN_CACHE_MS = 5_000;
/**
 * How long a token that verified as valid is answered from memory (issue 36: a client opening many streams
 * verified its token twice per stream). Never past the token's own expiry. Revocation drops it: at once on the
 * revoking replica, on the others when they hear `chat:token_revoked` (token-revocation.ts), and every entry when
 * that channel reports lost messages; a revocation nobody announces (written by hand) is refused after this long
 * at most. @default 1000
 */
export const DEFAULT_TOKEN_CACHE_MS = 1_000;
/** Verified tokens remembered at most. @default 10000 */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;
/** Unknown token hashes remembered at most. @default 10000 */
export const DEFAULT_NEGATIVE_TOKEN_CACHE_SIZE = 10_000;
/** Longest per-user system prompt, in characters. @default 10000 */
export const MAX_USER_SYSTEM_PROMPT_CHARS = 10_000;

const toUser = (r: UserRow): User => ({ id: r.id, username: r.username, admin: r.admin, systemPrompt: r.system_prompt, createdAt: r.created_at.toISOString() });
const toOrg = (r: OrgRow): Organization => ({ id: r.id, name: r.name, isDefault: r.is_default, createdAt: r.created_at.toISOString() });
const toToken = (r: TokenRow): ApiTokenInfo => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !USERNAME_RE.test(username)) {
    throw new ChatdError('INVALID_INPUT', 'Invalid username.', { detail: 'A username is 1-64 letters, digits, "_", "." or "-", starting with a letter or digit.' });
  }
  return username;
}

/** Creates the PostgreSQL identity store. */
export function createIdentityStore(options: IdentityStoreOptions): IdentityStore {
  const { pool, clock } = options;
  const sessionTtlMs = options.sessionTtlMs ?? DEFAULT_CONSOLE_SESSION_TTL_MS;
  if (!Number.isSafeInteger(sessionTtlMs) || sessionTtlMs <= 0) {
    throw new ChatdError('CONFIG', `sessionTtlMs must be a positive integer of milliseconds, got ${String(sessionTtlMs)}`);
  }
  const extendResolutionMs = Math.min(SESSION_EXTEND_RESOLUTION_MS, Math.floor(sessionTtlMs / 2));
  const negativeCacheMs = options.negativeCacheMs ?? DEFAULT_NEGATIVE_TOKEN_CACHE_MS;
  const negativeCacheSize = options.negativeCacheSize ?? DEFAULT_NEGATIVE_TOKEN_CACHE_SIZE;
  const tokenCacheMs = options.tokenCacheMs ?? DEFAULT_TOKEN_CACHE_MS;
  const tokenCacheSize = options.tokenCacheSize ?? DEFAULT_TOKEN_CACHE_SIZE;
  if (!Number.isSafeInteger(tokenCacheMs) || tokenCacheMs < 0) throw new ChatdError('CONFIG', `tokenCacheMs must be a non-negative integer of milliseconds, got ${String(tokenCacheMs)}`);
  /** base64 token hash -> a valid token's identity and the clock ms until which it is reused; insertion order is age order. */
  const verifiedTokens = new Map<string, { identity: Identity; untilMs: number }>();
  /**
   * Bumped by every forget: a lookup that started before a revocation was heard may have read the token as
   * valid, and must not put that answer in the cache after the forget.
   */
  let forgetEpoch = 0;
  const rememberVerified = (key: string, identity: Identity, expiresAt: Date | null, epoch: number) => {
    if (tokenCacheMs <= 0 || tokenCacheSize <= 0 || epoch !== forgetEpoch) return;
    const now = clock.nowMs();
    const untilMs = Math.min(now + tokenCacheMs, expiresAt ? expiresAt.getTime() : Number.POSITIVE_INFINITY);
    if (untilMs <= now) return;
    verifiedTokens.delete(key);
    if (verifiedTokens.size >= tokenCacheSize) verifiedTokens.delete(verifiedTokens.keys().next().value!);
    verifiedTokens.set(key, { identity, untilMs });
  };
  const knownValid = (key: string): Identity | undefined => {
    const entry = verifiedTokens.get(key);
    if (!entry) return undefined;
    if (entry.untilMs > clock.nowMs()) return { ...entry.identity, user: { ...entry.identity.user } };
    verifiedTokens.delete(key);
    return undefined;
  };
  const forgetVerifiedToken = (tokenId: string) => {
    forgetEpoch++;
    for (const [key, entry] of verifiedTokens) if (entry.identity.tokenId === tokenId) verifiedTokens.delete(key);
  };
  /** base64 token hash -> clock ms until which it is known invalid; insertion order is age order. */
  const unknownTokens = new Map<string, number>();
  const rememberUnknown = (key: string) => {
    if (negativeCacheMs <= 0 || negativeCacheSize <= 0) return;
    unknownTokens.delete(key);
    if (unknownTokens.size >= negativeCacheSize) unknownTokens.delete(unknownTokens.keys().next().value!);
    unknownTokens.set(key, clock.nowMs() + negativeCacheMs);
  };
  const knownUnknown = (key: string): boolean => {
    const until = unknownTokens.get(key);
    if (until === undefined) return false;
    if (until > clock.nowMs()) return true;
    unknownTokens.delete(key);
    return false;
  };

  /**
   * Runs a revoking UPDATE (returning the token's id) and announces the revocation: through `pubsub` after the
   * commit, or without one as a NOTIFY in the same transaction. Resolves with whether a token was revoked.
   */
  async function revokeWhere(sql: string, params: unknown[]): Promise<boolean> {
    let revokedId: string | undefined;
    await inTransaction(pool, async (client) => {
      const { rows } = await client.query<{ id: string }>(sql, params);
      revokedId = rows[0]?.id;
      if (revokedId !== undefined && !options.pubsub) await notifyInTransaction(client, TOKEN_REVOKED_EVENT_CHANNEL, encodeTokenRevokedEvent({ token_id: revokedId }));
    });
    if (revokedId === undefined) return false;
    // This replica refuses the token from now on; the others when they hear the announcement.
    forgetVerifiedToken(revokedId);
    if (options.pubsub) {
      try {
        await options.pubsub.publish(TOKEN_REVOKED_EVENT_CHANNEL, encodeTokenRevokedEvent({ token_id: revokedId }));
      } catch (err) {
        options.onRevocationPublishError?.(err, revokedId);
      }
    }
    return true;
  }
  const USER_COLS = 'id, username, admin, system_prompt, created_at';
  const TOKEN_COLS = 'id, user_id, name, created_at, last_used_at, revoked_at';

  async function insertUser(client: pg.PoolClient, username: string, admin: boolean): Promise<UserRow | undefined> {
    const { rows } = await client.query<UserRow>(
      `INSERT INTO users (username, admin) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING RETURNING ${USER_COLS}`,
      [username, admin],
    );
    const row = rows[0];
    if (row) {
      await client.query('INSERT INTO organization_members (organization_id, user_id) SELECT id, $1 FROM organizations WHERE is_default', [row.id]);
    }
    return row;
  }

  return {
    async defaultOrganization() {
      const { rows } = await pool.query<OrgRow>('SELECT id, name, is_default, created_at FROM organizations WHERE is_default');
      const row = rows[0];
      if (!row) throw new ChatdError('NOT_FOUND', 'No default organization (are the migrations applied?).');
      return toOrg(row);
    },

    async createOrganization(name) {
      if (typeof name !== 'string' || !ORG_NAME_RE.test(name)) throw new ChatdError('INVALID_INPUT', 'Invalid organization name.');
      try {
        const { rows } = await pool.query<OrgRow>('INSERT INTO organizations (name) VALUES ($1) RETURNING id, name, is_default, created_at', [name]);
        return toOrg(rows[0]!);
      } catch (err) {
        if (sqlState(err) === '23505') throw new ChatdError('CONFLICT', `Organization "${name}" already exists.`, { cause: err });
        throw err;
      }
    },

    async createUser(input) {
      const username = checkUsername(input.username);
      return inTransaction(pool, async (client) => {
        const row = await insertUser(client, username, input.admin ?? false);
        if (!row) throw new ChatdError('CONFLICT', `User "${username}" already exists.`);
        return toUser(row);
      });
    },

    async ensureUser(input) {
      const username = checkUsername(input.username);
      return inTransaction(pool, async (client) => {
        const created = await insertUser(client, username, input.admin ?? false);
        if (created) return { user: toUser(created), created: true };
        const { rows } = await client.query<UserRow>(
          `UPDATE users SET admin = admin OR $2 WHERE username = $1 RETURNING ${USER_COLS}`,
          [username, input.admin ?? false],
        );
        return { user: toUser(rows[0]!), created: false };
      });
    },

    async getUser(id) {
      const { rows } = await pool.query<UserRow>(`SELECT ${USER_COLS} FROM users WHERE id = $1`, [requireUuid(id, 'user ID')]);
      return rows[0] ? toUser(rows[0]) : undefined;
    },

    async getUserByUsername(username) {
      if (typeof username !== 'string' || !USERNAME_RE.test(username)) return undefined;
      const { rows } = await pool.query<UserRow>(`SELECT ${USER_COLS} FROM users WHERE username = $1`, [username]);
      return rows[0] ? toUser(rows[0]) : undefined;
    },

    async setUserSystemPrompt(userId, prompt) {
      const id = requireUuid(userId, 'user ID');
      if (typeof prompt !== 'string' || Array.from(prompt).length > MAX_USER_SYSTEM_PROMPT_CHARS) {
        throw new ChatdError('INVALID_INPUT', 'Invalid system prompt.', { detail: `At most ${MAX_USER_SYSTEM_PROMPT_CHARS} characters.` });
      }
      const res = await pool.query('UPDATE users SET system_prompt = $2 WHERE id = $1', [id, prompt]);
      if ((res.rowCount ?? 0) === 0) throw new ChatdError('NOT_FOUND', 'User not found.');
      const event: ChatConfigEvent = { kind: 'user_prompt', entity_id: id };
      options.onConfigChange?.(event);
      if (options.pubsub) {
        try {
          await options.pubsub.publish(CHAT_CONFIG_EVENT_CHANNEL, encodeChatConfigEvent(event));
        } catch (err) {
          options.onPublishError?.(err, event);
        }
      }
    },

    async addMember(organizationId, userId) {
      const org = requireUuid(organizationId, 'organization ID');
      const user = requireUuid(userId, 'user ID');
      try {
        await pool.query('INSERT INTO organization_members (organization_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [org, user]);
      } catch (err) {
        if (sqlState(err) === '23503') throw new ChatdError('NOT_FOUND', 'Organization or user not found.', { cause: err });
        throw err;
      }
    },

    async removeMember(organizationId, userId) {
      await pool.query('DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2', [
        requireUuid(organizationId, 'organization ID'),
        requireUuid(userId, 'user ID'),
      ]);
    },

    async isMember(organizationId, userId) {
      const { rows } = await pool.query('SELECT 1 FROM organization_members WHERE organization_id = $1 AND user_id = $2', [
        requireUuid(organizationId, 'organization ID'),
        requireUuid(userId, 'user ID'),
      ]);
      return rows.length > 0;
    },

    async listUserOrganizations(userId) {
      const { rows } = await pool.query<OrgRow>(
        `SELECT o.id, o.name, o.is_default, o.created_at FROM organizations o
         JOIN organization_members m ON m.organization_id = o.id WHERE m.user_id = $1 ORDER BY o.is_default DESC, o.name`,
        [requireUuid(userId, 'user ID')],
      );
      return rows.map(toOrg);
    },

    async createToken(userId, name = '') {
      const id = requireUuid(userId, 'user ID');
      if (typeof name !== 'string' || name.length > 128) throw new ChatdError('INVALID_INPUT', 'Invalid token name.');
      const token = generateApiToken();
      try {
        const { rows } = await pool.query<TokenRow>(
          `INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING ${TOKEN_COLS}`,
          [id, name, hashApiToken(token), clock.now()],
        );
        return { token, info: toToken(rows[0]!) };
      } catch (err) {
        if (sqlState(err) === '23503') throw new ChatdError('NOT_FOUND', 'User not found.', { cause: err });
        throw err;
      }
    },

    async listTokens(userId) {
      const { rows } = await pool.query<TokenRow>(`SELECT ${TOKEN_COLS} FROM api_tokens WHERE user_id = $1 AND kind = 'api' ORDER BY created_at DESC, id`, [
        requireUuid(userId, 'user ID'),
      ]);
      return rows.map(toToken);
    },

    async revokeToken(tokenId) {
      const id = requireUuid(tokenId, 'token ID');
      return revokeWhere('UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id', [id, clock.now()]);
    },

    async verifyToken(token, verifyOptions) {
      if (!isApiTokenShape(token)) return undefined;
      const hash = hashApiToken(token);
      const key = hash.toString('base64');
      if (knownUnknown(key)) return undefined;
      const cached = verifyOptions?.fresh ? undefined : knownValid(key);
      if (cached) return cached;
      const epoch = forgetEpoch;
      const now = clock.now();
      const { rows } = await pool.query<UserRow & { token_id: string; kind: TokenKind; expires_at: Date | null; last_used_at: Date | null }>(
        `SELECT t.id AS token_id, t.kind, t.expires_at, t.last_used_at, u.id, u.username, u.admin, u.system_prompt, u.created_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)`,
        [hash, now],
      );
      const row = rows[0];
      if (!row) {
        rememberUnknown(key);
        return undefined;
      }
      // last_used_at is advisory and a session's expiry slides: both are written at most once per interval,
      // not on every request.
      const touch = row.last_used_at === null || now.getTime() - row.last_used_at.getTime() >= TOKEN_LAST_USED_RESOLUTION_MS;
      const newExpiry = now.getTime() + sessionTtlMs;
      const extend = row.kind === 'session' && row.expires_at !== null && newExpiry - row.expires_at.getTime() >= extendResolutionMs;
      if (touch || extend) {
        // Guarded like the read: a session revoked or expired in between is not brought back.
        await pool.query(
          `UPDATE api_tokens SET last_used_at = $2, expires_at = CASE WHEN $3::timestamptz IS NULL THEN expires_at ELSE $3 END
           WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
          [row.token_id, now, extend ? new Date(newExpiry) : null],
        );
      }
      const identity: Identity = { user: toUser(row), tokenId: row.token_id, tokenKind: row.kind };
      rememberVerified(key, { ...identity, user: { ...identity.user } }, extend ? new Date(newExpiry) : row.expires_at, epoch);
      return identity;
    },

    forgetVerifiedToken,
    forgetVerifiedTokens() {
      forgetEpoch++;
      verifiedTokens.clear();
    },

    async createSession(userId) {
      const id = requireUuid(userId, 'user ID');
      const token = generateApiToken();
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + sessionTtlMs);
      try {
        const { rows } = await pool.query<{ id: string }>(
          `INSERT INTO api_tokens (user_id, name, token_hash, created_at, last_used_at, kind, expires_at) VALUES ($1, 'console session', $2, $3, $3, 'session', $4) RETURNING id`,
          [id, hashApiToken(token), now, expiresAt],
        );
        return { token, tokenId: rows[0]!.id, expiresAt: expiresAt.toISOString() };
      } catch (err) {
        if (sqlState(err) === '23503') throw new ChatdError('NOT_FOUND', 'User not found.', { cause: err });
        throw err;
      }
    },

    async revokeSession(token) {
      if (!isApiTokenShape(token)) return false;
      return revokeWhere(`UPDATE api_tokens SET revoked_at = $2 WHERE token_hash = $1 AND kind = 'session' AND revoked_at IS NULL RETURNING id`, [
        hashApiToken(token),
        clock.now(),
      ]);
    },

    async isTokenActive(tokenId) {
      if (!isUuid(tokenId)) return false;
      const { rows } = await pool.query('SELECT 1 FROM api_tokens WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)', [tokenId, clock.now()]);
      return rows.length > 0;
    },
  };
}
