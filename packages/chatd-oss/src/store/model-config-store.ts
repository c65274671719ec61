// Model providers and model configurations in the database (contract.md#model-configs). Exactly one
// configuration is the default while any exist: the first one created becomes it, making another the
// default takes it over, deleting it hands it to the oldest remaining one. Every committed change
// publishes a `ChatConfigEvent` on `chat:config_change` so each replica drops its cache. Provider kinds,
// key variables, call options and provider options (contract.md#provider-admin) are validated here too, so the
// routes and the CLI share one set of rules; a stored API key is only ever read back by `getProviderSettings`.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import { NIL_UUID } from '@chatd/protocol';
import { CHAT_CONFIG_EVENT_CHANNEL, encodeChatConfigEvent, type ChatConfigEvent, type PubSub } from '@chatd/pubsub';
import { ChatdError } from '../chatd-error.js';
import type { ModelCallOptions, ProviderKind, ProviderOptions } from '../model/model-settings.js';
import { requireUuid } from './chat-input.js';
import {
  parseApiKeyEnv,
  parseCallOptions,
  parseProviderKind,
  parseProviderOptions,
  providerKindOfName,
  toWireCallOptions,
  type WireCallOptions,
} from './model-config-input.js';
import { inTransaction, sqlState } from './db.js';
import { parseModelPricing, type ModelPricing } from '../cost/model-pricing.js';

/** Default `compression_threshold` (percent of the context limit). @default 70 */
export const DEFAULT_COMPRESSION_THRESHOLD = 70;

/**
 * A model configuration (`ChatModelConfig`): the wire fields in snake_case plus `callOptions` and
 * `providerOptions` for the worker; `toWireModelConfig` gives what routes answer.
 */
export type ChatModelConfig = {
  id: string;
  provider: string;
  model: string;
  display_name: string;
  enabled: boolean;
  is_default: boolean;
  context_limit: number;
  compression_threshold: number;
  /** Prices per million tokens in micro-units (contract.md#cost); null: unpriced. */
  pricing: ModelPricing | null;
  created_at: string;
  updated_at: string;
  /** Call options of every call made with this configuration (a turn's `reasoning_effort` wins over its own). */
  callOptions: ModelCallOptions;
  /** Passed through to the provider call as `providerOptions`; null when none. */
  providerOptions: ProviderOptions | null;
};

/** A model configuration as routes answer it. */
export type WireModelConfig = Omit<ChatModelConfig, 'callOptions' | 'providerOptions'> & {
  call_options: WireCallOptions;
  provider_options?: ProviderOptions | null;
};

/** What routes answer for a configuration; `provider_options` only when `withProviderOptions` (admins). */
export function toWireModelConfig(config: ChatModelConfig, withProviderOptions: boolean): WireModelConfig {
  const { callOptions, providerOptions, ...rest } = config;
  return { ...rest, call_options: toWireCallOptions(callOptions), ...(withProviderOptions ? { provider_options: providerOptions } : {}) };
}

/** A provider as the API shows it: its key is never returned, only whether it has one. */
export type ChatProvider = {
  id: string;
  provider: string;
  kind: ProviderKind;
  display_name: string;
  base_url: string | null;
  /** The environment variable the key is read from on each replica (preferred over a stored key). */
  api_key_env: string | null;
  has_api_key: boolean;
  enabled: boolean;
  created_at: string;
  updated_at: string;
};

/** A provider's settings for building a model (includes the stored key; never sent to clients). */
export type ProviderSettings = {
  provider: string;
  kind: ProviderKind;
  baseUrl: string | null;
  /** The stored key, used when `apiKeyEnv` is null. */
  apiKey: string | null;
  /** Name of the environment variable holding the key; wins over `apiKey`. */
  apiKeyEnv: string | null;
  enabled: boolean;
};

/** Input of `createProvider`. `kind` defaults to the one the name implies; `openai-compat` is accepted for `openai-compatible`. */
export type CreateProviderInput = {
  provider: string;
  kind?: ProviderKind | 'openai-compat';
  displayName?: string;
  baseUrl?: string | null;
  apiKey?: string | null;
  apiKeyEnv?: string | null;
  enabled?: boolean;
};

