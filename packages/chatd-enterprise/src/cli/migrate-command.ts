// `chatd-enterprise migrate`: the chat store's migrations, then the replica registry's, under the same
// advisory lock as `chatd migrate`; like it, it gives an empty database its default model configuration
// unless told not to.
import { createRealClock } from '@chatd/clock';
import {
  UsageError,
  createModelConfigStore,
  createPool,
  ensureDefaultModelConfig,
  loadConfig,
  migrate,
  parseCommandArgs,
  requireDatabaseUrl,
  type CliCommand,
} from '@chatd/oss';
import { ENTERPRISE_MIGRATION_SOURCES } from '../enterprise-migrations.js';

/** `chatd-enterprise migrate [--database-url URL] [--no-default-model]` */
export const enterpriseMigrateCommand: CliCommand = {
  summary: 'apply database migrations (chat store, then replica registry)',
  usage: 'migrate [--database-url URL] [--no-default-model]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      'database-url': { type: 'string' },
      'no-default-model': { type: 'boolean' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const url = requireDatabaseUrl(io.env, values['database-url'] as string | undefined);
    const config = loadConfig(io.env, { databaseUrl: url });
    const pool = createPool(url, 2);
    try {
      const { applied } = await migrate(pool, { sources: ENTERPRISE_MIGRATION_SOURCES });
      io.out(applied.length === 0 ? 'migrations: up to date' : `migrations: applied ${applied.join(', ')}`);
      if (!values['no-default-model']) {
        const store = createModelConfigStore({ pool, clock: createRealClock() });
        const { created, config: def } = await ensureDefaultModelConfig(pool, store, config.defaultModel);
        if (created && def) io.out(`default model config: ${def.provider}/${def.model} (${def.id})`);
      }
      return 0;
    } finally {
      await pool.end();
    }
  },
};
