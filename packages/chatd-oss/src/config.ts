// chatd's configuration from flags and the environment (contract.md#timings): every knob has a named
// default, an environment variable and an option of `createChatd`. Flags win over the environment.
// Parsing only: nothing here connects anywhere. A bad or missing value is a ChatdError CONFIG.
import { parseCorsOrigins } from './server/cors.js';
import { ChatdError } from './chatd-error.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_RELAY_LEGS_PER_PEER,
  DEFAULT_MAX_STREAM_SOCKETS_PER_USER,
  DEFAULT_MAX_WATCH_SOCKETS_PER_USER,
} from './server/connection-caps.js';
import { DEFAULT_LISTEN_BACKLOG } from './server/listen-backlog.js';
import { DEFAULT_MAX_CHATS_PER_ACQUIRE, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_MAX_RUNNING_PER_USER } from './store/chat-store.js';
import { DEFAULT_WRITE_BURST, DEFAULT_WRITE_RATE_PER_MINUTE } from './cost/write-limiter.js';
import { DEFAULT_CONSOLE_SESSION_TTL_MS, DEFAULT_TOKEN_CACHE_MS } from './identity/identity-store.js';
import { DEFAULT_AUTH_FAILURES_PER_MINUTE, DEFAULT_AUTH_FAILURE_BURST } from './server/auth-guard.js';
import { parseTrustedProxies } from './server/client-address.js';
import { PROVIDER_KINDS, type ProviderKind } from './model/model-settings.js';
import { OPENAI_COMPAT_ALIAS, providerKindOfName } from './store/model-config-input.js';

/** How often a worker looks for pending chats. @default 1000 */
export const DEFAULT_ACQUIRE_INTERVAL_MS = 1000;
/** How often a worker refreshes its runs' heartbeats. @default 30000 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
/** A run whose heartbeat is older than this is lost and its chat handed back. @default 300000 */
export const DEFAULT_STALE_AFTER_MS = 300_000;
/** How long an uploaded file no message references is kept (`CHATD_FILE_RETENTION_MS`, contract.md#files). @default 86400000 (24 h) */
export const DEFAULT_FILE_RETENTION_MS = 24 * 60 * 60 * 1000;
export { DEFAULT_SYNC_INTERVAL_MS } from './subscribe/sync-safety-net.js';
import { DEFAULT_SYNC_INTERVAL_MS } from './subscribe/sync-safety-net.js';
/** Whether the demo server tools are registered when `CHATD_DEMO_TOOLS` is unset. @default false */
export const DEFAULT_DEMO_TOOLS = false;
/** Model steps one turn takes at most (contract.md#steps); past it the turn ends with an `error` of kind `step_limit`. @default 20 */
export const DEFAULT_MAX_STEPS = 20;
export { DEFAULT_REQUIRES_ACTION_TIMEOUT_MS } from './tools/client-tools.js';
import { DEFAULT_REQUIRES_ACTION_TIMEOUT_MS } from './tools/client-tools.js';
/** Provider of the model configuration created when the database has none. @default 'demo' */
export const DEFAULT_MODEL_PROVIDER = 'demo';
/** Model of that configuration. @default 'demo' */
export const DEFAULT_MODEL_NAME = 'demo';
/** Context limit of that configuration, in tokens. @default 128000 */
export const DEFAULT_MODEL_CONTEXT_LIMIT = 128_000;
/** Provider name and kind made from OPENAI_BASE_URL / OPENAI_API_KEY (chat completions). @default 'openai-compatible' */
export const OPENAI_ENV_PROVIDER = 'openai-compatible';
/** API root used when OPENAI_API_KEY is set without OPENAI_BASE_URL. @default 'https://api.openai.com/v1' */
export const DEFAULT_OPENAI_ENV_BASE_URL = 'https://api.openai.com/v1';
/** Model used with the OPENAI_* variables when CHATD_MODEL is unset. @default 'gpt-4o-mini' */
export const DEFAULT_OPENAI_ENV_MODEL = 'gpt-4o-mini';
/** Provider name and kind made from ANTHROPIC_API_KEY. @default 'anthropic' */
export const ANTHROPIC_ENV_PROVIDER = 'anthropic';
/** Model used with ANTHROPIC_API_KEY when CHATD_MODEL is unset. @default 'claude-sonnet-4-5' */
export const DEFAULT_ANTHROPIC_ENV_MODEL = 'claude-sonnet-4-5';