/** Input of `createModelConfig`. */
export type CreateModelConfigInput = {
  provider: string;
  model: string;
  displayName?: string;
  enabled?: boolean;
  isDefault?: boolean;
  contextLimit: number;
  compressionThreshold?: number;
  /** Prices (contract.md#cost), already checked by `parseModelPricing`. @default null */
  pricing?: ModelPricing | null;
  /** @default {} */
  callOptions?: ModelCallOptions;
  /** @default null */
  providerOptions?: ProviderOptions | null;
};

/**
 * Changes of `updateModelConfig`; unset fields keep their value, `callOptions` and `providerOptions` replace
 * the stored ones whole. `isDefault: false` is ignored (set another default instead).
 */
export type UpdateModelConfigInput = Partial<Omit<CreateModelConfigInput, 'provider'>> & { provider?: string };

/** Providers and model configurations. Rejects with `ChatdError` on bad input, writing nothing. */
export interface ModelConfigStore {
  listProviders(): Promise<ChatProvider[]>;
  getProviderSettings(provider: string): Promise<ProviderSettings | undefined>;
  createProvider(input: CreateProviderInput): Promise<ChatProvider>;
  updateProvider(id: string, input: Partial<Omit<CreateProviderInput, 'provider'>>): Promise<ChatProvider>;
  /** Deletes a provider; CONFLICT while model configurations use it. */
  deleteProvider(id: string): Promise<void>;
  listModelConfigs(): Promise<ChatModelConfig[]>;
  getModelConfig(id: string): Promise<ChatModelConfig | undefined>;
  getDefaultModelConfig(): Promise<ChatModelConfig | undefined>;
  createModelConfig(input: CreateModelConfigInput): Promise<ChatModelConfig>;
  updateModelConfig(id: string, input: UpdateModelConfigInput): Promise<ChatModelConfig>;
  deleteModelConfig(id: string): Promise<void>;
}

/** Options of `createModelConfigStore`. */
export type ModelConfigStoreOptions = {
  pool: pg.Pool;
  clock: Clock;
  /** Where `ChatConfigEvent`s go after each commit; none in tools that run without replicas (publishing is all it needs). */
  pubsub?: Pick<PubSub, 'publish'>;
  /** Called on this replica after each committed change, before publishing (the local cache drops at once). */
  onChange?: (event: ChatConfigEvent) => void;
  /** Called when publishing an event fails (the change itself is committed). */
  onPublishError?: (err: unknown, event: ChatConfigEvent) => void;
};

type ConfigRow = {
  id: string;
  provider: string;
  model: string;
  display_name: string;
  enabled: boolean;
  is_default: boolean;
  context_limit: string;
  compression_threshold: number;
  pricing: ModelPricing | null;
  call_options: WireCallOptions;
  provider_options: ProviderOptions | null;
  created_at: Date;
  updated_at: Date;
};
type ProviderRow = {
  id: string;
  provider: string;
  kind: ProviderKind;
  display_name: string;
  base_url: string | null;
  api_key: string | null;
  api_key_env: string | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
};

const CONFIG_COLS =
  'id, provider, model, display_name, enabled, is_default, context_limit, compression_threshold, pricing, call_options, provider_options, created_at, updated_at';
const PROVIDER_COLS = 'id, provider, kind, display_name, base_url, api_key, api_key_env, enabled, created_at, updated_at';
const PROVIDER_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

