// The start-up step that gives an empty database a default model configuration from the environment
// (`defaultModelFromEnv`: `OPENAI_BASE_URL`/`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `CHATD_MODEL_PROVIDER`,
// `CHATD_MODEL`, ...; the deterministic demo model when unset), so a fresh
// install can chat at once. It never touches a database that already has a configuration; replicas
// starting together serialise on an advisory lock so only one creates it.
import type pg from 'pg';
import { ChatdError } from '../chatd-error.js';
import type { DefaultModelSettings } from '../config.js';
import type { ChatModelConfig, ModelConfigStore } from './model-config-store.js';

/** Advisory lock key of this step ("chatddmc" as ASCII). */
export const DEFAULT_MODEL_CONFIG_LOCK_KEY = 0x636861746464_6d63n;

/** Creates the provider and default model configuration from `settings` when the database has no model configuration. */
export async function ensureDefaultModelConfig(
  pool: pg.Pool,
  store: ModelConfigStore,
  settings: DefaultModelSettings,
): Promise<{ created: boolean; config: ChatModelConfig | undefined }> {
  if (settings.model === '') {
    throw new ChatdError('CONFIG', `CHATD_MODEL must be set when CHATD_MODEL_PROVIDER is "${settings.provider}"`);
  }
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [DEFAULT_MODEL_CONFIG_LOCK_KEY.toString()]);
    try {
      const existing = await store.listModelConfigs();
      if (existing.length > 0) return { created: false, config: await store.getDefaultModelConfig() };
      if (!(await store.getProviderSettings(settings.provider))) {
        await store.createProvider({
          provider: settings.provider,
          displayName: settings.provider,
          baseUrl: settings.baseUrl,
          apiKey: settings.apiKey,
          ...(settings.kind !== undefined ? { kind: settings.kind } : {}),
          ...(settings.apiKeyEnv !== undefined ? { apiKeyEnv: settings.apiKeyEnv } : {}),
        });
      }
      const config = await store.createModelConfig({
        provider: settings.provider,
        model: settings.model,
        displayName: settings.displayName,
        contextLimit: settings.contextLimit,
        isDefault: true,
      });
      return { created: true, config };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [DEFAULT_MODEL_CONFIG_LOCK_KEY.toString()]).catch(() => {});
    }
  } finally {
    client.release();
  }
}
