// The composition root of the chat daemon: one object wiring the pool, pubsub, clock, logger, stores and
// the replica's configuration cache. Later parts (worker, server, model providers) hang off it; the
// replica itself is wired by start-chatd-server.ts beside it. This is the one place pino is built (behind
// the `Logger` port of logger.ts). It does not migrate unless asked, and closes only what it created itself.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { createRealClock, type Clock } from '@chatd/clock';
import { createPgPubSub, type PubSub } from '@chatd/pubsub';
import { loadConfig, type ChatdConfig } from './config.js';
import type { Logger } from './logger.js';
import { traceLogMixin } from './telemetry/log-mixin.js';
import { createTracedChatStore } from './telemetry/traced-chat-store.js';
import { createTransactionalStatusNotifier } from './publish/status-notifier.js';
import { migrate, type MigrationSource } from './migrate.js';
import { createChatStore, type ChatStore, type StatusNotifier } from './store/chat-store.js';
import { createCostStore, type CostStore } from './cost/cost-store.js';
import { createChatTitleStore, type ChatTitleStore } from './store/chat-title-store.js';
import { createCompactionStore, type CompactionStore } from './store/compaction-store.js';
import { createFileStore, type FileStore } from './store/file-store.js';
import { createDeploymentConfigStore, type DeploymentConfigStore } from './store/deployment-config-store.js';
import { createConfigCache, type ConfigCache } from './store/config-cache.js';
import { createPool } from './store/db.js';
import { ensureDefaultModelConfig } from './store/default-model-config.js';
import { createModelConfigStore, type ModelConfigStore } from './store/model-config-store.js';
import { createIdentityStore, type IdentityStore } from './identity/identity-store.js';

/** Options of `createChatd`. Everything not given is built from `config` (or the environment). */
export type CreateChatdOptions = {
  /** Settings; missing fields come from `loadConfig(process.env)`. */
  config?: Partial<ChatdConfig>;
  /** Use this pool (not ended by `close`). */
  pool?: pg.Pool;
  /** Use this pubsub (not closed by `close`); default a PostgreSQL pubsub on `config.databaseUrl`. */
  pubsub?: PubSub;
  /** @default the real clock */
  clock?: Clock;
  /** @default pino at `config.logLevel` */
  logger?: Logger;
  /** This replica's id; a new one at each start. @default a random UUID */
  replicaId?: string;
  /** Apply migrations first; `sources` is the whole ordered list (CHATD_MIGRATION_SOURCE first). @default false */
  migrate?: boolean | { sources: readonly MigrationSource[] };
  /** Create a default model configuration from `config.defaultModel` when the database has none. @default true */
  ensureDefaultModelConfig?: boolean;
  /**
   * NOTIFY each status change on `chat:stream:<id>` inside its transaction, so status notifications
   * arrive in commit order; callers then skip publishing those (`ChatChange.statusNotified`). Needs the
   * PostgreSQL pubsub. @default false
   */
  notifyStatusInTransaction?: boolean;
};

/** A wired chat daemon. */
export type Chatd = {
  readonly replicaId: string;
  readonly config: ChatdConfig;
  readonly pool: pg.Pool;
  readonly pubsub: PubSub;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly chats: ChatStore;
  readonly identity: IdentityStore;
  readonly modelConfigs: ModelConfigStore;
  readonly configCache: ConfigCache;
  /** Compaction's writes and manual requests (contract.md#compaction). */
  readonly compaction: CompactionStore;
  /** Where chat titles came from, and the generated title's write. */
  readonly titles: ChatTitleStore;
  /** Deployment settings (`GET|PATCH /config`). */
  readonly deploymentConfig: DeploymentConfigStore;
  /** Uploaded files (contract.md#files). */
  readonly files: FileStore;
  /** The cost ledger and spend limits (contract.md#cost). */
  readonly costs: CostStore;
  /** Stops listening and releases what `createChatd` created. Idempotent. */
  close(): Promise<void>;
};

function resolveConfig(partial: Partial<ChatdConfig> | undefined, bringsOwnConnections: boolean): ChatdConfig {
  const base = loadConfig(process.env, {
    ...(partial?.databaseUrl ? { databaseUrl: partial.databaseUrl } : {}),
    allowMissingDatabaseUrl: bringsOwnConnections,
  });
  return { ...base, ...partial, defaultModel: { ...base.defaultModel, ...partial?.defaultModel } };
}