/** The model configuration `ensureDefaultModelConfig` creates in an empty database. */
export type DefaultModelSettings = {
  provider: string;
  /** @default the kind the provider name implies (demo, anthropic, else openai-compatible) */
  kind?: ProviderKind;
  model: string;
  baseUrl: string | null;
  /** A key to store in the database; keys from the environment are referenced by `apiKeyEnv` instead. */
  apiKey: string | null;
  /** The environment variable every replica reads the key from (never copied into the database). */
  apiKeyEnv?: string | null;
  contextLimit: number;
  displayName: string;
};

/** chatd's settings. */
export type ChatdConfig = {
  /** PostgreSQL URL (`DATABASE_URL`). */
  databaseUrl: string;
  acquireIntervalMs: number;
  heartbeatIntervalMs: number;
  staleAfterMs: number;
  /** Unreferenced uploads are deleted this long after upload (`CHATD_FILE_RETENTION_MS`). @default DEFAULT_FILE_RETENTION_MS */
  fileRetentionMs: number;
  maxQueueSize: number;
  maxChatsPerAcquire: number;
  /** Model steps per turn (`CHATD_MAX_STEPS`). @default DEFAULT_MAX_STEPS */
  maxSteps: number;
  /** How long a chat waits for client tool results (`CHATD_REQUIRES_ACTION_TIMEOUT_MS`). @default DEFAULT_REQUIRES_ACTION_TIMEOUT_MS */
  requiresActionTimeoutMs: number;
  /** Stream sockets one user may hold on this replica (`CHATD_MAX_STREAM_SOCKETS_PER_USER`). @default 64 */
  maxStreamSocketsPerUser: number;
  /** Watch sockets one user may hold on this replica (`CHATD_MAX_WATCH_SOCKETS_PER_USER`). @default 64 */
  maxWatchSocketsPerUser: number;
  /** Sockets of every kind this replica holds (`CHATD_MAX_CONNECTIONS`). @default 10000 */
  maxConnections: number;
  /** Relay legs one peer replica may hold here (`CHATD_MAX_RELAY_LEGS_PER_PEER`). @default 4096 */
  maxRelayLegsPerPeer: number;
  /** Accept backlog of the listening socket (`CHATD_LISTEN_BACKLOG`; the kernel caps it at net.core.somaxconn). @default DEFAULT_LISTEN_BACKLOG */
  listenBacklog: number;
  /** Whether this replica generates (`CHATD_WORKER=0` / `--no-worker` makes an API-only replica). */
  worker: boolean;
  /** How often the sync safety net asks which followed chats have missed messages (`CHATD_SYNC_INTERVAL_MS`). @default DEFAULT_SYNC_INTERVAL_MS */
  syncIntervalMs: number;
  /** pino level (`CHATD_LOG_LEVEL`). @default 'info' */
  logLevel: string;
  defaultModel: DefaultModelSettings;
  /** How long a console sign-in lasts after its last use (`CHATD_CONSOLE_SESSION_TTL_MS`). @default 43200000 (12 h) */
  consoleSessionTtlMs: number;
  /**
   * How long a verified session token is reused without a database look-up (`CHATD_TOKEN_CACHE_MS`; 0: never).
   * Revocation drops it (identity-store.ts). @default 1000
   */
  tokenCacheMs: number;
  /**
   * The origin browsers reach the server at (`CHATD_PUBLIC_URL`, e.g. `https://chat.example.com`): cookie
   * writes and upgrades must come from it. @default '' (each request's own scheme and Host)
   */
  publicUrl: string;
  /** Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (`CHATD_TRUSTED_PROXIES`, comma-separated IPs/CIDRs). @default [] */
  trustedProxies: string[];
  /** Origins whose pages may call the API with a token (`CHATD_CORS_ORIGINS`, comma-separated; contract.md#cors). @default none */
  corsOrigins?: string[];
  /** Failed authentications one client may make in a burst (`CHATD_AUTH_FAILURE_BURST`). @default 20 */
  authFailureBurst: number;
  /** Failed authentications a client regains per minute (`CHATD_AUTH_FAILURES_PER_MINUTE`). @default 60 */
  authFailuresPerMinute: number;
  /** Register the demo server tools `get_time` and `add` (`CHATD_DEMO_TOOLS=1`; `npm start` sets it). @default false */
  demoTools: boolean;
  /** Chats of one user generating at once across the cluster (`CHATD_MAX_RUNNING_PER_USER`). @default 5 */
  maxRunningPerUser: number;
  /** Writes one user may make per minute on a replica (`CHATD_WRITE_RATE_PER_MINUTE`). @default 60 */
  writeRatePerMinute: number;
  /** Writes one user may make at once from a full bucket (`CHATD_WRITE_BURST`). @default 20 */
  writeBurst: number;
};

