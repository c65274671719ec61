// The composition root of one replica, wired and listening: what `chatd serve` (and the enterprise bin, with
// its SubscribeFn) runs; the CLI only parses flags and waits for a signal around it. It builds the daemon
// (createChatd), the live buffers, the publisher, the subscriber, the worker (unless disabled) and the
// HTTP/WebSocket server, and stops them in the reverse order.
import { createSocketTicketStore } from './identity/socket-ticket-store.js';
import type { Clock } from '@chatd/clock';
import type { ProviderResolver, TokenResolver } from '@chatd/gitsync';
import type { ChatdConfig } from './config.js';
import type { Logger } from './logger.js';
import { createChatd, type Chatd } from './create-chatd.js';
import { createChatGitSync, type ChatGitSync } from './gitsync/chat-git-sync.js';
import { createLiveStreams, type LiveStreams } from './live/live-buffer.js';
import type { MigrationSource } from './migrate.js';
import { demoModelOptionsFromEnv } from './model/demo-model.js';
import { createChatPublisher, type ChatPublisher } from './publish/chat-publisher.js';
import { createChatSubscriber, type ChatSubscriber } from './subscribe/chat-subscriber.js';
import { createSyncSafetyNet, type SyncSafetyNet } from './subscribe/sync-safety-net.js';
import { readChatsBehind } from './store/chats-behind.js';
import type { SubscribeFn } from './subscribe-fn.js';
import { createModelConfigResolver, type ModelsOption } from './worker/model-config-resolver.js';
import { createChatWorker, type ChatWorker } from './worker/chat-worker.js';
import { CHAT_PENDING_HINT_CHANNEL } from './publish/pending-hint.js';
import { createFileSweeper } from './worker/file-sweeper.js';
import { createWriteLimiter } from './cost/write-limiter.js';
import { createChatTitler, type ChatTitler } from './worker/chat-title.js';
import { createConsoleRoutes } from './console/console-routes.js';
import { createAuthGuard } from './server/auth-guard.js';
import { parseTrustedProxies } from './server/client-address.js';
import { CHATS_BASE_PATH, createChatServer, type ChatServer, type ChatServerOptions, type ExtraRoute } from './server/create-chat-server.js';
import { createServerMetrics } from './server/server-metrics.js';
import { createModelCallCharger } from './cost/model-call-charger.js';
import type { VerifyReplicaCredential } from './server/replica-credential.js';
import type { ServerTool } from './tools/server-tool.js';
import { demoTools } from './tools/demo-tools.js';
import { createToolRegistry } from './tools/tool-registry.js';

