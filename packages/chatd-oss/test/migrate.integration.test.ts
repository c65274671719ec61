import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '@chatd/testkit';
import { CHATD_MIGRATION_SOURCE, MIGRATIONS_KEY, findMigrationDir, migrate, migrationsKey, type MigrationSource } from '../src/migrate.js';
import { ChatdError } from '../src/chatd-error.js';

const run = promisify(execFile);
const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const db = useTestDatabase();
const extra: TestDatabase[] = [];

afterAll(async () => {
  for (const d of extra) await d.drop();
});

async function emptyDatabase(): Promise<string> {
  const d = await createTestDatabase(db.serverUrl);
  extra.push(d);
  return d.url;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

const allIds = CHATD_MIGRATION_SOURCE.migrations.map((m) => `chatd/${m.name}`);

describe('migrate', () => {
  it('finds the ordered SQL files of the package and hashes them into MIGRATIONS_KEY', () => {
    expect(findMigrationDir()).toBe(path.join(pkgDir, 'migrations'));
    const names = CHATD_MIGRATION_SOURCE.migrations.map((m) => m.name);
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(names).toEqual([...names].sort());
    expect(MIGRATIONS_KEY).toBe(migrationsKey([CHATD_MIGRATION_SOURCE]));
    const changed = { name: 'chatd', migrations: [...CHATD_MIGRATION_SOURCE.migrations.slice(0, -1), { name: 'zz.sql', sql: 'SELECT 1' }] };
    expect(migrationsKey([changed])).not.toBe(MIGRATIONS_KEY);
  });

  it('two processes racing on an empty database apply each file exactly once', async () => {
    const url = await emptyDatabase();
    const child = () => run(process.execPath, ['--import', 'tsx', path.join('test', 'helpers', 'migrate-child.ts'), url], { cwd: pkgDir, timeout: 60_000 });
    const [r1, r2] = await Promise.all([child(), child()]);
    const applied = [r1, r2].map((r) => (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { applied: string[] }).applied);
    expect([...applied[0]!, ...applied[1]!].sort()).toEqual([...allIds].sort());
    const rows = await query<{ source: string; name: string }>(url, 'SELECT source, name FROM chatd_migrations ORDER BY name');
    expect(rows.map((r) => `${r.source}/${r.name}`)).toEqual(allIds);
    expect(await query(url, 'SELECT name FROM organizations WHERE is_default')).toEqual([{ name: 'default' }]);
  });

  it('is idempotent and safe with several concurrent callers in one process', async () => {
    const url = await emptyDatabase();
    const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual([...allIds].sort());
    expect(await migrate(url)).toEqual({ applied: [] });
  });

  it('runs several ordered sources, a later one building on an earlier one', async () => {
    const url = await emptyDatabase();
    const later: MigrationSource = {
      name: 'later-test',
      migrations: [{ name: '0001_probe.sql', sql: 'CREATE TABLE later_source_probe (chat_id uuid PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE)' }],
    };
    const res = await migrate(url, { sources: [CHATD_MIGRATION_SOURCE, later] });
    expect(res.applied.at(-1)).toBe('later-test/0001_probe.sql');
    expect(await query(url, `SELECT to_regclass('later_source_probe')::text AS t`)).toEqual([{ t: 'later_source_probe' }]);
    expect(await migrate(url, { sources: [CHATD_MIGRATION_SOURCE, later] })).toEqual({ applied: [] });
  });

  it('rolls a failing file back, records nothing for it, and goes on once it is fixed', async () => {
    const url = await emptyDatabase();
    const bad: MigrationSource = { name: 'broken', migrations: [{ name: '0001.sql', sql: 'CREATE TABLE half_done (id int); SELECT no_such_function();' }] };
    const err = await migrate(url, { sources: [CHATD_MIGRATION_SOURCE, bad] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChatdError);
    expect((err as ChatdError).code).toBe('MIGRATION_FAILED');
    expect(await query(url, `SELECT to_regclass('half_done') AS t`)).toEqual([{ t: null }]);
    expect(await query(url, `SELECT count(*)::int AS n FROM chatd_migrations WHERE source = 'broken'`)).toEqual([{ n: 0 }]);
    const fixed: MigrationSource = { name: 'broken', migrations: [{ name: '0001.sql', sql: 'CREATE TABLE half_done (id int)' }] };
    expect((await migrate(url, { sources: [CHATD_MIGRATION_SOURCE, fixed] })).applied).toEqual(['broken/0001.sql']);
  });

  it('refuses to go on when an applied file was changed', async () => {
    const url = await emptyDatabase();
    const v1: MigrationSource = { name: 'x', migrations: [{ name: '0001.sql', sql: 'CREATE TABLE t1 (id int)' }] };
    await migrate(url, { sources: [v1] });
    const v2: MigrationSource = { name: 'x', migrations: [{ name: '0001.sql', sql: 'CREATE TABLE t1 (id bigint)' }] };
    const err = await migrate(url, { sources: [v2] }).catch((e: unknown) => e);
    expect((err as ChatdError).code).toBe('MIGRATION_FAILED');
  });

  it('reports an unreachable database as MIGRATION_FAILED', async () => {
    const err = await migrate('postgres://postgres@127.0.0.1:1/nope').catch((e: unknown) => e);
    expect((err as ChatdError).code).toBe('MIGRATION_FAILED');
  });
});
