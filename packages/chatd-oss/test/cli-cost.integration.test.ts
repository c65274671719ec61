// `chatd model ... --input-price`, `chatd model set-price` and `chatd limit set|get|clear` (issue 33,
// contract.md#cost) against real PostgreSQL: prices and spend limits written straight to the database, mistakes
// answered with exit code 2 and one line, writing nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { runCli } from '../src/cli/run-cli.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createStoreFixture, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
let f: StoreFixture;
beforeAll(() => {
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

describe('chatd model prices and chatd limit', () => {
  it('add with prices, set-price, --clear; list shows them; a bad price writes nothing', async () => {
    const added = await cli(['model', 'add', '--provider', 'priced', '--model', 'm1', '--input-price', '3000000', '--output-price', '15000000']);
    expect(added.code).toBe(0);
    const id = /added model config ([0-9a-f-]{36})/.exec(added.out.at(-1)!)![1]!;
    expect((await f.modelConfigs.listModelConfigs()).find((c) => c.id === id)?.pricing).toEqual({ input: 3_000_000, output: 15_000_000 });

    const set = await cli(['model', 'set-price', 'm1', '--input-price', '1', '--output-price', '2', '--cached-input-price', '0', '--reasoning-price', '4']);
    expect(set.out).toEqual([`prices of ${id} (priced/m1): input=1,output=2,cached_input=0,reasoning=4`]);
    const list = await cli(['model', 'list']);
    expect(list.out.find((l) => l.startsWith(id))!.split('\t').at(-1)).toBe('input=1,output=2,cached_input=0,reasoning=4');

    const bad = await cli(['model', 'set-price', id, '--input-price', '-5', '--output-price', '2']);
    expect(bad.code).toBe(2);
    expect(bad.err).toHaveLength(1);
    expect((await f.modelConfigs.listModelConfigs()).find((c) => c.id === id)?.pricing).toEqual({ input: 1, output: 2, cached_input: 0, reasoning: 4 });

    expect((await cli(['model', 'set-price', id, '--clear'])).code).toBe(0);
    expect((await f.modelConfigs.listModelConfigs()).find((c) => c.id === id)?.pricing).toBeNull();
  });

  it('limit set (by username or id), get, clear; a bad period or amount writes nothing; an unknown user is exit 1', async () => {
    const { rows } = await f.pool.query<{ id: string }>("INSERT INTO users (username) VALUES ('spender') RETURNING id");
    const userId = rows[0]!.id;
    expect((await cli(['limit', 'set', 'spender', 'month', '2500000'])).out).toEqual(['spend limit of spender: 2500000 micro-units per month']);
    const got = await cli(['limit', 'get', userId]);
    expect(got.code).toBe(0);
    expect(got.out[0]).toMatch(/^2500000 micro-units per month; spent 0; resets at \d{4}-\d{2}-01T00:00:00\.000Z$/);

    for (const args of [['limit', 'set', 'spender', 'year', '5'], ['limit', 'set', 'spender', 'day', '-5'], ['limit', 'set', 'spender', 'day', '1.5']]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.err).toHaveLength(1);
    }
    expect((await f.pool.query('SELECT period, limit_micros FROM chat_spend_limits WHERE user_id = $1', [userId])).rows).toEqual([{ period: 'month', limit_micros: '2500000' }]);

    const unknown = await cli(['limit', 'set', 'nobody', 'day', '5']);
    expect(unknown).toEqual({ code: 1, out: [], err: ['chatd limit set: no user "nobody"'] });

    expect((await cli(['limit', 'clear', 'spender'])).out).toEqual(['spend limit of spender removed']);
    expect((await cli(['limit', 'get', 'spender'])).out).toEqual(['spender has no spend limit']);
  });
});
