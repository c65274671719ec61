// Socket tickets (contract.md#tickets): a browser cannot put a token header on a WebSocket (nor on an
// EventSource), so an authenticated request mints a ticket, and `?ticket=` authenticates that one socket. A ticket
// is single use, lives 60 s, and is bound to the user, the token it was minted with and (for a stream) the chat;
// only its SHA-256 is stored, in PostgreSQL, so any replica redeems it. A redeemed ticket's socket counts under its
// token: revoking the token closes it. Refusals are typed (`TicketRefusal`), never error text.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import { ChatdError } from '../chatd-error.js';
import type { Identity, IdentityStore, TokenKind } from './identity-store.js';

/** How long a ticket may wait for its socket. @default 60000 */
export const SOCKET_TICKET_TTL_MS = 60_000;
/** Prefix of every ticket, so a leaked one is recognisable (and never mistaken for a token). */
export const SOCKET_TICKET_PREFIX = 'chatdt_';
/** Expired tickets deleted by one sweep at most (each mint sweeps a little). @default 100 */
export const TICKET_SWEEP_BATCH = 100;

const TICKET_RE = /^chatdt_[A-Za-z0-9_-]{43}$/;

/** What a ticket opens: a chat's stream, or the user's watch and inbox sockets. */
export type TicketScope = { kind: 'stream'; chatId: string } | { kind: 'watch' };

/** Why a ticket opened nothing (the `reason` label of `chatd_tickets_refused_total`). */
export type TicketRefusal = 'unknown' | 'used' | 'expired' | 'other_scope' | 'token_inactive';

/** A minted ticket. */
export type MintedTicket = { ticket: string; expiresAt: string };

/** The tickets of one deployment. */
export interface SocketTicketStore {
  /** Mints a ticket for `who` (their user and token) and `scope`. */
  mint(who: Identity, scope: TicketScope): Promise<MintedTicket>;
  /**
   * Redeems a ticket (it is used up whatever the answer, when it exists): the identity it was minted for, with the
   * token it was minted with, or why not.
   */
  redeem(ticket: string, scope: TicketScope): Promise<{ ok: true; who: Identity } | { ok: false; reason: TicketRefusal }>;
}

/** Options of `createSocketTicketStore`. */
export type SocketTicketStoreOptions = {
  pool: pg.Pool;
  clock: Clock;
  identity: Pick<IdentityStore, 'getUser' | 'isTokenActive'>;
  /** @default SOCKET_TICKET_TTL_MS */
  ttlMs?: number;
};

const hashTicket = (ticket: string) => createHash('sha256').update(ticket, 'utf8').digest();

/** Creates the store. Throws ChatdError CONFIG for a non-positive TTL. */
export function createSocketTicketStore(options: SocketTicketStoreOptions): SocketTicketStore {
  const { pool, clock, identity } = options;
  const ttlMs = options.ttlMs ?? SOCKET_TICKET_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new ChatdError('CONFIG', `ticket TTL must be positive, got ${ttlMs}`);

  return {
    async mint(who, scope) {
      const ticket = SOCKET_TICKET_PREFIX + randomBytes(32).toString('base64url');
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + ttlMs);
      await pool.query(
        `INSERT INTO socket_tickets (ticket_hash, kind, user_id, token_id, token_kind, chat_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [hashTicket(ticket), scope.kind, who.user.id, who.tokenId, who.tokenKind, scope.kind === 'stream' ? scope.chatId : null, expiresAt],
      );
      // Expired tickets are of no use to anyone: each mint sweeps a bounded batch of them.
      await pool.query(`DELETE FROM socket_tickets WHERE ticket_hash IN (SELECT ticket_hash FROM socket_tickets WHERE expires_at < $1 LIMIT ${TICKET_SWEEP_BATCH})`, [now]);
      return { ticket, expiresAt: expiresAt.toISOString() };
    },
    async redeem(ticket, scope) {
      if (!TICKET_RE.test(ticket)) return { ok: false, reason: 'unknown' };
      const now = clock.now();
      // One statement marks it used and answers whether it was already: two sockets racing for one ticket get one.
      const { rows } = await pool.query<{ kind: string; user_id: string; token_id: string; token_kind: TokenKind; chat_id: string | null; expires_at: Date; was_used: boolean }>(
        `UPDATE socket_tickets t SET used_at = COALESCE(t.used_at, $2)
           FROM (SELECT ticket_hash, used_at IS NOT NULL AS was_used FROM socket_tickets WHERE ticket_hash = $1 FOR UPDATE) old
          WHERE t.ticket_hash = old.ticket_hash
          RETURNING t.kind, t.user_id, t.token_id, t.token_kind, t.chat_id, t.expires_at, old.was_used`,
        [hashTicket(ticket), now],
      );
      const row = rows[0];
      if (!row) return { ok: false, reason: 'unknown' };
      if (row.was_used) return { ok: false, reason: 'used' };
      if (row.expires_at.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
      if (row.kind !== scope.kind || (scope.kind === 'stream' && row.chat_id !== scope.chatId)) return { ok: false, reason: 'other_scope' };
      if (!(await identity.isTokenActive(row.token_id))) return { ok: false, reason: 'token_inactive' };
      const user = await identity.getUser(row.user_id);
      if (!user) return { ok: false, reason: 'token_inactive' };
      return { ok: true, who: { user, tokenId: row.token_id, tokenKind: row.token_kind } };
    },
  };
}
