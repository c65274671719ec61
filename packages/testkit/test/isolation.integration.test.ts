import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../src/index.js';

const db = useTestDatabase();

describe('per-file databases', () => {
  it('do not share tables or notifications with other test files', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      // postgres-harness.integration.test.ts creates the same table in its own database at the same time.
      await c.query('create table isolation_probe (file text)');
      await c.query("insert into isolation_probe values ('isolation')");
      const { rows } = await c.query('select file from isolation_probe');
      expect(rows).toEqual([{ file: 'isolation' }]);
      const { rows: names } = await c.query('select current_database() as name');
      expect(names[0].name).toBe(db.name);
      expect(db.name).toMatch(/^chatd_test_/);
    } finally {
      await c.end();
    }
  });

  it('drops a database even while a connection is still open to it', async () => {
    const { createTestDatabase } = await import('../src/index.js');
    const extra = await createTestDatabase(db.serverUrl);
    const c = new pg.Client({ connectionString: extra.url });
    c.on('error', () => {});
    await c.connect();
    await extra.drop();
    const admin = new pg.Client({ connectionString: db.serverUrl });
    await admin.connect();
    const { rows } = await admin.query('select count(*)::int as n from pg_database where datname = $1', [extra.name]);
    await admin.end();
    await c.end().catch(() => {});
    expect(rows[0].n).toBe(0);
  });
});
