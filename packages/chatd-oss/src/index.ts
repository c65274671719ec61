export { ChatdError, isChatdError } from './chatd-error.js';
export type { ChatdErrorCode, ChatdErrorOptions } from './chatd-error.js';
export { RELAY_SOURCE_HEADER } from './relay-source-header.js';
export type {
  ChatMessage,
  ChatMessagePart,
  ChatMessageUsage,
  ChatQueuedMessage,
  ChatStreamEvent,
  ChatStreamEventType,
  ChatStreamMessagePart,
  DiscontinuityReason,
} from './stream-event.js';
export type { StatusNotification, SubscribeFn, SubscribeFnLogger, SubscribeFnParams, SubscribeFnStore } from './subscribe-fn.js';

// Store, identities, migrations, configuration, composition root and CLI (issue 6, part 1).
export { CHATD_MIGRATION_SOURCE, MIGRATIONS_KEY, MIGRATION_LOCK_KEY, createMigrationSource, findMigrationDir, loadMigrationDir, migrate, migrationsKey } from './migrate.js';
export type { MigrateResult, Migration, MigrationSource } from './migrate.js';
export {
  DEFAULT_CHAT_TITLE,
  INT64_MAX,
  MAX_INPUT_CONTENT_BYTES,
  MAX_PERSISTED_CONTENT_BYTES,
  TITLE_MAX_CODE_POINTS,
  TITLE_MAX_WORDS,
  assertContentSize,
  isUuid,
  parseInt64,
  parseMessageId,
  requireUuid,
  titleFromText,
  validateInputContent,
} from './store/chat-input.js';
export type { ChatInputPart } from './store/chat-input.js';
export { toChat, toMessage, toQueued } from './store/chat-rows.js';
export type { MessageVisibility } from './store/chat-rows.js';
export type { RunOutcome } from './store/chat-tx.js';
export {
  DEFAULT_MAX_CHATS_PER_ACQUIRE,
  DEFAULT_MAX_QUEUE_SIZE,
  DEFAULT_PAGE_LIMIT,
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
  ModelHistoryMessage,
  PersistMessageInput,
  SendMessageInput,
  SendMessageResult,
  StatusNotifier,
} from './store/chat-store.js';
export { DEFAULT_POOL_SIZE, createPool, inTransaction } from './store/db.js';
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
export { MAX_USER_SYSTEM_PROMPT_CHARS, TOKEN_LAST_USED_RESOLUTION_MS, createIdentityStore } from './identity/identity-store.js';
export type { ApiTokenInfo, Identity, IdentityStore, IdentityStoreOptions, Organization, User } from './identity/identity-store.js';
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
