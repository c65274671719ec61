// The public entry of @chatd/oss, grouped by concept: what embedders and the enterprise package use, nothing
// else. Row mappers, page sizes, timer tags and internal limits stay internal (tests import them by path);
// wire names and parsers live in @chatd/protocol. test/public-api.test.ts caps the runtime names.

// Errors.
export { ChatdError, isChatdError } from './chatd-error.js';
export type { ChatdErrorCode, ChatdErrorOptions, SpendFigures } from './chatd-error.js';

// Configuration.
export { CONFIG_ENV, loadConfig, requireDatabaseUrl } from './config.js';
export type { ChatdConfig, ConfigFlags, DefaultModelSettings } from './config.js';
export type { Logger } from './logger.js';

// Server: the composition roots (daemon, then one listening replica), the HTTP/WebSocket server and what an
// extra route needs.
export { createChatd } from './create-chatd.js';
export type { Chatd, CreateChatdOptions } from './create-chatd.js';
export { startChatdServer } from './start-chatd-server.js';
export type { RunningChatd, StartChatdServerOptions } from './start-chatd-server.js';
export { CHATS_BASE_PATH, CHATS_V2_BASE_PATH, INBOX_WATCH_PATH, createChatServer } from './server/create-chat-server.js';
export type { ChatServer, ChatServerOptions, DatabaseProbe, ExtraRoute } from './server/create-chat-server.js';
export { readJsonBody, sendEmpty, sendJson } from './server/http-io.js';
export { TOKEN_REVOKED_CLOSE_CODE, TOKEN_REVOKED_CLOSE_REASON } from './server/token-revocation.js';
export { DEFAULT_LATENCY_BUCKETS_SECONDS, HISTOGRAM_HELP, METRIC_HELP, createServerMetrics } from './server/server-metrics.js';
export type { HistogramLabels, HistogramName, MetricName, ServerMetrics, ServerMetricsOptions } from './server/server-metrics.js';
export type { ConnectionCapsOptions } from './server/connection-caps.js';
export { DEFAULT_LISTEN_BACKLOG } from './server/listen-backlog.js';
export { RELAY_SUBSCRIBER_HEADER, relaySubscriber } from './server/replica-credential.js';
export { DEFAULT_REPLICA_LINK_MAX_STREAMS, REPLICA_LINK_MAX_FRAME_BYTES, REPLICA_LINK_UNAUTHORIZED_CLOSE_CODE, REPLICA_LINK_UNAUTHORIZED_CLOSE_REASON, serveReplicaLink } from './server/replica-link-route.js';
export type { ReplicaLinkServeOptions } from './server/replica-link-route.js';
export { CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS, CORS_EXPOSED_HEADERS, CORS_MAX_AGE_SECONDS, createCorsPolicy, parseCorsOrigins } from './server/cors.js';
export type { CorsPolicy } from './server/cors.js';
export type { VerifiedReplica, VerifyReplicaCredential } from './server/replica-credential.js';

// Store: migrations, the pool, chats, identities, model configurations.
export { CHATD_MIGRATION_SOURCE, createMigrationSource, migrate, migrationsKey } from './migrate.js';
export type { MigrateResult, Migration, MigrationSource } from './migrate.js';
export { createPool, inTransaction } from './store/db.js';
export { createChatStore } from './store/chat-store.js';
export type {
  AcquiredChat,
  ChatChange,
  ChatRun,
  ChatRunState,
  ChatStore,
  ChatStoreOptions,
  CreateChatInput,
  EditMessageInput,
  EditMessageResult,
  FinishRunInput,
  ListMessagesInput,
  MessagePage,
  MessagesAfterPage,
  ModelHistoryMessage,
  PersistMessageInput,
  SendMessageInput,
  SendMessageResult,
  StatusNotifier,
} from './store/chat-store.js';
export { createIdentityStore } from './identity/identity-store.js';
export { SOCKET_TICKET_PREFIX, SOCKET_TICKET_TTL_MS, TICKET_SWEEP_BATCH, createSocketTicketStore } from './identity/socket-ticket-store.js';
export type { MintedTicket, SocketTicketStore, SocketTicketStoreOptions, TicketRefusal, TicketScope } from './identity/socket-ticket-store.js';
export type { ApiTokenInfo, ConsoleSession, Identity, IdentityStore, IdentityStoreOptions, Organization, TokenKind, User } from './identity/identity-store.js';
export { createModelConfigStore } from './store/model-config-store.js';
export type {
  ChatModelConfig,
  WireModelConfig,
  ChatProvider,
  CreateModelConfigInput,
  CreateProviderInput,
  ModelConfigStore,
  ModelConfigStoreOptions,
  ProviderSettings,
  UpdateModelConfigInput,
} from './store/model-config-store.js';
export type { WireCallOptions } from './store/model-config-input.js';
export { createConfigCache } from './store/config-cache.js';
export type { ConfigCache, ConfigCacheOptions } from './store/config-cache.js';
export { ensureDefaultModelConfig } from './store/default-model-config.js';

