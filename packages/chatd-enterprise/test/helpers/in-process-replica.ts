// One enterprise replica in the test process, wired as `chatd-enterprise serve` wires it: the multi-replica hook
// with the replica credential, the credential verifier, and the replica registered in the registry.
import { createRealClock } from '@chatd/clock';
import { startChatdServer, type ChatdConfig, type RunningChatd, type StartChatdServerOptions } from '@chatd/oss';
import { ENTERPRISE_MIGRATION_SOURCES } from '../../src/enterprise-migrations.js';
import { createMultiReplicaSubscribeFn, type RelayMode } from '../../src/multi-replica-subscribe-fn.js';
import { createReplicaCredentialVerifier } from '../../src/replica-credential.js';
import { createReplicaRegistry, type ReplicaRegistry } from '../../src/replica-registry.js';

/** A running replica and its registry entry. */
export type InProcessReplica = { running: RunningChatd; registry: ReplicaRegistry };

/** What a test may change: config beyond the database and worker flag, the demo model's env, the models. */
export type InProcessReplicaOptions = {
  worker: boolean;
  config?: Partial<ChatdConfig>;
  env?: Record<string, string>;
  models?: StartChatdServerOptions['models'];
  /** The relay mode of the multi-replica hook. @default the product default (DEFAULT_RELAY_MODE) */
  relayMode?: RelayMode;
};

/**
 * Starts a replica on `databaseUrl` (fast acquisition, 1 s heartbeats, silent logs, per-user running and write
 * limits lifted: these tests run many chats for one user) and registers it.
 */
export async function startInProcessReplica(databaseUrl: string, options: InProcessReplicaOptions): Promise<InProcessReplica> {
  const { worker } = options;
  let registry: ReplicaRegistry | undefined;
  const registryOf = (chatd: RunningChatd['chatd']) =>
    (registry ??= createReplicaRegistry({ db: chatd.pool, clock: chatd.clock, heartbeatIntervalMs: 1_000, staleAfterMs: 10_000 }));
  const running = await startChatdServer({
    config: { databaseUrl, worker, maxRunningPerUser: 1_000, writeRatePerMinute: 100_000, writeBurst: 100_000, acquireIntervalMs: 50, heartbeatIntervalMs: 1_000, staleAfterMs: 10_000, logLevel: 'silent', ...options.config },
    clock: createRealClock(),
    migrate: { sources: ENTERPRISE_MIGRATION_SOURCES },
    ...(options.models ? { models: options.models } : {}),
    env: options.env ?? {},
    gitsync: false,
    console: false,
    subscribeFn: (chatd) => {
      const reg = registryOf(chatd);
      return createMultiReplicaSubscribeFn({
        resolveReplicaAddress: (signal, id) => reg.resolveReplicaAddress(signal, id),
        replicaId: () => chatd.replicaId,
        replicaCredential: () => reg.credential(),
        ...(options.relayMode ? { relayMode: options.relayMode } : {}),
      });
    },
    verifyReplicaCredential: (chatd) => {
      const reg = registryOf(chatd);
      return createReplicaCredentialVerifier({ credentialHash: (id) => reg.credentialHash(id), clock: chatd.clock });
    },
  });
  const reg = registryOf(running.chatd);
  await reg.register({ id: running.replicaId, relayAddress: running.url, worker });
  return { running, registry: reg };
}