/** Options of `startChatdServer`. */
export type StartChatdServerOptions = {
  /** TCP port (0 = any free port). @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  config?: Partial<ChatdConfig>;
  /** Apply migrations before starting; `sources` is the whole ordered list (put CHATD_MIGRATION_SOURCE first). @default true */
  migrate?: boolean | { sources: readonly MigrationSource[] };
  clock?: Clock;
  logger?: Logger;
  /** This replica's id. @default a new random UUID */
  replicaId?: string;
  /**
   * The embedder's models: `resolve(config)` returns an AI SDK `LanguageModelV3` for a model configuration
   * (Bedrock, Vertex, OpenRouter, Ollama... through their AI SDK packages), or `undefined` for the built-in
   * provider of the configuration's kind. Each chat's configuration still comes from the database.
   * @default the built-in kinds only (demo, openai, anthropic, openai-compatible)
   */
  models?: ModelsOption;
  /**
   * Server tools (contract.md#server-tools) offered to every chat's model and run between its steps: name,
   * description, input schema (zod or JSON Schema), `execute(input, ctx)`, `idempotent?`, `timeoutMs?`. A bad
   * or duplicate name or an unusable schema fails the start with ChatdError CONFIG. @default none
   */
  tools?: readonly ServerTool<any, any>[];
  /** Builds the enterprise hook once the daemon exists (multi-replica relay). */
  subscribeFn?: (chatd: Chatd) => SubscribeFn | undefined;
  /** More routes (e.g. the enterprise replica list). */
  extraRoutes?: (chatd: Chatd) => ExtraRoute[];
  /**
   * Builds the relay-leg recogniser once the daemon exists (the enterprise replica registry); without it every
   * stream socket counts against its user's caps. The caps themselves are `config.maxStreamSocketsPerUser` etc.
   */
  verifyReplicaCredential?: (chatd: Chatd) => VerifyReplicaCredential | undefined;
  /** Sender tuning (coalescing threshold, slow-client cut). */
  sender?: ChatServerOptions['sender'];
  /** Watch socket back-pressure (coalescing threshold, slow-client cut). @default 256 KiB and 4 MiB */
  watchSender?: ChatServerOptions['watchSender'];
  pingIntervalMs?: number;
  /** Environment to read model settings (and the gitsync default `GITHUB_TOKEN`) from. @default process.env */
  env?: Record<string, string | undefined>;
  /**
   * The git diff-status worker (issue 13), run in every replica: provider resolver (default public GitHub),
   * token resolver (default `GITHUB_TOKEN` from `env`, used only for the `owners` list, default
   * `CHATD_GITSYNC_OWNERS`), the per-user refresh cap (default `CHATD_GITSYNC_REFRESHES_PER_MINUTE`) and tick period. `false` disables it and its routes.
   */
  gitsync?: { resolver?: ProviderResolver; tokens?: TokenResolver; owners?: readonly string[]; refreshesPerMinute?: number; intervalMs?: number } | false;
  /** Serve the web console (issue 15) at `/`. @default true */
  console?: boolean;
};

/** A running replica. */
export type RunningChatd = {
  readonly url: string;
  readonly port: number;
  readonly replicaId: string;
  readonly chatd: Chatd;
  readonly live: LiveStreams;
  readonly publisher: ChatPublisher;
  readonly subscriber: ChatSubscriber;
  /** The sync safety net of this replica's subscribers (contract.md#sync-safety-net). */
  readonly syncNet: SyncSafetyNet;
  readonly worker: ChatWorker;
  /** Generated titles (its counters: model titles and fallbacks). */
  readonly titler: ChatTitler;
  readonly server: ChatServer;
  /** The git diff-status worker and its store; undefined when disabled. */
  readonly gitsync?: ChatGitSync;
  /** Clean shutdown (contract.md#clean-shutdown): stop accepting, hand running chats back, close everything. Idempotent. */
  close(): Promise<void>;
};