// Worker: the generation loop, live buffers and the publisher it writes to.
export { createChatWorker } from './worker/chat-worker.js';
export type { ActiveRunInfo, ChatWorker, ChatWorkerMetrics, ChatWorkerOptions } from './worker/chat-worker.js';
export type { ChatRunOutcome, ChatRunResult, CompactionEvent, ModelResolver, ResolvedModel, RunCancelReason } from './worker/chat-run.js';
export { CHAT_SUMMARIZED_TOOL_NAME } from './worker/compaction.js';
export type { ChatSummarizedResult, CompactionSource } from './worker/compaction.js';
export { createChatTitler } from './worker/chat-title.js';
export type { ChatTitler, ChatTitlerMetrics, ChatTitlerOptions, TitleOrigin } from './worker/chat-title.js';
export { createCostStore } from './cost/cost-store.js';
export type { ChatCost, CostStore, CostStoreOptions, ModelCallInput, SpendLimit, SpendState } from './cost/cost-store.js';
export { createModelCallCharger } from './cost/model-call-charger.js';
export type { ModelCallCharger, ModelCallChargerOptions, TaskCallReport } from './cost/model-call-charger.js';
export { MAX_PRICE_MICROS_PER_MILLION, callCostMicros, parseModelPricing } from './cost/model-pricing.js';
export type { CallTokens, ModelPricing } from './cost/model-pricing.js';
export { SPEND_PERIODS, periodBounds } from './cost/spend-period.js';
export type { SpendPeriod } from './cost/spend-period.js';
export { DEFAULT_WRITE_BURST, DEFAULT_WRITE_RATE_PER_MINUTE, createWriteLimiter } from './cost/write-limiter.js';
export type { WriteLimiter, WriteLimiterOptions } from './cost/write-limiter.js';
export { createCompactionStore } from './store/compaction-store.js';
export type { CompactionRequest, CompactionStore, CompactionStoreOptions, PersistCompactionInput } from './store/compaction-store.js';
export { createFileStore } from './store/file-store.js';
export type { FileInfo, FileStore, NewFile, StoredFile } from './store/file-store.js';
export { createFileSweeper } from './worker/file-sweeper.js';
export type { FileSweeper, FileSweeperOptions } from './worker/file-sweeper.js';
export { FILE_MEDIA_TYPES, MAX_FILE_BYTES } from './server/file-routes.js';
export { createChatTitleStore } from './store/chat-title-store.js';
export type { ChatTitleStore, TitleSource, TitleState } from './store/chat-title-store.js';
export { createDeploymentConfigStore, DEPLOYMENT_CONFIG_KEYS } from './store/deployment-config-store.js';
export type { DeploymentConfig, DeploymentConfigKey, DeploymentConfigPatch, DeploymentConfigStore } from './store/deployment-config-store.js';
export { createToolRegistry } from './tools/tool-registry.js';
export type { ToolRegistryOptions } from './tools/tool-registry.js';
export type { ServerTool, ServerToolContext, ToolCallOutcome, ToolCallRequest, ToolRegistry, ToolRunContext } from './tools/server-tool.js';
export { createModelConfigResolver } from './worker/model-config-resolver.js';
export type { ModelConfigResolverOptions } from './worker/model-config-resolver.js';
export { createLiveStreams } from './live/live-buffer.js';
export type { LiveStreams, LiveStreamsOptions } from './live/live-buffer.js';
export { createChatPublisher } from './publish/chat-publisher.js';
export type { ChatPublisher, ChatPublisherOptions, PublishChangeOptions } from './publish/chat-publisher.js';

