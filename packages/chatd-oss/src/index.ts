export { ChatdError, isChatdError } from './chatd-error.js';
export type { ChatdErrorCode, ChatdErrorOptions } from './chatd-error.js';
// Wire names and parsers that live in @chatd/protocol, re-exported under their old names so imports keep working.
export { INT64_MAX as AFTER_ID_MAX, INT64_MAX, RELAY_GIVE_UP_ERROR_KIND, RELAY_SOURCE_HEADER, isUuid, parseStreamQuery } from '@chatd/protocol';
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
export type { StatusNotification, SubscribeFn, SubscribeFnLogger, SubscribeFnParams, SubscribeFnStore } from './subscribe-fn.js';

// Store, identities, migrations, configuration, composition root and CLI (issue 6, part 1).
export { CHATD_MIGRATION_SOURCE, MIGRATIONS_KEY, MIGRATION_LOCK_KEY, createMigrationSource, findMigrationDir, loadMigrationDir, migrate, migrationsKey } from './migrate.js';
export type { MigrateResult, Migration, MigrationSource } from './migrate.js';
export {
  DEFAULT_CHAT_TITLE,
  MAX_CLIENT_TYPE_CHARS,
  MAX_INPUT_CONTENT_BYTES,
  MAX_LABELS,
  MAX_LABELS_BYTES,
  MAX_LABEL_KEY_CHARS,
  MAX_LABEL_VALUE_CHARS,
  MAX_PERSISTED_CONTENT_BYTES,
  TITLE_MAX_CODE_POINTS,
  TITLE_MAX_WORDS,
  assertContentSize,
  isPrintable,
  parseInt64,
  parseMessageId,
  requireUuid,
  titleFromText,
  validateClientType,
  validateInputContent,
  validateLabels,
} from './store/chat-input.js';
export type { ChatInputPart } from './store/chat-input.js';
export { toChat, toMessage, toQueued } from './store/chat-rows.js';
export type { MessageVisibility } from './store/chat-rows.js';
export type { RunOutcome } from './store/chat-tx.js';
export {
  DEFAULT_MAX_CHATS_PER_ACQUIRE,
  DEFAULT_MAX_QUEUE_SIZE,
  DEFAULT_MESSAGES_AFTER_LIMIT,
  DEFAULT_PAGE_LIMIT,
  MAX_MESSAGES_PAGE_BYTES,
  MAX_PAGE_LIMIT,
  MAX_SYSTEM_PROMPT_CHARS,
  MAX_TITLE_CODE_POINTS,
  createChatStore,
} from './store/chat-store.js';
export type {
  AcquiredChat,
  ChatChange,
  ChatRun,
  ChatRunState,
  ChatStore,
  ChatStoreOptions,
  CreateChatInput,
  FinishRunInput,
  MessagePage,
  MessagesAfterPage,
  ModelHistoryMessage,
  PersistMessageInput,
  SendMessageInput,
  SendMessageResult,
  StatusNotifier,
} from './store/chat-store.js';
export { DEFAULT_POOL_SIZE, TRANSACTION_ATTEMPTS, createPool, inTransaction } from './store/db.js';
export { DEFAULT_COMPRESSION_THRESHOLD, createModelConfigStore } from './store/model-config-store.js';
export type {
  ChatModelConfig,
  ChatProvider,
  CreateModelConfigInput,
  CreateProviderInput,
  ModelConfigStore,
  ModelConfigStoreOptions,
  ProviderSettings,
  UpdateModelConfigInput,
} from './store/model-config-store.js';
export { createConfigCache } from './store/config-cache.js';
export type { ConfigCache, ConfigCacheOptions } from './store/config-cache.js';
export { DEFAULT_MODEL_CONFIG_LOCK_KEY, ensureDefaultModelConfig } from './store/default-model-config.js';
export { API_TOKEN_PREFIX, generateApiToken, hashApiToken, isApiTokenShape } from './identity/api-token.js';
export {
  DEFAULT_CONSOLE_SESSION_TTL_MS,
  DEFAULT_NEGATIVE_TOKEN_CACHE_MS,
  DEFAULT_NEGATIVE_TOKEN_CACHE_SIZE,
  MAX_USER_SYSTEM_PROMPT_CHARS,
  SESSION_EXTEND_RESOLUTION_MS,
  TOKEN_LAST_USED_RESOLUTION_MS,
  createIdentityStore,
} from './identity/identity-store.js';
export type { ApiTokenInfo, ConsoleSession, Identity, IdentityStore, IdentityStoreOptions, Organization, TokenKind, User } from './identity/identity-store.js';
export {
  CONFIG_ENV,
  DEFAULT_ACQUIRE_INTERVAL_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MODEL_CONTEXT_LIMIT,
  DEFAULT_MODEL_NAME,
  DEFAULT_MODEL_PROVIDER,
  DEFAULT_STALE_AFTER_MS,
  loadConfig,
  requireDatabaseUrl,
} from './config.js';
export type { ChatdConfig, ConfigFlags, DefaultModelSettings } from './config.js';
export { createChatd } from './create-chatd.js';
export type { Chatd, CreateChatdOptions } from './create-chatd.js';
export { CHATD_COMMANDS, EXIT_FAILURE, EXIT_USAGE, runCli } from './cli/run-cli.js';
export { UsageError, parseCommandArgs } from './cli/cli-args.js';
export type { CliCommand, CliIo, FlagSpec } from './cli/cli-args.js';

