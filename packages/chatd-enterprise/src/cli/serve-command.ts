// `chatd-enterprise serve`: the OSS `chatd serve` (same flags) with the multi-replica hook, the replica
// registry (registered once listening, heartbeated, removed on a clean stop), the replica list route and
// the enterprise migrations. `--relay-address` / CHATD_RELAY_ADDRESS is what peers dial (default the
// listen address); `--no-share-relays` / CHATD_SHARE_RELAYS=false gives every subscriber its own relay;
// CHATD_RELAY_MODE (default link) carries every relayed chat over one replica link per peer, or with
// per-subscriber over a relay leg per chat and token. Links and relay legs carry the registry's replica
// credential, and the server counts a peer's legs apart from users' sockets only when that credential checks out.
// Nothing here relays by itself: the hook dials, the registry resolves.
import { createServeCommand, type Chatd, type CliCommand, type ServeContext } from '@chatd/oss';
import { ENTERPRISE_MIGRATION_SOURCES } from '../enterprise-migrations.js';
import { createMultiReplicaSubscribeFn } from '../multi-replica-subscribe-fn.js';
import { createReplicaCredentialVerifier } from '../replica-credential.js';
import { createReplicaRegistry, type ReplicaRegistry } from '../replica-registry.js';
import { createReplicasRoute } from '../replicas-route.js';
import { RELAY_ADDRESS_ENV, parseRelayAddress } from './relay-address.js';
import { RELAY_MODE_ENV, parseRelayMode } from './relay-mode.js';
import { SHARE_RELAYS_ENV, parseShareRelays } from './share-relays.js';

/** Builds `chatd-enterprise serve`. */
export function createEnterpriseServeCommand(): CliCommand {
  // One registry per run of the command, built by whichever hook sees the daemon first.
  let registry: ReplicaRegistry | undefined;
  let relayAddress: string | undefined;
  const registryOf = (chatd: Chatd, ctx: ServeContext): ReplicaRegistry => {
    const raw = (ctx.values['relay-address'] as string | undefined) ?? ctx.env[RELAY_ADDRESS_ENV];
    if (raw !== undefined && raw !== '') relayAddress = parseRelayAddress(raw);
    registry ??= createReplicaRegistry({
      db: chatd.pool,
      clock: chatd.clock,
      heartbeatIntervalMs: chatd.config.heartbeatIntervalMs,
      staleAfterMs: chatd.config.staleAfterMs,
      logger: chatd.logger,
    });
    return registry;
  };

  const command = createServeCommand({
    flags: { 'relay-address': { type: 'string' }, 'no-share-relays': { type: 'boolean' } },
    migrationSources: ENTERPRISE_MIGRATION_SOURCES,
    subscribeFn: (chatd, ctx) => {
      const reg = registryOf(chatd, ctx);
      return createMultiReplicaSubscribeFn({
        resolveReplicaAddress: (signal, id) => reg.resolveReplicaAddress(signal, id),
        replicaId: () => chatd.replicaId,
        replicaCredential: () => reg.credential(),
        clock: chatd.clock,
        shareRelays: parseShareRelays(ctx.values['no-share-relays'] as boolean | undefined, ctx.env[SHARE_RELAYS_ENV]),
        relayMode: parseRelayMode(ctx.env[RELAY_MODE_ENV]),
      });
    },
    extraRoutes: (chatd, ctx) => [createReplicasRoute(registryOf(chatd, ctx))],
    verifyReplicaCredential: (chatd, ctx) => {
      const reg = registryOf(chatd, ctx);
      return createReplicaCredentialVerifier({ credentialHash: (id) => reg.credentialHash(id), clock: chatd.clock });
    },
    afterStart: async (running, ctx) => {
      const reg = registryOf(running.chatd, ctx);
      await reg.register({ id: running.replicaId, relayAddress: relayAddress ?? running.url, worker: running.worker.enabled });
      return () => reg.deregister();
    },
  });
  return {
    ...command,
    summary: `${command.summary}; relays live parts between replicas`,
    async run(args, io) {
      registry = undefined;
      relayAddress = undefined;
      return command.run(args, io);
    },
  };
}
