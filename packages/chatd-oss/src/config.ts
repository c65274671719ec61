// chatd's configuration from flags and the environment (contract.md#timings): every knob has a named
// default, an environment variable and an option of `createChatd`. Flags win over the environment.
// Parsing only: nothing here connects anywhere. A bad or missing value is a ChatdError CONFIG.
import { ChatdError } from './chatd-error.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_RELAY_LEGS_PER_PEER,
  DEFAULT_MAX_STREAM_SOCKETS_PER_USER,
  DEFAULT_MAX_WATCH_SOCKETS_PER_USER,
} from './server/connection-caps.js';
import { DEFAULT_MAX_CHATS_PER_ACQUIRE, DEFAULT_MAX_QUEUE_SIZE } from './store/chat-store.js';
import { DEFAULT_CONSOLE_SESSION_TTL_MS } from './identity/identity-store.js';
import { DEFAULT_AUTH_FAILURES_PER_MINUTE, DEFAULT_AUTH_FAILURE_BURST } from './server/auth-guard.js';
import { parseTrustedProxies } from './server/client-address.js';

/** How often a worker looks for pending chats. @default 1000 */
export const DEFAULT_ACQUIRE_INTERVAL_MS = 1000;
/** How often a worker refreshes its runs' heartbeats. @default 30000 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
/** A run whose heartbeat is older than this is lost and its chat handed back. @default 300000 */
export const DEFAULT_STALE_AFTER_MS = 300_000;
/** Provider of the model configuration created when the database has none. @default 'demo' */
export const DEFAULT_MODEL_PROVIDER = 'demo';
/** Model of that configuration. @default 'demo' */
export const DEFAULT_MODEL_NAME = 'demo';
/** Context limit of that configuration, in tokens. @default 128000 */
export const DEFAULT_MODEL_CONTEXT_LIMIT = 128_000;

