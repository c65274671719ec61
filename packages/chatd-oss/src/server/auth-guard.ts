// Authentication with a per-client budget of failures (issue 22 item 4): every request or upgrade that presents
// a token is verified (the identity store keeps a short negative cache of unknown tokens), and a client whose
// tokens keep failing is refused with 429 and `Retry-After` before any lookup, so guessing and flooding with
// well-formed unknown tokens cannot reach the database faster than the bucket refills. The client is the
// socket's address, or the forwarded one behind a trusted proxy (client-address.ts). Valid tokens cost nothing
// from the budget; a client with none left is refused until it refills, whatever it presents.
import type { IncomingMessage } from 'node:http';
import type { Clock } from '@chatd/clock';
import { createRateLimiter, type RateLimiter } from '@chatd/channels';
import { ChatdError } from '../chatd-error.js';
import type { Identity, IdentityStore } from '../identity/identity-store.js';
import { extractSessionToken } from '@chatd/protocol';
import { nodeHeaderGetter } from './auth.js';
import { NO_TRUSTED_PROXIES, clientAddress, type TrustedProxies } from './client-address.js';
import type { ServerMetrics } from './server-metrics.js';

/** Failed authentications a client may make in a burst. @default 20 */
export const DEFAULT_AUTH_FAILURE_BURST = 20;
/** Failed authentications a client regains per minute. @default 60 (one a second) */
export const DEFAULT_AUTH_FAILURES_PER_MINUTE = 60;
/** Clients whose failures are remembered at once; the longest-known is forgotten first. @default 10000 */
export const DEFAULT_AUTH_MAX_TRACKED_CLIENTS = 10_000;

/** Options of `createAuthGuard`. */
export type AuthGuardOptions = {
  identity: Pick<IdentityStore, 'verifyToken'>;
  clock: Clock;
  metrics?: ServerMetrics;
  /** Proxies whose `X-Forwarded-For` names the client. @default nobody */
  trustedProxies?: TrustedProxies;
  /** @default DEFAULT_AUTH_FAILURE_BURST */
  failureBurst?: number;
  /** @default DEFAULT_AUTH_FAILURES_PER_MINUTE */
  failuresPerMinute?: number;
  /** @default DEFAULT_AUTH_MAX_TRACKED_CLIENTS */
  maxTrackedClients?: number;
};

/** Authenticates requests and counts each client's failures. */
export interface AuthGuard {
  /**
   * The caller of `req`, from its token (cookie, header, bearer). Throws ChatdError RATE_LIMITED (429, with
   * `retryAfterMs`) for a client out of budget, UNAUTHORIZED for a missing or invalid token (an invalid one
   * spends budget). `exempt` skips the budget (verified relay legs: their peer replica is not the client).
   */
  authenticate(req: IncomingMessage, options?: { exempt?: boolean }): Promise<Identity>;
  /**
   * Verifies `token` (e.g. from a sign-in body) on behalf of `req`'s client under the same budget: the identity,
   * or undefined for an invalid token (which spends budget). Throws RATE_LIMITED like `authenticate`.
   */
  verify(req: IncomingMessage, token: string): Promise<Identity | undefined>;
  /**
   * Authenticates `req` by a single-use socket ticket (contract.md#tickets) under the same budget: `redeem`
   * answers the identity or undefined (a refused ticket spends budget, like an invalid token). Throws UNAUTHORIZED
   * or RATE_LIMITED like `authenticate`.
   */
  authenticateTicket(req: IncomingMessage, redeem: () => Promise<Identity | undefined>): Promise<Identity>;
  /** The client address of `req` (for logs and tests). */
  client(req: IncomingMessage): string;
}

type ClientState = { bucket: RateLimiter; blockedUntilMs: number };

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new ChatdError('CONFIG', `${name} must be a positive number, got ${String(value)}`);
  return value;
}

/** Creates the guard. Throws ChatdError CONFIG for a non-positive limit. */
export function createAuthGuard(options: AuthGuardOptions): AuthGuard {
  const { identity, clock, metrics } = options;
  const trusted = options.trustedProxies ?? NO_TRUSTED_PROXIES;
  const burst = positive('failureBurst', options.failureBurst ?? DEFAULT_AUTH_FAILURE_BURST);
  const perSecond = positive('failuresPerMinute', options.failuresPerMinute ?? DEFAULT_AUTH_FAILURES_PER_MINUTE) / 60;
  const maxClients = positive('maxTrackedClients', options.maxTrackedClients ?? DEFAULT_AUTH_MAX_TRACKED_CLIENTS);
  const clients = new Map<string, ClientState>();

  const limited = (retryAfterMs: number) => {
    metrics?.inc('chatd_auth_limited_total');
    return new ChatdError('RATE_LIMITED', 'Too many failed authentications.', {
      detail: 'This client presented too many invalid session tokens; wait and retry with a valid one.',
      retryAfterMs,
    });
  };

  /** Throws RATE_LIMITED while the client's bucket is empty. */
  const admit = (client: string) => {
    const state = clients.get(client);
    const wait = state ? state.blockedUntilMs - clock.nowMs() : 0;
    if (wait > 0) throw limited(wait);
  };

  /** Spends one failure of the client's budget; throws RATE_LIMITED when there was none left. */
  const fail = (client: string) => {
    metrics?.inc('chatd_auth_failures_total');
    let state = clients.get(client);
    if (!state) {
      // Bounded: a flood from many addresses forgets the oldest ones, never grows without limit.
      if (clients.size >= maxClients) clients.delete(clients.keys().next().value!);
      state = { bucket: createRateLimiter({ maxTokens: burst, refillRatePerSecond: perSecond, clock }), blockedUntilMs: 0 };
      clients.set(client, state);
    }
    if (state.bucket.allow()) return;
    // Empty: refuse everything from this client until one failure's worth has refilled.
    const waitMs = Math.ceil(((1 - state.bucket.tokens()) / perSecond) * 1000);
    state.blockedUntilMs = clock.nowMs() + waitMs;
    throw limited(waitMs);
  };

  const unauthorized = (detail: string) => new ChatdError('UNAUTHORIZED', 'You must be signed in to do this.', { detail });

  const verifyFor = async (client: string, token: string, exempt: boolean): Promise<Identity | undefined> => {
    if (!exempt) admit(client);
    // A relay leg (exempt) asks the database, never the remembered answer: a dial refused with 401 is how a relayed
    // stream learns of a revocation whose announcement was lost (contract.md#token-cache).
    const who = await identity.verifyToken(token, exempt ? { fresh: true } : undefined);
    if (!who && !exempt) fail(client);
    else if (!who) metrics?.inc('chatd_auth_failures_total');
    return who;
  };

  return {
    client: (req) => clientAddress(req, trusted),
    async authenticate(req, opts) {
      const client = clientAddress(req, trusted);
      const token = extractSessionToken(nodeHeaderGetter(req.headers));
      if (!token) {
        // Costs no lookup, so it spends no budget; a client already out of budget is still told to wait.
        if (!opts?.exempt) admit(client);
        throw unauthorized('No session token was presented.');
      }
      const who = await verifyFor(client, token, opts?.exempt === true);
      if (!who) throw unauthorized('The session token is invalid, expired or revoked.');
      return who;
    },
    async authenticateTicket(req, redeem) {
      const client = clientAddress(req, trusted);
      admit(client);
      const who = await redeem();
      if (!who) {
        fail(client);
        throw unauthorized('The socket ticket is unknown, used, expired, for another socket, or its token is revoked.');
      }
      return who;
    },
    verify(req, token) {
      return verifyFor(clientAddress(req, trusted), token, false);
    },
  };
}
