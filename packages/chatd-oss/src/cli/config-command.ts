// `chatd config set <key> <value>` and `chatd config get`: the deployment settings (contract.md#compaction) for
// operators. Like `chatd model` it goes straight to the database (DATABASE_URL or --database-url) and needs no
// running replica and no admin token; replicas read the settings on use, so nothing has to be notified.
// `<value>` is a model configuration ID, or `none` (also `null`, `-`) to unset it.
import { createRealClock } from '@chatd/clock';
import { requireDatabaseUrl } from '../config.js';
import { createPool } from '../store/db.js';
import { createDeploymentConfigStore, DEPLOYMENT_CONFIG_KEYS, type DeploymentConfigKey, type DeploymentConfigStore } from '../store/deployment-config-store.js';
import { UsageError, parseCommandArgs, type CliCommand, type CliIo } from './cli-args.js';

const USAGE = `config get | config set ${DEPLOYMENT_CONFIG_KEYS.join('|')} MODEL_CONFIG_ID|none  [--database-url URL]`;
/** Values of `chatd config set` that unset a setting. */
const UNSET_VALUES = new Set(['none', 'null', '-']);

async function withStore<T>(io: CliIo, databaseUrl: string | undefined, fn: (store: DeploymentConfigStore) => Promise<T>): Promise<T> {
  const pool = createPool(requireDatabaseUrl(io.env, databaseUrl), 2);
  try {
    return await fn(createDeploymentConfigStore({ pool, clock: createRealClock() }));
  } finally {
    await pool.end();
  }
}

/** `chatd config ...` */
export const configCommand: CliCommand = {
  summary: 'show or change the deployment settings (title and compaction models)',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { 'database-url': { type: 'string' } });
    const databaseUrl = values['database-url'] as string | undefined;
    const [sub, ...rest] = positionals;
    switch (sub) {
      case 'get': {
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
        return withStore(io, databaseUrl, async (store) => {
          const config = await store.get();
          for (const key of DEPLOYMENT_CONFIG_KEYS) io.out(`${key}\t${config[key] ?? 'none'}`);
          return 0;
        });
      }
      case 'set': {
        const [key, value, ...more] = rest;
        if (key === undefined || value === undefined) throw new UsageError('a key and a value are required');
        if (more.length > 0) throw new UsageError(`unexpected argument "${more[0]}"`);
        if (!(DEPLOYMENT_CONFIG_KEYS as readonly string[]).includes(key)) throw new UsageError(`unknown key "${key}" (one of ${DEPLOYMENT_CONFIG_KEYS.join(', ')})`);
        const id = UNSET_VALUES.has(value.toLowerCase()) ? null : value;
        return withStore(io, databaseUrl, async (store) => {
          const config = await store.update({ [key as DeploymentConfigKey]: id });
          io.out(`${key} ${config[key as DeploymentConfigKey] ?? 'unset'}`);
          return 0;
        });
      }
      case undefined:
        throw new UsageError('a subcommand is required (get, set)');
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  },
};