/** The model configuration `ensureDefaultModelConfig` creates in an empty database. */
export type DefaultModelSettings = {
  provider: string;
  model: string;
  baseUrl: string | null;
  apiKey: string | null;
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
  maxQueueSize: number;
  maxChatsPerAcquire: number;
  /** Stream sockets one user may hold on this replica (`CHATD_MAX_STREAM_SOCKETS_PER_USER`). @default 64 */
  maxStreamSocketsPerUser: number;
  /** Watch sockets one user may hold on this replica (`CHATD_MAX_WATCH_SOCKETS_PER_USER`). @default 64 */
  maxWatchSocketsPerUser: number;
  /** Sockets of every kind this replica holds (`CHATD_MAX_CONNECTIONS`). @default 10000 */
  maxConnections: number;
  /** Relay legs one peer replica may hold here (`CHATD_MAX_RELAY_LEGS_PER_PEER`). @default 4096 */
  maxRelayLegsPerPeer: number;
  /** Whether this replica generates (`CHATD_WORKER=0` / `--no-worker` makes an API-only replica). */
  worker: boolean;
  /** pino level (`CHATD_LOG_LEVEL`). @default 'info' */
  logLevel: string;
  defaultModel: DefaultModelSettings;
  /** How long a console sign-in lasts after its last use (`CHATD_CONSOLE_SESSION_TTL_MS`). @default 43200000 (12 h) */
  consoleSessionTtlMs: number;
  /**
   * The origin browsers reach the server at (`CHATD_PUBLIC_URL`, e.g. `https://chat.example.com`): cookie
   * writes and upgrades must come from it. @default '' (each request's own scheme and Host)
   */
  publicUrl: string;
  /** Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (`CHATD_TRUSTED_PROXIES`, comma-separated IPs/CIDRs). @default [] */
  trustedProxies: string[];
  /** Failed authentications one client may make in a burst (`CHATD_AUTH_FAILURE_BURST`). @default 20 */
  authFailureBurst: number;
  /** Failed authentications a client regains per minute (`CHATD_AUTH_FAILURES_PER_MINUTE`). @default 60 */
  authFailuresPerMinute: number;
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
  maxQueueSize: 'CHATD_MAX_QUEUE_SIZE',
  maxChatsPerAcquire: 'CHATD_MAX_CHATS_PER_ACQUIRE',
  maxStreamSocketsPerUser: 'CHATD_MAX_STREAM_SOCKETS_PER_USER',
  maxWatchSocketsPerUser: 'CHATD_MAX_WATCH_SOCKETS_PER_USER',
  maxConnections: 'CHATD_MAX_CONNECTIONS',
  maxRelayLegsPerPeer: 'CHATD_MAX_RELAY_LEGS_PER_PEER',
  worker: 'CHATD_WORKER',
  logLevel: 'CHATD_LOG_LEVEL',
  modelProvider: 'CHATD_MODEL_PROVIDER',
  modelName: 'CHATD_MODEL',
  modelBaseUrl: 'CHATD_MODEL_BASE_URL',
  modelApiKey: 'CHATD_MODEL_API_KEY',
  modelContextLimit: 'CHATD_MODEL_CONTEXT_LIMIT',
  consoleSessionTtlMs: 'CHATD_CONSOLE_SESSION_TTL_MS',
  publicUrl: 'CHATD_PUBLIC_URL',
  trustedProxies: 'CHATD_TRUSTED_PROXIES',
  authFailureBurst: 'CHATD_AUTH_FAILURE_BURST',
  authFailuresPerMinute: 'CHATD_AUTH_FAILURES_PER_MINUTE',
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

/** Builds the configuration from `env` and `flags`. Throws ChatdError CONFIG. */
export function loadConfig(env: Record<string, string | undefined>, flags: ConfigFlags = {}): ChatdConfig {
  // OPENAI_BASE_URL / OPENAI_API_KEY select an OpenAI-compatible default model (the variables);
  // the CHATD_MODEL_* variables override them for other providers.
  const openAiBaseUrl = env.OPENAI_BASE_URL || null;
  const openAiKey = env.OPENAI_API_KEY || null;
  const fromOpenAiVars = !env[CONFIG_ENV.modelProvider] && Boolean(openAiBaseUrl || openAiKey);
  const provider = env[CONFIG_ENV.modelProvider] || (fromOpenAiVars ? 'openai-compatible' : DEFAULT_MODEL_PROVIDER);
  const isDemo = provider === DEFAULT_MODEL_PROVIDER;
  const logLevel = flags.logLevel ?? (env[CONFIG_ENV.logLevel] || 'info');
  if (!LOG_LEVELS.has(logLevel)) throw new ChatdError('CONFIG', `${CONFIG_ENV.logLevel} must be one of ${[...LOG_LEVELS].join(', ')}`);
  return {
    databaseUrl:
      flags.allowMissingDatabaseUrl && !(flags.databaseUrl ?? env[CONFIG_ENV.databaseUrl]) ? '' : requireDatabaseUrl(env, flags.databaseUrl),
    acquireIntervalMs: positiveInt(env, CONFIG_ENV.acquireIntervalMs, DEFAULT_ACQUIRE_INTERVAL_MS),
    heartbeatIntervalMs: positiveInt(env, CONFIG_ENV.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS),
    staleAfterMs: positiveInt(env, CONFIG_ENV.staleAfterMs, DEFAULT_STALE_AFTER_MS),
    maxQueueSize: positiveInt(env, CONFIG_ENV.maxQueueSize, DEFAULT_MAX_QUEUE_SIZE),
    maxChatsPerAcquire: positiveInt(env, CONFIG_ENV.maxChatsPerAcquire, DEFAULT_MAX_CHATS_PER_ACQUIRE),
    maxStreamSocketsPerUser: positiveInt(env, CONFIG_ENV.maxStreamSocketsPerUser, DEFAULT_MAX_STREAM_SOCKETS_PER_USER),
    maxWatchSocketsPerUser: positiveInt(env, CONFIG_ENV.maxWatchSocketsPerUser, DEFAULT_MAX_WATCH_SOCKETS_PER_USER),
    maxConnections: positiveInt(env, CONFIG_ENV.maxConnections, DEFAULT_MAX_CONNECTIONS),
    maxRelayLegsPerPeer: positiveInt(env, CONFIG_ENV.maxRelayLegsPerPeer, DEFAULT_MAX_RELAY_LEGS_PER_PEER),
    worker: flags.worker ?? bool(env, CONFIG_ENV.worker, true),
    logLevel,
    defaultModel: {
      provider,
      model: env[CONFIG_ENV.modelName] || (isDemo ? DEFAULT_MODEL_NAME : fromOpenAiVars ? 'gpt-4o-mini' : ''),
      baseUrl: env[CONFIG_ENV.modelBaseUrl] || openAiBaseUrl || (fromOpenAiVars ? 'https://api.openai.com/v1' : null),
      apiKey: env[CONFIG_ENV.modelApiKey] || openAiKey,
      contextLimit: positiveInt(env, CONFIG_ENV.modelContextLimit, DEFAULT_MODEL_CONTEXT_LIMIT),
      displayName: env[CONFIG_ENV.modelName] || (isDemo ? 'Demo' : provider),
    },
    consoleSessionTtlMs: positiveInt(env, CONFIG_ENV.consoleSessionTtlMs, DEFAULT_CONSOLE_SESSION_TTL_MS),
    publicUrl: publicUrl(env),
    // Parsed here so that a typo fails at start, not at the first request.
    trustedProxies: [...parseTrustedProxies(env[CONFIG_ENV.trustedProxies] ?? '').entries],
    authFailureBurst: positiveInt(env, CONFIG_ENV.authFailureBurst, DEFAULT_AUTH_FAILURE_BURST),
    authFailuresPerMinute: positiveInt(env, CONFIG_ENV.authFailuresPerMinute, DEFAULT_AUTH_FAILURES_PER_MINUTE),
  };
}