/** Starts one replica. Rejects (and releases what it opened) when the database or the port is unavailable. */
export async function startChatdServer(options: StartChatdServerOptions = {}): Promise<RunningChatd> {
  const chatd = await createChatd({
    ...(options.config ? { config: options.config } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.replicaId ? { replicaId: options.replicaId } : {}),
    migrate: options.migrate ?? true,
  });
  const { clock, logger, replicaId } = chatd;
  try {
    // The embedder's tools, then the demo tools when CHATD_DEMO_TOOLS is on (a name used twice is a CONFIG error).
    const tools = createToolRegistry([...(options.tools ?? []), ...(chatd.config.demoTools ? demoTools(clock) : [])], { clock });
    // One registry for the whole replica: the worker, the subscriber (and through it the enterprise relay) and
    // the server all report into it.
    const metrics = createServerMetrics();
    const live = createLiveStreams({ clock, onOverflow: (chatId, runId) => logger.warn({ chatId, runId }, 'live buffer full; later parts are not kept for new subscribers') });
    // A change that leaves a chat pending wakes this replica's worker (set once the worker exists below), so a new
    // chat or turn starts at once rather than at the next acquisition tick (up to CHATD_ACQUIRE_INTERVAL_MS later).
    let wakeWorker: (() => void) | undefined;
    // A replica without a worker tells the others' workers instead, with a `chat:pending` hint in the change's batch.
    const publisher = createChatPublisher({ pubsub: chatd.pubsub, clock, logger, onPending: () => wakeWorker?.(), pendingHint: !chatd.config.worker });
    const subscribeFn = options.subscribeFn?.(chatd);
    const syncNet = createSyncSafetyNet({ readChatsBehind: (followed) => readChatsBehind(chatd.pool, followed), clock, logger, intervalMs: chatd.config.syncIntervalMs });
    const subscriber = createChatSubscriber({
      store: chatd.chats,
      pubsub: chatd.pubsub,
      live,
      clock,
      logger,
      replicaId: () => replicaId,
      syncNet,
      metrics,
      ...(subscribeFn ? { subscribeFn } : {}),
    });
    // Each chat's model comes from its model configuration row (the default one when unset), so admin changes
    // apply at once on every replica; the demo model's pace and `api_key_env` keys come from the environment.
    const env = options.env ?? process.env;
    const model = createModelConfigResolver({
      configs: chatd.configCache,
      clock,
      env,
      demo: demoModelOptionsFromEnv(env),
      ...(options.models ? { models: options.models } : {}),
    });
    // Titles after the first reply and for `/title/propose`, from the deployment's title model or the chat's own.
    // Each title request is charged to its chat like a turn's model call (contract.md#cost).
    const charge = createModelCallCharger({ costs: chatd.costs, metrics, logger });
    const titler = createChatTitler({ titles: chatd.titles, deploymentConfig: chatd.deploymentConfig, resolveModel: model, publisher, clock, logger, charge });
    const worker = createChatWorker({
      store: chatd.chats,
      pubsub: chatd.pubsub,
      live,
      model,
      clock,
      workerId: replicaId,
      logger,
      systemPrompt: (chat) => chatd.configCache.userSystemPrompt(chat.owner_id),
      publisher,
      worker: chatd.config.worker,
      acquireIntervalMs: chatd.config.acquireIntervalMs,
      heartbeatIntervalMs: chatd.config.heartbeatIntervalMs,
      staleAfterMs: chatd.config.staleAfterMs,
      maxChatsPerAcquire: chatd.config.maxChatsPerAcquire,
      maxSteps: chatd.config.maxSteps,
      requiresActionTimeoutMs: chatd.config.requiresActionTimeoutMs,
      tools,
      compaction: { store: chatd.compaction, deploymentConfig: chatd.deploymentConfig },
      titler,
      metrics,
      files: chatd.files,
      costs: chatd.costs,
    });
    // Unreferenced uploads go after the retention (contract.md#files).
    const fileSweeper = createFileSweeper({
      files: chatd.files,
      clock,
      logger,
      retentionMs: chatd.config.fileRetentionMs,
      onSwept: (count) => metrics.inc('chatd_files_swept_total', count),
    });
    const gitsyncOptions = options.gitsync === false ? undefined : (options.gitsync ?? {});
    const gitsync = gitsyncOptions
      ? createChatGitSync({
          pool: chatd.pool,
          clock,
          chats: chatd.chats,
          publisher,
          logger,
          env: options.env ?? process.env,
          ...(gitsyncOptions.resolver ? { resolver: gitsyncOptions.resolver } : {}),
          ...(gitsyncOptions.tokens ? { tokens: gitsyncOptions.tokens } : {}),
          ...(gitsyncOptions.owners ? { owners: gitsyncOptions.owners } : {}),
          ...(gitsyncOptions.refreshesPerMinute !== undefined ? { refreshesPerMinute: gitsyncOptions.refreshesPerMinute } : {}),
          ...(gitsyncOptions.intervalMs !== undefined ? { intervalMs: gitsyncOptions.intervalMs } : {}),
        })
      : undefined;
    const extraRoutes = options.extraRoutes?.(chatd) ?? [];
    const verifyReplicaCredential = options.verifyReplicaCredential?.(chatd);
    const trustedProxies = parseTrustedProxies(chatd.config.trustedProxies);
    // One guard for the API, the sockets and the console's sign-in: a client's failures count wherever they happen.
    const authGuard = createAuthGuard({
      identity: chatd.identity,
      clock,
      metrics,
      trustedProxies,
      failureBurst: chatd.config.authFailureBurst,
      failuresPerMinute: chatd.config.authFailuresPerMinute,
    });
    const consoleRoutes =
      options.console === false
        ? []
        : createConsoleRoutes({ identity: chatd.identity, authGuard, replicaId, replicasRoute: extraRoutes.some((r) => r.method === 'GET' && r.path === `${CHATS_BASE_PATH}/replicas`) });
    const server = createChatServer({
      chats: chatd.chats,
      serverToolNames: new Set(tools.definitions().map((d) => d.name)),
      identity: chatd.identity,
      modelConfigs: chatd.modelConfigs,
      pubsub: chatd.pubsub,
      publisher,
      subscriber,
      syncSafetyNet: syncNet,
      clock,
      logger,
      // One query answers "is the database there", the NOTIFY queue gauge and the pending chats gauge.
      pingDatabase: async () => {
        const { rows } = await chatd.pool.query<{ usage: number; pending: string }>(
          "SELECT pg_notification_queue_usage() AS usage, (SELECT count(*) FROM chats WHERE status = 'pending' AND NOT archived) AS pending",
        );
        return { notifyQueueUsage: Number(rows[0]?.usage ?? 0), pendingChats: Number(rows[0]?.pending ?? 0) };
      },
      metrics,
      authGuard,
      trustedProxies,
      ...(chatd.config.publicUrl ? { publicOrigin: chatd.config.publicUrl } : {}),
      ready: () => {
        const connected = (chatd.pubsub as { connected?: boolean }).connected;
        return connected !== false;
      },
      ...(options.sender ? { sender: options.sender } : {}),
      ...(options.watchSender ? { watchSender: options.watchSender } : {}),
      ...(options.pingIntervalMs ? { pingIntervalMs: options.pingIntervalMs } : {}),
      extraRoutes: [...extraRoutes, ...consoleRoutes],
      ...(gitsync ? { gitsync } : {}),
      compaction: { compaction: chatd.compaction, deploymentConfig: chatd.deploymentConfig, titler },
      files: chatd.files,
      caps: {
        streamsPerUser: chatd.config.maxStreamSocketsPerUser,
        watchesPerUser: chatd.config.maxWatchSocketsPerUser,
        maxConnections: chatd.config.maxConnections,
        relayLegsPerPeer: chatd.config.maxRelayLegsPerPeer,
      },
      ...(verifyReplicaCredential ? { verifyReplicaCredential } : {}),
      ...(chatd.config.corsOrigins?.length ? { corsOrigins: chatd.config.corsOrigins } : {}),
      tickets: createSocketTicketStore({ pool: chatd.pool, clock, identity: chatd.identity }),
      costs: chatd.costs,
      listenBacklog: chatd.config.listenBacklog,
      writeLimiter: createWriteLimiter({ clock, perMinute: chatd.config.writeRatePerMinute, burst: chatd.config.writeBurst }),
    });
    const host = options.host ?? '127.0.0.1';
    const port = await server.listen(options.port ?? 0, host);
    worker.start();
    wakeWorker = () => worker.wake();
    // Pending hints from replicas without a worker wake this one's, and so does a dropped-messages signal (a hint may
    // have been lost); a failed LISTEN leaves the acquisition tick.
    const unlistenPending = worker.enabled
      ? await chatd.pubsub.subscribe(CHAT_PENDING_HINT_CHANNEL, () => worker.wake()).catch((err: unknown) => {
          logger.warn({ err }, 'could not listen for pending hints; other replicas\' new chats wait for the acquisition tick');
          return undefined;
        })
      : undefined;
    gitsync?.start();
    syncNet.start();
    fileSweeper.start();
    logger.info({ replicaId, port, worker: worker.enabled }, 'chatd replica listening');
    let closing: Promise<void> | undefined;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      port,
      replicaId,
      chatd,
      live,
      publisher,
      subscriber,
      syncNet,
      worker,
      titler,
      server,
      ...(gitsync ? { gitsync } : {}),
      close() {
        closing ??= (async () => {
          unlistenPending?.();
          syncNet.stop();
          fileSweeper.stop();
          await gitsync?.stop();
          await worker.stop();
          await server.close();
          metrics.close();
          await chatd.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await chatd.close();
    throw err;
  }
}