/** Flag values that override the environment (as parsed by the CLI). */
export type ConfigFlags = {
  databaseUrl?: string;
  worker?: boolean;
  logLevel?: string;
  /** Leave `databaseUrl` empty instead of failing when none is set (the caller brings its own pool and pubsub). */
  allowMissingDatabaseUrl?: boolean;
};

/** Environment variables read by `loadConfig`. */
export const CONFIG_ENV = {
  databaseUrl: 'DATABASE_URL',
  acquireIntervalMs: 'CHATD_ACQUIRE_INTERVAL_MS',
  heartbeatIntervalMs: 'CHATD_HEARTBEAT_INTERVAL_MS',
  staleAfterMs: 'CHATD_STALE_AFTER_MS',
  fileRetentionMs: 'CHATD_FILE_RETENTION_MS',
  maxQueueSize: 'CHATD_MAX_QUEUE_SIZE',
  maxRunningPerUser: 'CHATD_MAX_RUNNING_PER_USER',
  writeRatePerMinute: 'CHATD_WRITE_RATE_PER_MINUTE',
  writeBurst: 'CHATD_WRITE_BURST',
  maxChatsPerAcquire: 'CHATD_MAX_CHATS_PER_ACQUIRE',
  maxSteps: 'CHATD_MAX_STEPS',
  requiresActionTimeoutMs: 'CHATD_REQUIRES_ACTION_TIMEOUT_MS',
  maxStreamSocketsPerUser: 'CHATD_MAX_STREAM_SOCKETS_PER_USER',
  maxWatchSocketsPerUser: 'CHATD_MAX_WATCH_SOCKETS_PER_USER',
  maxConnections: 'CHATD_MAX_CONNECTIONS',
  maxRelayLegsPerPeer: 'CHATD_MAX_RELAY_LEGS_PER_PEER',
  listenBacklog: 'CHATD_LISTEN_BACKLOG',
  worker: 'CHATD_WORKER',
  syncIntervalMs: 'CHATD_SYNC_INTERVAL_MS',
  logLevel: 'CHATD_LOG_LEVEL',
  modelProvider: 'CHATD_MODEL_PROVIDER',
  modelKind: 'CHATD_MODEL_KIND',
  modelName: 'CHATD_MODEL',
  modelBaseUrl: 'CHATD_MODEL_BASE_URL',
  modelApiKey: 'CHATD_MODEL_API_KEY',
  modelContextLimit: 'CHATD_MODEL_CONTEXT_LIMIT',
  consoleSessionTtlMs: 'CHATD_CONSOLE_SESSION_TTL_MS',
  tokenCacheMs: 'CHATD_TOKEN_CACHE_MS',
  publicUrl: 'CHATD_PUBLIC_URL',
  trustedProxies: 'CHATD_TRUSTED_PROXIES',
  corsOrigins: 'CHATD_CORS_ORIGINS',
  authFailureBurst: 'CHATD_AUTH_FAILURE_BURST',
  authFailuresPerMinute: 'CHATD_AUTH_FAILURES_PER_MINUTE',
  demoTools: 'CHATD_DEMO_TOOLS',
} as const;

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(Number(raw)) || Number(raw) <= 0) {
    throw new ChatdError('CONFIG', `${name} must be a positive integer, got "${raw}"`);
  }
  return Number(raw);
}

