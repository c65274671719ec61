// The enterprise `SubscribeFn` (seed 000 `NewMultiReplicaSubscribeFn`): for each subscription it runs a relay
// session that streams the live parts of a chat running on another replica. OSS keeps pubsub, catch-up,
// queue, status and local parts; this hook returns relay `message_part` and relay give-up `error` events only.
import type { Clock } from '@chatd/clock';
import type { ServerMetrics, SubscribeFn } from '@chatd/oss';
import { createLinkRelayDialer } from './link-relay-dialer.js';
import type { RelayDialer } from './relay-dialer.js';
import { countRelayConnections } from './relay-gauge.js';
import { startRelaySession } from './relay-session.js';
import { createSharedRelayDialer } from './shared-relay-dialer.js';
import { createWsRelayDialer, type RelayWsClientOptions } from './ws-relay-dialer.js';

/** Dependencies of the multi-replica hook. */
export type MultiReplicaSubscribeConfig = {
  /** The relay address (`http(s)://host:port`) of a replica, or undefined when it is not known. */
  resolveReplicaAddress: (signal: AbortSignal, replicaId: string) => Promise<string | undefined>;
  /** This replica's id; read lazily because it may not be known when the hook is built. */
  replicaId: () => string;
  /** This replica's credential for the default WebSocket dialer (read at each dial; registered after the hook is built). */
  replicaCredential?: () => string | undefined;
  /** Client options of the replica mesh (agent, TLS) for the default WebSocket dialer. */
  wsClientOptions?: RelayWsClientOptions;
  /** Replaces the WebSocket dialer (tests inject relay behaviour without servers). */
  dialer?: RelayDialer;
  /**
   * Subscribers of one remote chat with the same session token share one relay connection
   * (`createSharedRelayDialer` around the default WebSocket dialer; an injected `dialer` is used as given).
   * @default true
   */
  shareRelays?: boolean;
  /**
   * How relayed chats reach this replica (contract.md#relay): `per-subscriber`, a relay WebSocket per chat (and
   * session token) carrying the subscriber's token; `link`, one replica link per peer replica carrying every chat,
   * the subscriber authorised here only (contract.md#replica-link). Ignored with an injected `dialer`.
   * @default DEFAULT_RELAY_MODE
   */
  relayMode?: RelayMode;
  /** Clock of the reconnect, drain and first-event timers. @default the subscription's `clock` */
  clock?: Clock;
};

/** How relayed chats travel between replicas. */
export type RelayMode = 'link' | 'per-subscriber';
/** The relay mode when none is configured. @default 'link' */
export const DEFAULT_RELAY_MODE: RelayMode = 'link';

/** The WebSocket (or link) dialer, shared between subscribers unless `shareRelays` is false. */
function defaultDialer(config: MultiReplicaSubscribeConfig, clock: Clock, metrics: ServerMetrics | undefined): RelayDialer {
  const dialerOptions = {
    resolveReplicaAddress: config.resolveReplicaAddress,
    replicaId: config.replicaId,
    clock,
    ...(config.replicaCredential ? { replicaCredential: config.replicaCredential } : {}),
    ...(config.wsClientOptions ? { wsClientOptions: config.wsClientOptions } : {}),
  };
  const raw =
    (config.relayMode ?? DEFAULT_RELAY_MODE) === 'link'
      ? createLinkRelayDialer({ ...dialerOptions, ...(metrics ? { onLinkCount: (d: number) => metrics.inc('chatd_relay_links', d) } : {}) })
      : createWsRelayDialer(dialerOptions);
  // Counted under the sharing layer: the gauge is of WebSocket connections, not of the subscribers on them.
  const ws = metrics ? countRelayConnections(raw, metrics) : raw;
  return config.shareRelays === false ? ws : createSharedRelayDialer(ws);
}

/** Creates the multi-replica `SubscribeFn`. */
export function createMultiReplicaSubscribeFn(config: MultiReplicaSubscribeConfig): SubscribeFn {
  let wsDialer: RelayDialer | undefined;
  return (params) => {
    const clock = config.clock ?? params.clock;
    const dialer = config.dialer ?? (wsDialer ??= defaultDialer(config, clock, params.metrics));
    return startRelaySession({ params, dialer, localReplicaId: config.replicaId, clock });
  };
}