// Model providers (issue 6).
export { messageText, toChatMessageUsage } from './model/model-provider.js';
export type { ModelFinishReason, ModelMessage, ModelProvider, ModelRequest, ModelRequestConfig, ModelStreamEvent, ModelStreamEventType, ModelUsage } from './model/model-provider.js';
export { INTERNAL_ERROR_MESSAGE, internalErrorPayload, isRetryableModelErrorCode, MODEL_ERROR_KINDS, ModelProviderError, toChatStreamError } from './model/model-error.js';
export type { ModelProviderErrorCode, ModelProviderErrorOptions } from './model/model-error.js';
export { CLASSIFIED_ERROR_MESSAGES, classifyHttpFailure, classifyModelError, classifyModelErrorText } from './model/classify-model-error.js';
export type { HttpFailure } from './model/classify-model-error.js';
export { parseRetryAfterMs, retryAfterFromHeaders } from './model/retry-after.js';
export {
  createDemoModelProvider,
  DEFAULT_DEMO_REPLY_TOKENS,
  DEFAULT_DEMO_TOKENS_PER_SECOND,
  DEMO_MODEL,
  DEMO_PROVIDER,
  DEMO_TOKEN_TIMER_TAG,
  demoModelOptionsFromEnv,
  demoReplyTokens,
} from './model/demo-model-provider.js';
export type { DemoModelOptions, DemoModelProviderOptions } from './model/demo-model-provider.js';
export {
  createOpenAiCompatibleProvider,
  DEFAULT_MODEL_IDLE_TIMEOUT_MS,
  MAX_MODEL_ERROR_BODY_BYTES,
  OPENAI_COMPATIBLE_PROVIDER,
  OPENAI_IDLE_TIMER_TAG,
} from './model/openai-compatible-provider.js';
export type { OpenAiCompatibleProviderOptions } from './model/openai-compatible-provider.js';
export { DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL, modelConfigFromEnv } from './model/model-config.js';
export type { DemoModelConfig, ModelProviderConfig, OpenAiCompatibleModelConfig } from './model/model-config.js';
export { createModelProvider } from './model/create-model-provider.js';
export type { ModelProviderDeps } from './model/create-model-provider.js';

// Worker and publishing (issue 7).
export { ACQUIRE_TIMER_TAG, HEARTBEAT_TIMER_TAG, STALE_RECOVERY_TIMER_TAG, createChatWorker } from './worker/chat-worker.js';
export type { ActiveRunInfo, ChatWorker, ChatWorkerOptions } from './worker/chat-worker.js';
export { RETRY_BACKOFF_TIMER_TAG } from './worker/chat-run.js';
export type { ChatRunOutcome, ChatRunResult, ModelResolver, RunCancelReason } from './worker/chat-run.js';
export { RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS, retryDelayMs } from './worker/retry-backoff.js';
export { STALE_RECOVERY_DIVISOR, workerConfigFromEnv } from './worker/worker-config.js';
export type { WorkerEnvConfig } from './worker/worker-config.js';
export { NOOP_CHAT_LOGGER } from './publish/chat-logger.js';
export type { ChatLogger } from './publish/chat-logger.js';
export { createChatPublisher, isHandOverToQueue } from './publish/chat-publisher.js';
export type { ChatPublisher, ChatPublisherOptions, PublishChangeOptions } from './publish/chat-publisher.js';
export { CHAT_RUN_FAILED_TEMPLATE_ID, CHAT_RUN_FINISHED_TEMPLATE_ID, buildRunInboxNotification } from './publish/inbox-notification.js';
export type { RunNotificationKind } from './publish/inbox-notification.js';