function nonNegativeInt(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new ChatdError('CONFIG', `${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

function bool(env: Record<string, string | undefined>, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ChatdError('CONFIG', `${name} must be a boolean (1/0, true/false), got "${raw}"`);
}

/** `CHATD_PUBLIC_URL` as an origin (`scheme://host[:port]`), or '' when unset. Throws CONFIG for anything but an http(s) URL without a path. */
function publicUrl(env: Record<string, string | undefined>): string {
  const raw = env[CONFIG_ENV.publicUrl]?.trim();
  if (!raw) return '';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ChatdError('CONFIG', `${CONFIG_ENV.publicUrl} must be an http(s) URL, got "${raw}"`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) {
    throw new ChatdError('CONFIG', `${CONFIG_ENV.publicUrl} must be an origin such as https://chat.example.com (scheme, host and port only), got "${raw}"`);
  }
  return url.origin;
}

/** Reads the database URL alone (what `chatd migrate` and `chatd token` need). Throws CONFIG when missing. */
export function requireDatabaseUrl(env: Record<string, string | undefined>, flag?: string): string {
  const url = flag ?? env[CONFIG_ENV.databaseUrl];
  if (url === undefined || url.trim() === '') {
    throw new ChatdError('CONFIG', 'DATABASE_URL is not set (set it or pass --database-url)');
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ChatdError('CONFIG', 'DATABASE_URL must be a postgres:// or postgresql:// URL');
  return url;
}

/**
 * The default model from the environment (contract.md#provider-admin): `CHATD_MODEL_PROVIDER` (with
 * `CHATD_MODEL_KIND`, `CHATD_MODEL_BASE_URL`, `CHATD_MODEL_API_KEY`) names one outright; else `OPENAI_BASE_URL` /
 * `OPENAI_API_KEY` make an `openai-compatible` (chat completions) provider; else `ANTHROPIC_API_KEY` an
 * `anthropic` one; else the demo model. `CHATD_MODEL` names the model. Keys are referenced by the name of their
 * variable (`api_key_env`), so they never land in the database and every replica reads its own.
 */
export function defaultModelFromEnv(env: Record<string, string | undefined>): DefaultModelSettings {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const named = env[CONFIG_ENV.modelProvider]?.trim() || undefined;
  const modelName = env[CONFIG_ENV.modelName]?.trim() || undefined;
  const contextLimit = positiveInt(env, CONFIG_ENV.modelContextLimit, DEFAULT_MODEL_CONTEXT_LIMIT);
  const kindRaw = env[CONFIG_ENV.modelKind]?.trim() || undefined;
  if (kindRaw !== undefined && kindRaw !== OPENAI_COMPAT_ALIAS && !(PROVIDER_KINDS as readonly string[]).includes(kindRaw)) {
    throw new ChatdError('CONFIG', `${CONFIG_ENV.modelKind} must be one of ${PROVIDER_KINDS.join(', ')}, got "${kindRaw}"`);
  }
  const openAiBaseUrl = env.OPENAI_BASE_URL?.trim() || null;
  if (named !== undefined) {
    const kind: ProviderKind = kindRaw === undefined ? providerKindOfName(named) : kindRaw === OPENAI_COMPAT_ALIAS ? 'openai-compatible' : (kindRaw as ProviderKind);
    const isDemo = named === DEFAULT_MODEL_PROVIDER;
    // The key: CHATD_MODEL_API_KEY, else the variable of the provider's own family.
    const apiKeyEnv = set(CONFIG_ENV.modelApiKey)
      ? CONFIG_ENV.modelApiKey
      : kind === 'anthropic' && set('ANTHROPIC_API_KEY')
        ? 'ANTHROPIC_API_KEY'
        : (kind === 'openai' || kind === 'openai-compatible') && set('OPENAI_API_KEY')
          ? 'OPENAI_API_KEY'
          : null;
    return {
      provider: named,
      kind,
      model: modelName ?? (isDemo ? DEFAULT_MODEL_NAME : ''),
      baseUrl: env[CONFIG_ENV.modelBaseUrl]?.trim() || (kind === 'openai-compatible' ? openAiBaseUrl : null),
      apiKey: null,
      apiKeyEnv,
      contextLimit,
      displayName: modelName ?? (isDemo ? 'Demo' : named),
    };
  }
  if (openAiBaseUrl !== null || set('OPENAI_API_KEY')) {
    const model = modelName ?? DEFAULT_OPENAI_ENV_MODEL;
    return {
      provider: OPENAI_ENV_PROVIDER,
      kind: 'openai-compatible',
      model,
      baseUrl: openAiBaseUrl ?? DEFAULT_OPENAI_ENV_BASE_URL,
      apiKey: null,
      apiKeyEnv: set('OPENAI_API_KEY') ? 'OPENAI_API_KEY' : null,
      contextLimit,
      displayName: model,
    };
  }
  if (set('ANTHROPIC_API_KEY')) {
    const model = modelName ?? DEFAULT_ANTHROPIC_ENV_MODEL;
    return {
      provider: ANTHROPIC_ENV_PROVIDER,
      kind: 'anthropic',
      model,
      baseUrl: env[CONFIG_ENV.modelBaseUrl]?.trim() || null,
      apiKey: null,
      apiKeyEnv: 'ANTHROPIC_API_KEY',
      contextLimit,
      displayName: model,
    };
  }
  return { provider: DEFAULT_MODEL_PROVIDER, kind: 'demo', model: modelName ?? DEFAULT_MODEL_NAME, baseUrl: null, apiKey: null, apiKeyEnv: null, contextLimit, displayName: modelName ?? 'Demo' };
}

/** Builds the configuration from `env` and `flags`. Throws ChatdError CONFIG. */
export function loadConfig(env: Record<string, string | undefined>, flags: ConfigFlags = {}): ChatdConfig {
  const logLevel = flags.logLevel ?? (env[CONFIG_ENV.logLevel] || 'info');
  if (!LOG_LEVELS.has(logLevel)) throw new ChatdError('CONFIG', `${CONFIG_ENV.logLevel} must be one of ${[...LOG_LEVELS].join(', ')}`);
  return {
    databaseUrl:
      flags.allowMissingDatabaseUrl && !(flags.databaseUrl ?? env[CONFIG_ENV.databaseUrl]) ? '' : requireDatabaseUrl(env, flags.databaseUrl),
    acquireIntervalMs: positiveInt(env, CONFIG_ENV.acquireIntervalMs, DEFAULT_ACQUIRE_INTERVAL_MS),
    heartbeatIntervalMs: positiveInt(env, CONFIG_ENV.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS),
    staleAfterMs: positiveInt(env, CONFIG_ENV.staleAfterMs, DEFAULT_STALE_AFTER_MS),
    fileRetentionMs: positiveInt(env, CONFIG_ENV.fileRetentionMs, DEFAULT_FILE_RETENTION_MS),
    maxQueueSize: positiveInt(env, CONFIG_ENV.maxQueueSize, DEFAULT_MAX_QUEUE_SIZE),
    maxChatsPerAcquire: positiveInt(env, CONFIG_ENV.maxChatsPerAcquire, DEFAULT_MAX_CHATS_PER_ACQUIRE),
    maxSteps: positiveInt(env, CONFIG_ENV.maxSteps, DEFAULT_MAX_STEPS),
    requiresActionTimeoutMs: positiveInt(env, CONFIG_ENV.requiresActionTimeoutMs, DEFAULT_REQUIRES_ACTION_TIMEOUT_MS),
    maxStreamSocketsPerUser: positiveInt(env, CONFIG_ENV.maxStreamSocketsPerUser, DEFAULT_MAX_STREAM_SOCKETS_PER_USER),
    maxWatchSocketsPerUser: positiveInt(env, CONFIG_ENV.maxWatchSocketsPerUser, DEFAULT_MAX_WATCH_SOCKETS_PER_USER),
    maxConnections: positiveInt(env, CONFIG_ENV.maxConnections, DEFAULT_MAX_CONNECTIONS),
    maxRelayLegsPerPeer: positiveInt(env, CONFIG_ENV.maxRelayLegsPerPeer, DEFAULT_MAX_RELAY_LEGS_PER_PEER),
    listenBacklog: positiveInt(env, CONFIG_ENV.listenBacklog, DEFAULT_LISTEN_BACKLOG),
    worker: flags.worker ?? bool(env, CONFIG_ENV.worker, true),
    syncIntervalMs: positiveInt(env, CONFIG_ENV.syncIntervalMs, DEFAULT_SYNC_INTERVAL_MS),
    logLevel,
    defaultModel: defaultModelFromEnv(env),
    consoleSessionTtlMs: positiveInt(env, CONFIG_ENV.consoleSessionTtlMs, DEFAULT_CONSOLE_SESSION_TTL_MS),
    tokenCacheMs: nonNegativeInt(env, CONFIG_ENV.tokenCacheMs, DEFAULT_TOKEN_CACHE_MS),
    publicUrl: publicUrl(env),
    // Parsed here so that a typo fails at start, not at the first request.
    trustedProxies: [...parseTrustedProxies(env[CONFIG_ENV.trustedProxies] ?? '').entries],
    corsOrigins: parseCorsOrigins(env[CONFIG_ENV.corsOrigins] ?? '', CONFIG_ENV.corsOrigins),
    authFailureBurst: positiveInt(env, CONFIG_ENV.authFailureBurst, DEFAULT_AUTH_FAILURE_BURST),
    authFailuresPerMinute: positiveInt(env, CONFIG_ENV.authFailuresPerMinute, DEFAULT_AUTH_FAILURES_PER_MINUTE),
    demoTools: bool(env, CONFIG_ENV.demoTools, DEFAULT_DEMO_TOOLS),
    maxRunningPerUser: positiveInt(env, CONFIG_ENV.maxRunningPerUser, DEFAULT_MAX_RUNNING_PER_USER),
    writeRatePerMinute: positiveInt(env, CONFIG_ENV.writeRatePerMinute, DEFAULT_WRITE_RATE_PER_MINUTE),
    writeBurst: positiveInt(env, CONFIG_ENV.writeBurst, DEFAULT_WRITE_BURST),
  };
}