/** Wires a chat daemon. Rejects with ChatdError CONFIG or MIGRATION_FAILED, or a connection error. */
export async function createChatd(options: CreateChatdOptions = {}): Promise<Chatd> {
  const config = resolveConfig(options.config, options.pool !== undefined && options.pubsub !== undefined);
  const clock = options.clock ?? createRealClock();
  const logger: Logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'chatd' }, mixin: traceLogMixin });
  const replicaId = options.replicaId ?? randomUUID();
  const ownPool = options.pool === undefined;
  const pool = options.pool ?? createPool(config.databaseUrl);
  const cleanups: (() => Promise<void>)[] = [];
  if (ownPool) cleanups.push(() => pool.end());

  try {
    if (options.migrate) {
      const sources = options.migrate === true ? undefined : options.migrate.sources;
      const result = await migrate(pool, sources ? { sources: [...sources] } : {});
      if (result.applied.length > 0) logger.info({ applied: result.applied }, 'migrations applied');
    }
    let pubsub = options.pubsub;
    let ownPg = false;
    if (!pubsub) {
      const pg = await createPgPubSub({ connectionString: config.databaseUrl, clock, pool, onEvent: (e) => logger.warn({ event: e.type }, 'pubsub connection event') });
      pubsub = pg;
      ownPg = true;
      cleanups.unshift(() => pg.close());
    }
    const notifier: StatusNotifier | undefined =
      options.notifyStatusInTransaction && ownPg
        ? createTransactionalStatusNotifier()
        : undefined;
    let configCache: ConfigCache | undefined;
    const modelConfigs = createModelConfigStore({
      pool,
      clock,
      pubsub,
      onChange: (event) => configCache?.invalidate(event),
      onPublishError: (err, event) => logger.error({ err, event }, 'publishing a config change failed'),
    });
    configCache = createConfigCache({ store: modelConfigs, pool, pubsub, onError: (err) => logger.warn({ err }, 'config change subscription error; cache dropped') });
    await configCache.start();
    const cache = configCache;
    cleanups.unshift(() => cache.close());
    const chats = createChatStore({
      pool,
      clock,
      maxQueueSize: config.maxQueueSize,
      maxRunningPerUser: config.maxRunningPerUser,
      ...(notifier ? { notifyStatusInTransaction: notifier } : {}),
    });
    const identity = createIdentityStore({
      pool,
      clock,
      pubsub,
      sessionTtlMs: config.consoleSessionTtlMs,
      tokenCacheMs: config.tokenCacheMs,
      onConfigChange: (event) => cache.invalidate(event),
      onPublishError: (err, event) => logger.error({ err, event }, 'publishing a config change failed'),
      onRevocationPublishError: (err, tokenId) => logger.error({ err, tokenId }, 'announcing a token revocation failed; its sockets close at their next keep-alive re-check'),
    });
    if (options.ensureDefaultModelConfig !== false) {
      const { created, config: def } = await ensureDefaultModelConfig(pool, modelConfigs, config.defaultModel);
      if (created) logger.info({ provider: def?.provider, model: def?.model }, 'created the default model config');
    }
    const compaction = createCompactionStore({ pool, clock, ...(notifier ? { notifyStatusInTransaction: notifier } : {}) });
    let closing: Promise<void> | undefined;
    return {
      replicaId,
      config,
      pool,
      pubsub,
      clock,
      logger,
      // Spans around its writes and catch-up reads, and each acquired chat's trace context (telemetry/).
      chats: createTracedChatStore(chats, pool),
      identity,
      modelConfigs,
      configCache: cache,
      compaction,
      titles: createChatTitleStore({ pool, clock }),
      deploymentConfig: createDeploymentConfigStore({ pool, clock }),
      files: createFileStore({ pool, clock }),
      costs: createCostStore({ pool, clock }),
      close() {
        closing ??= runCleanups(cleanups);
        return closing;
      },
    };
  } catch (err) {
    await runCleanups(cleanups);
    throw err;
  }
}

async function runCleanups(cleanups: (() => Promise<void>)[]): Promise<void> {
  for (const fn of cleanups) {
    try {
      await fn();
    } catch {
      // Closing is best effort: one failing release must not keep the others open.
    }
  }
}
