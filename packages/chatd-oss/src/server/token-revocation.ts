// Revocation reaches open sockets (issue 22 item 1): every socket is registered under the id of the token it
// was authenticated with (a relay leg under the forwarded user token's), and a `chat:token_revoked` event closes
// the matching ones on this replica. A lost event, or a console session that simply expires, is caught by the
// keep-alive re-check: each ping tick asks whether the token is still active (one primary-key lookup, shared by
// every socket of the token and cached for a few seconds). It does not authenticate requests; auth-guard does.
import type { Clock } from '@chatd/clock';
import { TOKEN_REVOKED_EVENT_CHANNEL, handleTokenRevokedEvent, type PubSub, type Unsubscribe } from '@chatd/pubsub';
import type { IdentityStore } from '../identity/identity-store.js';
import type { Logger } from '../logger.js';

/** How long a positive keep-alive re-check of a token is reused by its other sockets. @default 5000 */
export const DEFAULT_TOKEN_RECHECK_CACHE_MS = 5_000;
/** WebSocket close code of a socket whose token was revoked or expired (policy violation). */
export const TOKEN_REVOKED_CLOSE_CODE = 1008;
/** WebSocket close reason of a socket whose token was revoked or expired. */
export const TOKEN_REVOKED_CLOSE_REASON = 'token revoked';

/** Options of `createTokenRevocation`. */
export type TokenRevocationOptions = {
  /** With `forgetVerified*`, a heard revocation also drops the token's remembered verification (identity-store.ts). */
  identity: Pick<IdentityStore, 'isTokenActive'> & Partial<Pick<IdentityStore, 'forgetVerifiedToken' | 'forgetVerifiedTokens'>>;
  pubsub: PubSub;
  clock: Clock;
  logger: Logger;
  /** @default DEFAULT_TOKEN_RECHECK_CACHE_MS */
  recheckCacheMs?: number;
  /** Called once per socket closed for its token, with why. */
  onClosed?: (reason: 'revoked' | 'recheck') => void;
};

/** The sockets of each token, and the means to close them. */
export interface TokenRevocation {
  /** Registers a socket's closer under its token id; returns the unregister function. */
  register(tokenId: string, close: () => void): () => void;
  /**
   * The keep-alive re-check of one socket: resolves true while the token is active, false once it is revoked or
   * expired (the caller then closes that socket). A lookup that fails answers true: the database being down is
   * no reason to cut every socket, and the next tick asks again.
   */
  recheck(tokenId: string): Promise<boolean>;
  /** Closes every socket of the token on this replica now. */
  revoke(tokenId: string, reason?: 'revoked' | 'recheck'): void;
  /** Subscribes to `chat:token_revoked`. */
  start(): Promise<void>;
  /** Unsubscribes. */
  stop(): void;
  /** Sockets registered now (for tests and metrics). */
  size(): number;
}

/** Creates the registry. */
export function createTokenRevocation(options: TokenRevocationOptions): TokenRevocation {
  const { identity, pubsub, clock, logger } = options;
  const recheckCacheMs = options.recheckCacheMs ?? DEFAULT_TOKEN_RECHECK_CACHE_MS;
  const sockets = new Map<string, Set<() => void>>();
  /** Token id -> the lookup in flight or its positive answer, and when it started. */
  const checks = new Map<string, { answer: Promise<boolean>; startedMs: number }>();
  let unsubscribe: Unsubscribe | undefined;
  let stopped = false;
  let count = 0;

  const revoke = (tokenId: string, reason: 'revoked' | 'recheck' = 'revoked') => {
    checks.delete(tokenId);
    const set = sockets.get(tokenId);
    if (!set) return;
    sockets.delete(tokenId);
    for (const close of set) {
      count--;
      options.onClosed?.(reason);
      try {
        close();
      } catch (err) {
        logger.warn({ err }, 'closing a socket of a revoked token failed');
      }
    }
  };

  return {
    register(tokenId, close) {
      let set = sockets.get(tokenId);
      if (!set) sockets.set(tokenId, (set = new Set()));
      set.add(close);
      count++;
      return () => {
        const s = sockets.get(tokenId);
        if (s?.delete(close)) {
          count--;
          if (s.size === 0) sockets.delete(tokenId);
        }
      };
    },
    recheck(tokenId) {
      // A lookup started less than the cache interval ago answers for this tick too, in flight or done; an
      // older one, even one still in flight, is not reused (its answer is about an earlier moment).
      const now = clock.nowMs();
      const cached = checks.get(tokenId);
      if (cached && now - cached.startedMs < recheckCacheMs) return cached.answer;
      const entry: { answer: Promise<boolean>; startedMs: number } = { answer: Promise.resolve(true), startedMs: now };
      const forget = () => {
        if (checks.get(tokenId) === entry) checks.delete(tokenId);
      };
      entry.answer = identity.isTokenActive(tokenId).then(
        (active) => {
          // Only a positive answer is kept; a negative one closes the sockets at once.
          if (!active) forget();
          return active;
        },
        (err: unknown) => {
          forget();
          logger.warn({ err }, 'token re-check failed; the socket stays open until the next tick');
          return true;
        },
      );
      checks.set(tokenId, entry);
      return entry.answer;
    },
    revoke,
    async start() {
      const unsub = await pubsub.subscribe(
        TOKEN_REVOKED_EVENT_CHANNEL,
        handleTokenRevokedEvent((event, err) => {
          if (event) {
            identity.forgetVerifiedToken?.(event.token_id.toLowerCase());
            revoke(event.token_id.toLowerCase());
          } else if (err) {
            // A dropped or malformed event: the keep-alive re-check closes those sockets within one ping interval,
            // and no remembered verification outlives it (it might be the revoked token's).
            identity.forgetVerifiedTokens?.();
            logger.warn({ err }, 'token revocation event lost; relying on the keep-alive re-check');
          }
        }),
      );
      if (stopped) unsub();
      else unsubscribe = unsub;
    },
    stop() {
      stopped = true;
      unsubscribe?.();
      unsubscribe = undefined;
    },
    size: () => count,
  };
}