// Live buffers and subscribe (issue 8).
export { DEFAULT_MAX_PARTS_PER_RUN, createLiveStreams } from './live/live-buffer.js';
export type { LiveListener, LivePart, LiveSignal, LiveSnapshot, LiveStreams, LiveStreamsOptions, RunWriter } from './live/live-buffer.js';
export { PUBSUB_RETRY_MAX_MS, PUBSUB_RETRY_MIN_MS, createChatSubscriber } from './subscribe/chat-subscriber.js';
export type { ChatSubscriber, ChatSubscriberOptions, OutEvent, StreamSink, SubscribeOptions, Subscription, SubscriberMetrics, SubscriberStore } from './subscribe/chat-subscriber.js';
export { createPushIterable } from './subscribe/push-iterable.js';
export type { PushIterable } from './subscribe/push-iterable.js';

// HTTP/WebSocket server and `chatd serve` (issue 9).
export { SESSION_COOKIE, SESSION_HEADER, authenticate, nodeHeaderGetter } from './server/auth.js';
export { DEFAULT_AUTH_FAILURES_PER_MINUTE, DEFAULT_AUTH_FAILURE_BURST, DEFAULT_AUTH_MAX_TRACKED_CLIENTS, createAuthGuard } from './server/auth-guard.js';
export type { AuthGuard, AuthGuardOptions } from './server/auth-guard.js';
export { NO_TRUSTED_PROXIES, clientAddress, normalizeAddress, parseTrustedProxies, requestScheme } from './server/client-address.js';
export type { TrustedProxies } from './server/client-address.js';
export { DEFAULT_TOKEN_RECHECK_CACHE_MS, TOKEN_REVOKED_CLOSE_CODE, TOKEN_REVOKED_CLOSE_REASON, createTokenRevocation } from './server/token-revocation.js';
export type { TokenRevocation, TokenRevocationOptions } from './server/token-revocation.js';
export { checkCookieRequest, expectedOrigin, hasSessionCookie, isRawBodyRoute } from './console/cookie-origin.js';
export type { CookieOriginPolicy } from './console/cookie-origin.js';
export { NOT_FOUND_MESSAGE, errorResponse, validationError } from './server/error-response.js';
export type { ErrorBody } from './server/error-response.js';
export { MAX_BODY_BYTES, readJsonBody, sendEmpty, sendJson } from './server/http-io.js';
export { METRIC_HELP, createServerMetrics } from './server/server-metrics.js';
export type { MetricName, ServerMetrics } from './server/server-metrics.js';
export {
  CLOSE_TOO_SLOW,
  DEFAULT_COALESCE_THRESHOLD_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  MAX_EVENTS_PER_FRAME,
  createStreamSender,
} from './server/stream-sender.js';
export type { StreamSender, StreamSenderOptions } from './server/stream-sender.js';
export {
  DEFAULT_WATCH_COALESCE_THRESHOLD_BYTES,
  DEFAULT_WATCH_MAX_QUEUED_BYTES,
  WATCH_TOO_SLOW_REASON,
  chatEventFrame,
  createWatchSender,
  inboxEventFrame,
} from './server/watch-sender.js';
export type { WatchFrame, WatchSender, WatchSenderOptions } from './server/watch-sender.js';
export { INTERRUPT_WAIT_TIMEOUT_MS } from './server/chat-routes.js';
export { CHATS_BASE_PATH, DEFAULT_DB_PROBE_INTERVAL_MS, DEFAULT_PING_INTERVAL_MS, createChatServer } from './server/create-chat-server.js';
export type { ChatServer, ChatServerOptions, ExtraRoute } from './server/create-chat-server.js';
export {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_RELAY_LEGS_PER_PEER,
  DEFAULT_MAX_STREAM_SOCKETS_PER_USER,
  DEFAULT_MAX_WATCH_SOCKETS_PER_USER,
  createConnectionCaps,
} from './server/connection-caps.js';
export type { ConnectionCaps, ConnectionCapsOptions, ConnectionCounts, ConnectionOwner, ConnectionRefusal, ConnectionSlot } from './server/connection-caps.js';
export type { VerifiedReplica, VerifyReplicaCredential } from './server/replica-credential.js';
export { startChatdServer } from './server/start-chatd-server.js';
export type { RunningChatd, StartChatdServerOptions } from './server/start-chatd-server.js';
export { DEFAULT_SERVE_PORT, createServeCommand, serveCommand } from './cli/serve-command.js';
export type { ServeCommandOptions, ServeContext } from './cli/serve-command.js';

