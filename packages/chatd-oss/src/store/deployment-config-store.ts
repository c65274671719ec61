// Deployment settings (contract.md#compaction): which model configuration writes chat titles and which one writes
// compaction summaries, in a one-row table. Unset (null) means the chat's own model. Read on use (a title once per
// chat, a summary once per compaction), so no cache has to be invalidated when an admin changes them; a deleted
// configuration unsets itself (ON DELETE SET NULL). It checks ids against `chat_model_configs`, nothing more.
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import { isUuid } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { inTransaction, type Queryable } from './db.js';

/** The deployment settings, as `GET /config` answers them. */
export type DeploymentConfig = {
  /** The model configuration that writes titles; null: the chat's own. */
  title_model_config_id: string | null;
  /** The model configuration that writes compaction summaries; null: the chat's own. */
  compaction_model_config_id: string | null;
};

/** The keys of the deployment settings (what `PATCH /config` and `chatd config set` take). */
export const DEPLOYMENT_CONFIG_KEYS = ['title_model_config_id', 'compaction_model_config_id'] as const;
/** One key of the deployment settings. */
export type DeploymentConfigKey = (typeof DEPLOYMENT_CONFIG_KEYS)[number];

/** A change of `update`: absent keys keep their value, null unsets. */
export type DeploymentConfigPatch = Partial<Record<DeploymentConfigKey, string | null>>;

/** The deployment settings table. */
export interface DeploymentConfigStore {
  /** The settings (all null before anything was set). */
  get(): Promise<DeploymentConfig>;
  /**
   * Applies `patch`; INVALID_INPUT (with a validation per field) for an unknown key, an id that is no UUID or no
   * existing model configuration. Nothing is written on a refusal.
   */
  update(patch: DeploymentConfigPatch): Promise<DeploymentConfig>;
}

/** Options of `createDeploymentConfigStore`. */
export type DeploymentConfigStoreOptions = { pool: pg.Pool; clock: Clock };

function invalidSettings(validations: { field: string; detail: string }[]): ChatdError {
  return new ChatdError('INVALID_INPUT', 'Invalid deployment settings.', { validations, detail: validations.map((v) => `${v.field}: ${v.detail}`).join('; ') });
}

const EMPTY: DeploymentConfig = { title_model_config_id: null, compaction_model_config_id: null };

async function read(db: Queryable, forUpdate = false): Promise<DeploymentConfig> {
  const { rows } = await db.query<DeploymentConfig>(
    `SELECT title_model_config_id, compaction_model_config_id FROM chat_deployment_config WHERE id${forUpdate ? ' FOR UPDATE' : ''}`,
  );
  const row = rows[0];
  return row ? { title_model_config_id: row.title_model_config_id, compaction_model_config_id: row.compaction_model_config_id } : { ...EMPTY };
}

/** Creates the store. */
export function createDeploymentConfigStore(options: DeploymentConfigStoreOptions): DeploymentConfigStore {
  const { pool, clock } = options;
  return {
    get: () => read(pool),

    async update(patch) {
      const validations: { field: string; detail: string }[] = [];
      const keys = Object.keys(patch);
      for (const key of keys) {
        if (!(DEPLOYMENT_CONFIG_KEYS as readonly string[]).includes(key)) validations.push({ field: key, detail: 'unknown setting' });
      }
      const ids = new Map<DeploymentConfigKey, string | null>();
      for (const key of DEPLOYMENT_CONFIG_KEYS) {
        if (!Object.hasOwn(patch, key)) continue;
        const value = patch[key];
        if (value === null) ids.set(key, null);
        else if (typeof value !== 'string' || !isUuid(value)) validations.push({ field: key, detail: 'must be a model configuration ID (a UUID) or null' });
        else ids.set(key, value.toLowerCase());
      }
      if (validations.length > 0) throw invalidSettings(validations);
      return inTransaction(pool, async (client) => {
        for (const [key, id] of ids) {
          if (id === null) continue;
          const { rows } = await client.query('SELECT 1 FROM chat_model_configs WHERE id = $1', [id]);
          if (rows.length === 0) validations.push({ field: key, detail: `no model configuration ${id}` });
        }
        if (validations.length > 0) throw invalidSettings(validations);
        // The row exists and is locked before it is read, so two patches of different keys both land.
        await client.query('INSERT INTO chat_deployment_config (id, updated_at) VALUES (true, $1) ON CONFLICT (id) DO NOTHING', [clock.now()]);
        const current = await read(client, true);
        const next: DeploymentConfig = { ...current, ...Object.fromEntries(ids) };
        await client.query('UPDATE chat_deployment_config SET title_model_config_id = $1, compaction_model_config_id = $2, updated_at = $3 WHERE id', [
          next.title_model_config_id,
          next.compaction_model_config_id,
          clock.now(),
        ]);
        return next;
      });
    },
  };
}
