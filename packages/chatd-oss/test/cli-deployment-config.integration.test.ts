// `chatd config get|set` (issue 32) against real PostgreSQL: the deployment settings written straight to the
// database, a model configuration id or `none`; mistakes answer exit code 2 and one line and write nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { runCli } from '../src/cli/run-cli.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createDeploymentConfigStore } from '../src/store/deployment-config-store.js';
import { createRealClock } from '@chatd/clock';
import { createStoreFixture, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
let f: StoreFixture;

beforeAll(async () => {
  f = createStoreFixture(db.url);
});
afterAll(async () => {
  await f.close();
});

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env: { DATABASE_URL: db.url }, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('chatd config', () => {
  it('set writes a setting, none unsets it, get shows them', async () => {
    const settings = createDeploymentConfigStore({ pool: f.pool, clock: createRealClock() });
    await f.modelConfigs.createProvider({ provider: 'demo' });
    const config = await f.modelConfigs.createModelConfig({ provider: 'demo', model: 'titles', contextLimit: 1000 });
    const set = await cli(['config', 'set', 'title_model_config_id', config.id]);
    expect(set).toEqual({ code: 0, out: [`title_model_config_id ${config.id}`], err: [] });
    expect(await settings.get()).toEqual({ title_model_config_id: config.id, compaction_model_config_id: null });
    expect((await cli(['config', 'get'])).out).toEqual([`title_model_config_id\t${config.id}`, 'compaction_model_config_id\tnone']);
    expect((await cli(['config', 'set', 'title_model_config_id', 'none'])).out).toEqual(['title_model_config_id unset']);
    expect(await settings.get()).toEqual({ title_model_config_id: null, compaction_model_config_id: null });
  });

  it('refuses an unknown key or configuration with exit code 2, writing nothing', async () => {
    const unknownKey = await cli(['config', 'set', 'colour', 'blue']);
    expect(unknownKey.code).toBe(2);
    expect(unknownKey.err[0]).toMatch(/unknown key "colour"/);
    const missing = randomUUID();
    const unknownConfig = await cli(['config', 'set', 'compaction_model_config_id', missing]);
    expect(unknownConfig.code).toBe(2);
    expect(unknownConfig.err).toEqual([`chatd config: Invalid deployment settings. compaction_model_config_id: no model configuration ${missing}`]);
    expect((await cli(['config', 'get'])).out).toEqual(['title_model_config_id\tnone', 'compaction_model_config_id\tnone']);
  });
});