// Models: the AI SDK provider interface (LanguageModelV3), the built-in kinds and the error classification.
export { PROVIDER_KINDS, REASONING_EFFORTS } from './model/model-settings.js';
export type { ModelCallOptions, ProviderKind, ProviderOptions, ReasoningEffort } from './model/model-settings.js';
export { ModelProviderError } from './model/model-error.js';
export type { ModelProviderErrorCode, ModelProviderErrorOptions } from './model/model-error.js';
export { classifyModelError } from './model/classify-model-error.js';
export { createDemoLanguageModel } from './model/demo-model.js';
export { COMPACTION_SYSTEM_PROMPT, TITLE_SYSTEM_PROMPT } from './model/task-prompts.js';
export type { DemoLanguageModelOptions, DemoModelOptions } from './model/demo-model.js';
export { createLanguageModel } from './model/create-language-model.js';
export type { CreateLanguageModelOptions } from './model/create-language-model.js';
export type { ModelConfiguration, ModelsOption } from './worker/model-config-resolver.js';

// Subscribe hook: the stream events, the subscriber (snapshot + merge loop) and the enterprise SubscribeFn seam.
export type {
  ChatMessage,
  ChatMessagePart,
  ChatMessageUsage,
  ChatQueuedMessage,
  ChatStreamEvent,
  ChatStreamEventType,
  ChatStreamMessagePart,
  DiscontinuityReason,
} from '@chatd/protocol';
export { eventJson, withEventJson } from '@chatd/protocol';
export type { StatusNotification, SubscribeFn, SubscribeFnParams, SubscribeFnStore } from './subscribe-fn.js';
export { createChatSubscriber } from './subscribe/chat-subscriber.js';
export type { ChatSubscriber, ChatSubscriberOptions, SubscribeOptions, Subscription, SubscriberMetrics } from './subscribe/chat-subscriber.js';
export { DEFAULT_SYNC_INTERVAL_MS, createSyncSafetyNet } from './subscribe/sync-safety-net.js';
export type { SyncFollower, SyncSafetyNet, SyncSafetyNetMetrics, SyncSafetyNetOptions } from './subscribe/sync-safety-net.js';
export { readChatsBehind } from './store/chats-behind.js';
export type { ChatBehind, FollowedChat } from './store/chats-behind.js';

// Git diff status.
export { createChatGitSync } from './gitsync/chat-git-sync.js';
export type { ChatGitSync, ChatGitSyncMetrics, ChatGitSyncOptions, GitRef } from './gitsync/chat-git-sync.js';

// Server tools (issue 26): the demo tools the composition root registers when CHATD_DEMO_TOOLS=1.
export { demoTools } from './tools/demo-tools.js';
// Client-executed tools (issue 27): checks of `unsafe_dynamic_tools`, their limits and the deadline's default.
export {
  DEFAULT_REQUIRES_ACTION_TIMEOUT_MS,
  MAX_DYNAMIC_TOOLS,
  MAX_DYNAMIC_TOOL_SCHEMA_BYTES,
  NO_RESULT_IN_TIME_RESULT,
  actionRequiredCalls,
  clientToolDefinitions,
  parseDynamicTools,
} from './tools/client-tools.js';
export type { ClientToolResult, DynamicTool, PendingToolCall } from './tools/client-tools.js';

// Command line: `chatd` and the commands the enterprise bin builds on.
export { runCli } from './cli/run-cli.js';
export { UsageError, parseCommandArgs } from './cli/cli-args.js';
export type { CliCommand, CliIo, FlagSpec } from './cli/cli-args.js';
export { createServeCommand } from './cli/serve-command.js';
export type { ServeCommandOptions, ServeContext } from './cli/serve-command.js';
export { createMigrateCommand } from './cli/migrate-command.js';
export type { MigrateCommandOptions } from './cli/migrate-command.js';

// Terminal client commands (issue 14).
export { CLUSTER_FILE, createChatCommand, createLsCommand, createSendCommand, createWatchCommand, findClusterFile } from './cli/client-commands.js';
export type { ClientCommandDeps, ClusterFile } from './cli/client-commands.js';


// Tracing (issue 34): W3C trace context helpers, the log mixin and the bins' SDK loader. Spans come from
// `@opentelemetry/api` only; they are no-ops until an SDK is registered.
export { TRACEPARENT_HEADER, activeTraceparent, contextFromTraceparent, formatTraceparent, parseTraceparent } from './telemetry/traceparent.js';
export { traceLogMixin } from './telemetry/log-mixin.js';
export { createTracedChatStore } from './telemetry/traced-chat-store.js';
export { DEFAULT_TRACING_SERVICE_NAME, TRACING_ENDPOINT_ENV, loadTracingSdk, startTracingFromEnv } from './telemetry/tracing-sdk.js';
export type { LoadTracingSdk, StartTracingOptions, TracingSdkModules } from './telemetry/tracing-sdk.js';
