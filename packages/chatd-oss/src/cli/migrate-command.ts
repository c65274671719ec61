// `chatd migrate`: applies the chat store's migrations to DATABASE_URL (safe to run from several
// replicas at once) and, unless told not to, gives an empty database its default model configuration.
import { createRealClock } from '@chatd/clock';
import { loadConfig, requireDatabaseUrl } from '../config.js';
import { migrate, type MigrationSource } from '../migrate.js';
import { createPool } from '../store/db.js';
import { ensureDefaultModelConfig } from '../store/default-model-config.js';
import { createModelConfigStore } from '../store/model-config-store.js';
import { UsageError, parseCommandArgs, type CliCommand } from './cli-args.js';

/** Options of `createMigrateCommand`. */
export type MigrateCommandOptions = {
  /** Every migration source to apply, in order (the chat store's first). @default [CHATD_MIGRATION_SOURCE] */
  sources?: readonly MigrationSource[];
  /** One-line summary for `help`. */
  summary?: string;
};

/** Builds a `migrate [--database-url URL] [--no-default-model]` command over `sources`. */
export function createMigrateCommand(options: MigrateCommandOptions = {}): CliCommand {
  return {
    summary: options.summary ?? 'apply database migrations',
    usage: 'migrate [--database-url URL] [--no-default-model]',
    async run(args, io) {
      const { values, positionals } = parseCommandArgs(args, {
        'database-url': { type: 'string' },
        'no-default-model': { type: 'boolean' },
      });
      if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
      const flag = values['database-url'] as string | undefined;
      const url = requireDatabaseUrl(io.env, flag);
      const config = loadConfig(io.env, { databaseUrl: url });
      const pool = createPool(url, 2);
      try {
        const { applied } = await migrate(pool, options.sources ? { sources: options.sources } : {});
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
}

/** `chatd migrate [--database-url URL] [--no-default-model]` */
export const migrateCommand: CliCommand = createMigrateCommand();
