// Socket caps (issue 21 item 4): how many stream and watch sockets one user may hold, how many relay legs
// one peer replica may hold, and how many sockets the whole server holds. The upgrade handler asks for a
// slot after authentication and before the upgrade; a refusal names the cap that was full. Pure counting:
// it does not know sockets, HTTP or metrics, and it never decides what a relay leg is (the server does).
import { ChatdError } from '../chatd-error.js';

/** Stream sockets one user may hold on one replica (a browser with many tabs and chats). @default 64 */
export const DEFAULT_MAX_STREAM_SOCKETS_PER_USER = 64;
/** Watch sockets one user may hold on one replica (one per tab is the norm). @default 64 */
export const DEFAULT_MAX_WATCH_SOCKETS_PER_USER = 64;
/**
 * Sockets of every kind one replica holds. A socket costs a few tens of KiB (ws buffers, a subscription,
 * its live-buffer share), so 10,000 stays within a few hundred MiB, under a 1 GiB container. @default 10000
 */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/**
 * Relay legs one peer replica may hold here. Legs are shared per chat and session token, so a peer needs
 * one per remote chat its subscribers follow; 4,096 leaves room for a busy peer while a runaway peer cannot
 * take more than 40% of the default global cap. @default 4096
 */
export const DEFAULT_MAX_RELAY_LEGS_PER_PEER = 4_096;

/** Options of `createConnectionCaps`; each cap is a positive integer. */
export type ConnectionCapsOptions = {
  /** @default DEFAULT_MAX_STREAM_SOCKETS_PER_USER */
  streamsPerUser?: number;
  /** @default DEFAULT_MAX_WATCH_SOCKETS_PER_USER */
  watchesPerUser?: number;
  /** @default DEFAULT_MAX_CONNECTIONS */
  maxConnections?: number;
  /** @default DEFAULT_MAX_RELAY_LEGS_PER_PEER */
  relayLegsPerPeer?: number;
};

/** Who a socket counts against: a user's stream or watch socket, or a peer replica's relay leg. */
export type ConnectionOwner = { kind: 'stream' | 'watch'; userId: string } | { kind: 'relay'; peerId: string };

/** Which cap refused a socket (the `reason` label of `chatd_ws_refused_total`). */
export type ConnectionRefusal = 'user_streams' | 'user_watches' | 'global' | 'peer_relay_legs';

/** A held slot; `release` is idempotent. */
export interface ConnectionSlot {
  release(): void;
}

/** Slots held now, for metrics and tests. */
export type ConnectionCounts = { total: number; streams: number; watches: number; relayLegs: number };

/** The caps of one server. */
export interface ConnectionCaps {
  /** Takes a slot for `owner`, or answers which cap is full (nothing is taken then). */
  acquire(owner: ConnectionOwner): { ok: true; slot: ConnectionSlot } | { ok: false; reason: ConnectionRefusal };
  /** Slots held for one owner. */
  held(owner: ConnectionOwner): number;
  counts(): ConnectionCounts;
}

function checkCap(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new ChatdError('CONFIG', `${name} must be a positive integer, got ${value}`);
  return value;
}

/** Creates the caps. Throws ChatdError CONFIG on a cap that is not a positive integer. */
export function createConnectionCaps(options: ConnectionCapsOptions = {}): ConnectionCaps {
  const limits = {
    stream: checkCap('streamsPerUser', options.streamsPerUser ?? DEFAULT_MAX_STREAM_SOCKETS_PER_USER),
    watch: checkCap('watchesPerUser', options.watchesPerUser ?? DEFAULT_MAX_WATCH_SOCKETS_PER_USER),
    relay: checkCap('relayLegsPerPeer', options.relayLegsPerPeer ?? DEFAULT_MAX_RELAY_LEGS_PER_PEER),
  };
  const maxConnections = checkCap('maxConnections', options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
  const refusal: Record<ConnectionOwner['kind'], ConnectionRefusal> = { stream: 'user_streams', watch: 'user_watches', relay: 'peer_relay_legs' };
  // One map per kind, keyed by user or peer id; an entry is deleted at zero so idle users cost nothing.
  const byOwner = { stream: new Map<string, number>(), watch: new Map<string, number>(), relay: new Map<string, number>() };
  const totals = { stream: 0, watch: 0, relay: 0 };
  let total = 0;
  const keyOf = (owner: ConnectionOwner) => (owner.kind === 'relay' ? owner.peerId : owner.userId);

  return {
    acquire(owner) {
      const map = byOwner[owner.kind];
      const key = keyOf(owner);
      const n = map.get(key) ?? 0;
      // The owner's own cap first: a user at their cap learns that, not that the server is full.
      if (n >= limits[owner.kind]) return { ok: false, reason: refusal[owner.kind] };
      if (total >= maxConnections) return { ok: false, reason: 'global' };
      map.set(key, n + 1);
      totals[owner.kind]++;
      total++;
      let released = false;
      const slot: ConnectionSlot = {
        release() {
          if (released) return;
          released = true;
          const left = (map.get(key) ?? 1) - 1;
          if (left > 0) map.set(key, left);
          else map.delete(key);
          totals[owner.kind]--;
          total--;
        },
      };
      return { ok: true, slot };
    },
    held(owner) {
      return byOwner[owner.kind].get(keyOf(owner)) ?? 0;
    },
    counts() {
      return { total, streams: totals.stream, watches: totals.watch, relayLegs: totals.relay };
    },
  };
}
