// Model providers and model configurations in the database (chatd.md sections 0.1 and 1.2). Exactly one
// configuration is the default while any exist: the first one created becomes it, making another the
// default takes it over, deleting it hands it to the oldest remaining one. Every committed change
// publishes a `ChatConfigEvent` on `chat:config_change` so each replica drops its cache.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import { NIL_UUID } from '@chatd/protocol';
import { CHAT_CONFIG_EVENT_CHANNEL, encodeChatConfigEvent, type ChatConfigEvent, type PubSub } from '@chatd/pubsub';
import { ChatdError } from '../chatd-error.js';
import { requireUuid } from './chat-input.js';
import { inTransaction, sqlState } from './db.js';

/** Default `compression_threshold` (percent of the context limit). @default 70 */
export const DEFAULT_COMPRESSION_THRESHOLD = 70;

/** A model configuration as the API shows it (`ChatModelConfig`). */
export type ChatModelConfig = {
  id: string;
  provider: string;
  model: string;
  display_name: string;
  enabled: boolean;
  is_default: boolean;
  context_limit: number;
  compression_threshold: number;
  created_at: string;
  updated_at: string;
};

/** A provider as the API shows it: its key is never returned, only whether it has one. */
export type ChatProvider = {
  id: string;
  provider: string;
  display_name: string;
  base_url: string | null;
  has_api_key: boolean;
  enabled: boolean;
  created_at: string;
  updated_at: string;
};

/** A provider's settings for building a ModelProvider (includes the key; never sent to clients). */
export type ProviderSettings = { provider: string; baseUrl: string | null; apiKey: string | null; enabled: boolean };

/** Input of `createProvider`. */
export type CreateProviderInput = { provider: string; displayName?: string; baseUrl?: string | null; apiKey?: string | null; enabled?: boolean };

/** Input of `createModelConfig`. */
export type CreateModelConfigInput = {
  provider: string;
  model: string;
  displayName?: string;
  enabled?: boolean;
  isDefault?: boolean;
  contextLimit: number;
  compressionThreshold?: number;
};

/** Changes of `updateModelConfig`; unset fields keep their value. `isDefault: false` is ignored (set another default instead). */
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
  /** Where `ChatConfigEvent`s go after each commit; none in tools that run without replicas. */
  pubsub?: PubSub;
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
  created_at: Date;
  updated_at: Date;
};
type ProviderRow = {
  id: string;
  provider: string;
  display_name: string;
  base_url: string | null;
  api_key: string | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
};

const CONFIG_COLS = 'id, provider, model, display_name, enabled, is_default, context_limit, compression_threshold, created_at, updated_at';
const PROVIDER_COLS = 'id, provider, display_name, base_url, api_key, enabled, created_at, updated_at';
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
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});
const toProvider = (r: ProviderRow): ChatProvider => ({
  id: r.id,
  provider: r.provider,
  display_name: r.display_name,
  base_url: r.base_url,
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
      return r ? { provider: r.provider, baseUrl: r.base_url, apiKey: r.api_key, enabled: r.enabled } : undefined;
    },

    async createProvider(input) {
      if (typeof input.provider !== 'string' || !PROVIDER_RE.test(input.provider)) throw invalid('Invalid provider.', 'provider is 1-64 lowercase letters, digits or "-".');
      checkBaseUrl(input.baseUrl);
      const now = clock.now();
      let row: ProviderRow;
      try {
        const { rows } = await pool.query<ProviderRow>(
          `INSERT INTO chat_providers (provider, display_name, base_url, api_key, enabled, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ${PROVIDER_COLS}`,
          [input.provider, input.displayName ?? '', input.baseUrl ?? null, input.apiKey ?? null, input.enabled ?? true, now],
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
      const { rows } = await pool.query<ProviderRow>(
        `UPDATE chat_providers SET
           display_name = COALESCE($2, display_name),
           base_url = CASE WHEN $3::boolean THEN $4 ELSE base_url END,
           api_key = CASE WHEN $5::boolean THEN $6 ELSE api_key END,
           enabled = COALESCE($7, enabled),
           updated_at = $8
         WHERE id = $1 RETURNING ${PROVIDER_COLS}`,
        [pid, input.displayName ?? null, input.baseUrl !== undefined, input.baseUrl ?? null, input.apiKey !== undefined, input.apiKey ?? null, input.enabled ?? null, clock.now()],
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
      const now = clock.now();
      const row = await inTransaction(pool, async (client) => {
        await lockDefaults(client);
        const { rows: existing } = await client.query('SELECT 1 FROM chat_model_configs WHERE is_default');
        const makeDefault = input.isDefault === true || existing.length === 0;
        if (makeDefault) await client.query('UPDATE chat_model_configs SET is_default = false, updated_at = $1 WHERE is_default', [now]);
        try {
          const { rows } = await client.query<ConfigRow>(
            `INSERT INTO chat_model_configs (provider, model, display_name, enabled, is_default, context_limit, compression_threshold, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ${CONFIG_COLS}`,
            [
              input.provider,
              input.model.trim(),
              input.displayName ?? '',
              input.enabled ?? true,
              makeDefault,
              input.contextLimit,
              input.compressionThreshold ?? DEFAULT_COMPRESSION_THRESHOLD,
              now,
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
               context_limit = $7, compression_threshold = $8, updated_at = $9 WHERE id = $1 RETURNING ${CONFIG_COLS}`,
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