// TypeScript client (issue 10): it lives in @chatd/client; re-exported under the old names so imports keep working.
export { CHATS_API_PATH, REPLY_LOOKBACK_MESSAGES, createChatClient } from '@chatd/client';
export type {
  ChatClient,
  ChatClientOptions,
  ChatContent,
  ChatMessagesPage,
  ChatReply,
  CreateChatOptions,
  ListChatsOptions,
  ListMessagesOptions,
  PostMessageOptions,
  PostMessageResult,
  ReplyTextOptions,
} from '@chatd/client';
export { MAX_STREAM_FRAME_BYTES, RECONNECT_TIMER_TAG, openChatStream } from '@chatd/client';
export type { ChatStreamDeps, ChatStreamOptions, StreamConnectionEnd, WebSocketClass } from '@chatd/client';
export { DEFAULT_RECONNECT_MAX_DELAY_MS, DEFAULT_RECONNECT_MIN_DELAY_MS, reconnectDelayMs } from '@chatd/client';
export type { ReconnectBackoffOptions } from '@chatd/client';

// Terminal client commands (issue 14).
export { CLUSTER_FILE, createChatCommand, createLsCommand, createSendCommand, createWatchCommand, findClusterFile } from './cli/client-commands.js';
export type { ClientCommandDeps, ClusterFile } from './cli/client-commands.js';

// Git diff status (issue 13).
export {
  DIFF_STATUS_REFRESH_TIMEOUT_MS,
  DIFF_STATUS_REFRESH_TIMER_TAG,
  GITSYNC_ENV,
  createChatGitSync,
  emptyChatDiffStatus,
  refreshesPerMinuteFromEnv,
} from './gitsync/chat-git-sync.js';
export type { ChatGitSync, ChatGitSyncMetrics, ChatGitSyncOptions, GitRef } from './gitsync/chat-git-sync.js';
export { DEFAULT_GITSYNC_REFRESHES_PER_MINUTE, REFRESH_LIMITER_MAX_USERS, createRefreshLimiter } from './gitsync/refresh-limiter.js';
export type { RefreshAllowance, RefreshLimiter, RefreshLimiterOptions } from './gitsync/refresh-limiter.js';
export { createPgDiffStatusStore } from './gitsync/pg-diff-status-store.js';
export type { PgDiffStatusStore, PgDiffStatusStoreOptions } from './gitsync/pg-diff-status-store.js';
export { MAX_GIT_BRANCH_CHARS, MAX_GIT_ORIGIN_CHARS, createGitRoutes, gitRefBodySchema } from './server/git-routes.js';
export type { GitRoutesDeps } from './server/git-routes.js';

// Worker extras (issue 7).
export { SAVE_RETRY_DELAYS_MS, SAVE_RETRY_TIMER_TAG } from './worker/chat-run.js';
export type { ChatWorkerMetrics } from './worker/chat-worker.js';
export { MAX_CACHED_MODEL_PROVIDERS, OPENAI_PROVIDER_NAME, createModelConfigResolver } from './worker/model-config-resolver.js';
export type { ModelConfigResolverOptions } from './worker/model-config-resolver.js';
export { createTransactionalStatusNotifier } from './publish/status-notifier.js';
export { CHAT_NOTIFICATION_ICON, MAX_REASON_CHARS } from './publish/inbox-notification.js';
export { createMigrateCommand, migrateCommand } from './cli/migrate-command.js';
export type { MigrateCommandOptions } from './cli/migrate-command.js';
export { MAX_BUFFERED_FRAMES } from '@chatd/client';
export { UNAVAILABLE_CODE, errorCodeForStatus, errorFromResponse, isRetryableStatus } from '@chatd/client';
export { REMEMBERED_RUNS, createStreamCursor, toAfterId } from '@chatd/client';
export type { StreamCursor, StreamPosition } from '@chatd/client';
export { MAX_COALESCED_PART_BYTES, MAX_FRAME_BYTES } from './server/stream-sender.js';
export { MESSAGES_PAGE_SIZE } from './subscribe/chat-subscriber.js';
