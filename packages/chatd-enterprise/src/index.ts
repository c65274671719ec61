export { RelayDialError } from './relay-dial-error.js';
export { RelaySourceHeader } from './relay-source-header.js';
export { createMultiReplicaSubscribeFn } from './multi-replica-subscribe-fn.js';
export { DEFAULT_RELAY_MODE } from './multi-replica-subscribe-fn.js';
export type { MultiReplicaSubscribeConfig, RelayMode } from './multi-replica-subscribe-fn.js';
export { LINK_DIAL_MAX_BUFFERED_EVENTS, LINK_IDLE_CLOSE_MS, LINK_IDLE_TIMER_TAG, createLinkRelayDialer, replicaLinkUrl } from './link-relay-dialer.js';
export type { LinkRelayDialer, LinkRelayDialerOptions } from './link-relay-dialer.js';
export type { RelayConnection, RelayCursor, RelayDialer, RelayDialParams } from './relay-dialer.js';
export {
  RELAY_DRAIN_TIMEOUT_MS,
  RELAY_RETRY_CEIL_MS,
  RELAY_RETRY_FLOOR_MS,
  RELAY_RETRY_MAX_ATTEMPTS,
  RELAY_RETRY_RATE,
  relayBackoffDelayMs,
} from './relay-backoff.js';
export {
  RELAY_AUTH_FAILED_PREFIX,
  RELAY_CONNECTION_FAILED_MESSAGE,
  RELAY_ERROR_KIND,
  RELAY_RECONNECT_FAILED_MESSAGE,
  isRelayGiveUpEvent,
  relayGiveUpEvent,
} from './relay-error-event.js';
export type { RelayGiveUpReason } from './relay-error-event.js';
export { RELAY_DRAIN_TIMER_TAG, RELAY_EVENT_BUFFER_SIZE, RELAY_RECONNECT_TIMER_TAG } from './relay-session.js';
export { DEFAULT_SHARED_RELAY_MAX_BUFFERED_PARTS, createSharedRelayDialer } from './shared-relay-dialer.js';
export type { SharedRelayDialerOptions } from './shared-relay-dialer.js';
// Session token names live in @chatd/protocol (with extractSessionToken); re-exported so imports keep working.
export { SESSION_TOKEN_COOKIE, SESSION_TOKEN_HEADER } from '@chatd/protocol';
export {
  RELAY_AFTER_ID,
  RELAY_FIRST_EVENT_TIMEOUT_MS,
  RELAY_FIRST_EVENT_TIMER_TAG,
  RELAY_HANDSHAKE_TIMEOUT_MS,
  RELAY_LIVE_BUFFER_SIZE,
  RELAY_READ_LIMIT_BYTES,
  RELAY_SNAPSHOT_MAX_EVENTS,
  createWsRelayDialer,
  decodeRelayFrame,
  relayStreamUrl,
} from './ws-relay-dialer.js';
export type { RelayWsClientOptions, WsRelayDialerOptions } from './ws-relay-dialer.js';

// The replica registry, its migrations, the replica list route and the `chatd-enterprise` CLI (issue 12).
export {
  DEFAULT_REPLICA_ADDRESS_CACHE_MS,
  DEFAULT_REPLICA_HEARTBEAT_INTERVAL_MS,
  DEFAULT_REPLICA_STALE_AFTER_MS,
  REPLICA_ADDRESS_CACHE_MAX_ENTRIES,
  REPLICA_CREDENTIAL_BYTES,
  REPLICA_HEARTBEAT_TIMER_TAG,
  REPLICA_PRUNE_STALE_PERIODS,
  createReplicaRegistry,
} from './replica-registry.js';
export type { ReplicaInfo, ReplicaRegistration, ReplicaRegistry, ReplicaRegistryDb, ReplicaRegistryOptions } from './replica-registry.js';
export {
  DEFAULT_REPLICA_CREDENTIAL_CACHE_MS,
  REPLICA_CREDENTIAL_CACHE_MAX_ENTRIES,
  REPLICA_CREDENTIAL_HEADER,
  createReplicaCredentialVerifier,
  hashReplicaCredential,
} from './replica-credential.js';
export type { ReplicaCredentialVerifierOptions } from './replica-credential.js';
export {
  ENTERPRISE_MIGRATIONS_KEY,
  ENTERPRISE_MIGRATION_SOURCE,
  ENTERPRISE_MIGRATION_SOURCES,
  ENTERPRISE_MIGRATION_SOURCE_NAME,
  findEnterpriseMigrationDir,
} from './enterprise-migrations.js';
export { REPLICAS_PATH, createReplicasRoute } from './replicas-route.js';
export type { PublicReplicaInfo } from './replicas-route.js';
export { RELAY_ADDRESS_ENV, parseRelayAddress } from './cli/relay-address.js';
export { SHARE_RELAYS_ENV, parseShareRelays } from './cli/share-relays.js';
export { RELAY_MODE_ENV, parseRelayMode } from './cli/relay-mode.js';
export { createEnterpriseServeCommand } from './cli/serve-command.js';
export { enterpriseMigrateCommand } from './cli/migrate-command.js';
export { runEnterpriseCli } from './cli/run-enterprise-cli.js';