const toConfig = (r: ConfigRow): ChatModelConfig => ({
  id: r.id,
  provider: r.provider,
  model: r.model,
  display_name: r.display_name,
  enabled: r.enabled,
  is_default: r.is_default,
  context_limit: Number(r.context_limit),
  compression_threshold: r.compression_threshold,
  pricing: r.pricing ?? null,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
  // Stored in the wire form; read back through the same validation, so a row edited by hand cannot hand the
  // worker a value outside the ranges.
  callOptions: parseCallOptions(r.call_options),
  providerOptions: r.provider_options,
});
const toProvider = (r: ProviderRow): ChatProvider => ({
  id: r.id,
  provider: r.provider,
  kind: r.kind,
  display_name: r.display_name,
  base_url: r.base_url,
  api_key_env: r.api_key_env,
  has_api_key: r.api_key !== null && r.api_key !== '',
  enabled: r.enabled,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

function invalid(message: string, detail?: string): ChatdError {
  return new ChatdError('INVALID_INPUT', message, detail === undefined ? undefined : { detail });
}

function checkConfigFields(input: UpdateModelConfigInput): void {
  if (input.provider !== undefined && (typeof input.provider !== 'string' || !PROVIDER_RE.test(input.provider))) throw invalid('Invalid provider.');
  if (input.model !== undefined && (typeof input.model !== 'string' || input.model.trim() === '' || input.model.length > 256)) throw invalid('Invalid model.');
  if (input.displayName !== undefined && (typeof input.displayName !== 'string' || input.displayName.length > 256)) throw invalid('Invalid display name.');
  if (input.contextLimit !== undefined && !(Number.isSafeInteger(input.contextLimit) && input.contextLimit > 0)) {
    throw invalid('Invalid context limit.', 'context_limit must be greater than 0.');
  }
  if (input.compressionThreshold !== undefined && !(Number.isInteger(input.compressionThreshold) && input.compressionThreshold >= 0 && input.compressionThreshold <= 100)) {
    throw invalid('Invalid compression threshold.', 'compression_threshold must be between 0 and 100.');
  }
}

/** Validates call options given in their camelCase form; returns the stored (wire) form. */
function storedCallOptions(options: ModelCallOptions | undefined): WireCallOptions {
  return toWireCallOptions(parseCallOptions(options === undefined ? undefined : toWireCallOptions(options)));
}

function checkApiKey(key: unknown): void {
  if (key !== undefined && key !== null && typeof key !== 'string') throw invalid('Invalid API key.', 'api_key must be a string.');
}

function checkBaseUrl(url: unknown): void {
  if (url === undefined || url === null) return;
  if (typeof url !== 'string') throw invalid('Invalid base URL.');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ChatdError('INVALID_INPUT', 'Invalid base URL.', { cause });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid('Invalid base URL.', 'base_url must be http or https.');
}

/** Creates the PostgreSQL model configuration store. */
export function createModelConfigStore(options: ModelConfigStoreOptions): ModelConfigStore {
  const { pool, clock } = options;

  async function announce(event: ChatConfigEvent): Promise<void> {
    options.onChange?.(event);
    if (!options.pubsub) return;
    try {
      await options.pubsub.publish(CHAT_CONFIG_EVENT_CHANNEL, encodeChatConfigEvent(event));
    } catch (err) {
      options.onPublishError?.(err, event);
    }
  }

  async function readConfig(q: pg.PoolClient, id: string): Promise<ConfigRow> {
    const { rows } = await q.query<ConfigRow>(`SELECT ${CONFIG_COLS} FROM chat_model_configs WHERE id = $1 FOR UPDATE`, [id]);
    if (!rows[0]) throw new ChatdError('NOT_FOUND', 'Model config not found.');
    return rows[0];
  }

  function providerError(err: unknown): unknown {
    if (sqlState(err) === '23503') return new ChatdError('INVALID_INPUT', 'Unknown provider.', { cause: err });
    return err;
  }

  // Default changes serialise on this lock so two "make me default" calls cannot both clear the other.
  const lockDefaults = (client: pg.PoolClient) => client.query(`SELECT pg_advisory_xact_lock(hashtext('chat_model_configs.default'))`);

  return {
    async listProviders() {
      const { rows } = await pool.query<ProviderRow>(`SELECT ${PROVIDER_COLS} FROM chat_providers ORDER BY created_at, provider`);
      return rows.map(toProvider);
    },

    async getProviderSettings(provider) {
      const { rows } = await pool.query<ProviderRow>(`SELECT ${PROVIDER_COLS} FROM chat_providers WHERE provider = $1`, [provider]);
      const r = rows[0];
      return r ? { provider: r.provider, kind: r.kind, baseUrl: r.base_url, apiKey: r.api_key, apiKeyEnv: r.api_key_env, enabled: r.enabled } : undefined;
    },

    async createProvider(input) {
      if (typeof input.provider !== 'string' || !PROVIDER_RE.test(input.provider)) throw invalid('Invalid provider.', 'provider is 1-64 lowercase letters, digits or "-".');
      checkBaseUrl(input.baseUrl);
      checkApiKey(input.apiKey);
      const kind = input.kind === undefined ? providerKindOfName(input.provider) : parseProviderKind(input.kind);
      const apiKeyEnv = input.apiKeyEnv === undefined ? null : parseApiKeyEnv(input.apiKeyEnv);
      const now = clock.now();
      let row: ProviderRow;
      try {
        const { rows } = await pool.query<ProviderRow>(
          `INSERT INTO chat_providers (provider, kind, display_name, base_url, api_key, api_key_env, enabled, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ${PROVIDER_COLS}`,
          [input.provider, kind, input.displayName ?? '', input.baseUrl ?? null, input.apiKey ?? null, apiKeyEnv, input.enabled ?? true, now],
        );
        row = rows[0]!;
      } catch (err) {
        if (sqlState(err) === '23505') throw new ChatdError('CONFLICT', `Provider "${input.provider}" already exists.`, { cause: err });
        throw err;
      }
      await announce({ kind: 'providers', entity_id: NIL_UUID });
      return toProvider(row);
    },

    async updateProvider(id, input) {
      const pid = requireUuid(id, 'provider ID');
      checkBaseUrl(input.baseUrl);
      checkApiKey(input.apiKey);
      const kind = input.kind === undefined ? null : parseProviderKind(input.kind);
      const apiKeyEnv = input.apiKeyEnv === undefined ? undefined : parseApiKeyEnv(input.apiKeyEnv);
      const { rows } = await pool.query<ProviderRow>(
        `UPDATE chat_providers SET
           display_name = COALESCE($2, display_name),
           base_url = CASE WHEN $3::boolean THEN $4 ELSE base_url END,
           api_key = CASE WHEN $5::boolean THEN $6 ELSE api_key END,
           enabled = COALESCE($7, enabled),
           kind = COALESCE($9, kind),
           api_key_env = CASE WHEN $10::boolean THEN $11 ELSE api_key_env END,
           updated_at = $8
         WHERE id = $1 RETURNING ${PROVIDER_COLS}`,
        [
          pid,
          input.displayName ?? null,
          input.baseUrl !== undefined,
          input.baseUrl ?? null,
          input.apiKey !== undefined,
          input.apiKey ?? null,
          input.enabled ?? null,
          clock.now(),
          kind,
          apiKeyEnv !== undefined,
          apiKeyEnv ?? null,
        ],
      );
      if (!rows[0]) throw new ChatdError('NOT_FOUND', 'Provider not found.');
      await announce({ kind: 'providers', entity_id: NIL_UUID });
      return toProvider(rows[0]);
    },

    async deleteProvider(id) {
      const pid = requireUuid(id, 'provider ID');
      try {
        const res = await pool.query('DELETE FROM chat_providers WHERE id = $1', [pid]);
        if ((res.rowCount ?? 0) === 0) throw new ChatdError('NOT_FOUND', 'Provider not found.');
      } catch (err) {
        // 23001 restrict_violation (ON DELETE RESTRICT), 23503 for a plain foreign key.
        if (sqlState(err) === '23001' || sqlState(err) === '23503') throw new ChatdError('CONFLICT', 'Provider is used by model configs.', { cause: err });
        throw err;
      }
      await announce({ kind: 'providers', entity_id: NIL_UUID });
    },

    async listModelConfigs() {
      const { rows } = await pool.query<ConfigRow>(`SELECT ${CONFIG_COLS} FROM chat_model_configs ORDER BY created_at, id`);
      return rows.map(toConfig);
    },

    async getModelConfig(id) {
      const cid = requireUuid(id, 'model config ID');
      const { rows } = await pool.query<ConfigRow>(`SELECT ${CONFIG_COLS} FROM chat_model_configs WHERE id = $1`, [cid]);
      return rows[0] ? toConfig(rows[0]) : undefined;
    },

    async getDefaultModelConfig() {
      const { rows } = await pool.query<ConfigRow>(`SELECT ${CONFIG_COLS} FROM chat_model_configs WHERE is_default`);
      return rows[0] ? toConfig(rows[0]) : undefined;
    },

    async createModelConfig(input) {
      if (input.provider === undefined || input.model === undefined || input.contextLimit === undefined) {
        throw invalid('Invalid model config.', 'provider, model and context_limit are required.');
      }
      checkConfigFields(input);
      const callOptions = storedCallOptions(input.callOptions);
      const providerOptions = parseProviderOptions(input.providerOptions);
      const pricing = input.pricing === undefined || input.pricing === null ? null : parseModelPricing(input.pricing);
      const now = clock.now();
      const row = await inTransaction(pool, async (client) => {
        await lockDefaults(client);
        const { rows: existing } = await client.query('SELECT 1 FROM chat_model_configs WHERE is_default');
        const makeDefault = input.isDefault === true || existing.length === 0;
        if (makeDefault) await client.query('UPDATE chat_model_configs SET is_default = false, updated_at = $1 WHERE is_default', [now]);
        try {
          const { rows } = await client.query<ConfigRow>(
            `INSERT INTO chat_model_configs (provider, model, display_name, enabled, is_default, context_limit, compression_threshold,
               call_options, provider_options, created_at, updated_at, pricing)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $10, $8, $8, $11) RETURNING ${CONFIG_COLS}`,
            [
              input.provider,
              input.model.trim(),
              input.displayName ?? '',
              input.enabled ?? true,
              makeDefault,
              input.contextLimit,
              input.compressionThreshold ?? DEFAULT_COMPRESSION_THRESHOLD,
              now,
              JSON.stringify(callOptions),
              providerOptions === null ? null : JSON.stringify(providerOptions),
              pricing === null || pricing === undefined ? null : JSON.stringify(pricing),
            ],
          );
          return rows[0]!;
        } catch (err) {
          throw providerError(err);
        }
      });
      await announce({ kind: 'model_config', entity_id: row.id });
      return toConfig(row);
    },

    async updateModelConfig(id, input) {
      const cid = requireUuid(id, 'model config ID');
      checkConfigFields(input);
      const callOptions = input.callOptions === undefined ? undefined : storedCallOptions(input.callOptions);
      const providerOptions = input.providerOptions === undefined ? undefined : parseProviderOptions(input.providerOptions);
      const pricing = input.pricing === undefined ? undefined : parseModelPricing(input.pricing);
      const now = clock.now();
      const row = await inTransaction(pool, async (client) => {
        await lockDefaults(client);
        const cur = await readConfig(client, cid);
        if (input.isDefault === true && !cur.is_default) {
          await client.query('UPDATE chat_model_configs SET is_default = false, updated_at = $1 WHERE is_default', [now]);
        }
        try {
          const { rows } = await client.query<ConfigRow>(
            `UPDATE chat_model_configs SET provider = $2, model = $3, display_name = $4, enabled = $5, is_default = $6,
               context_limit = $7, compression_threshold = $8, updated_at = $9, call_options = $10, provider_options = $11, pricing = $12
             WHERE id = $1 RETURNING ${CONFIG_COLS}`,
            [
              cid,
              input.provider ?? cur.provider,
              input.model?.trim() ?? cur.model,
              input.displayName ?? cur.display_name,
              input.enabled ?? cur.enabled,
              input.isDefault === true || cur.is_default,
              input.contextLimit ?? Number(cur.context_limit),
              input.compressionThreshold ?? cur.compression_threshold,
              now,
              JSON.stringify(callOptions ?? cur.call_options),
              providerOptions === undefined ? (cur.provider_options === null ? null : JSON.stringify(cur.provider_options)) : providerOptions === null ? null : JSON.stringify(providerOptions),
              pricing === undefined ? (cur.pricing === null ? null : JSON.stringify(cur.pricing)) : pricing === null ? null : JSON.stringify(pricing),
            ],
          );
          return rows[0]!;
        } catch (err) {
          throw providerError(err);
        }
      });
      await announce({ kind: 'model_config', entity_id: row.id });
      return toConfig(row);
    },

    async deleteModelConfig(id) {
      const cid = requireUuid(id, 'model config ID');
      const now = clock.now();
      await inTransaction(pool, async (client) => {
        await lockDefaults(client);
        const cur = await readConfig(client, cid);
        await client.query('DELETE FROM chat_model_configs WHERE id = $1', [cid]);
        if (cur.is_default) {
          await client.query(
            `UPDATE chat_model_configs SET is_default = true, updated_at = $1
             WHERE id = (SELECT id FROM chat_model_configs ORDER BY enabled DESC, created_at, id LIMIT 1)`,
            [now],
          );
        }
      });
      await announce({ kind: 'model_config', entity_id: cid });
    },
  };
}
