import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { inTransaction } from '../src/store/db.js';

const db = useTestDatabase();
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('error', () => {});
  await pool.query('CREATE TABLE pair (id int PRIMARY KEY, v int NOT NULL DEFAULT 0)');
  await pool.query('INSERT INTO pair (id) VALUES (1), (2)');
});
afterAll(async () => {
  await pool.end();
});

/** A one-shot latch. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('inTransaction', () => {
  it('retries the deadlock victim from the start, so both transactions commit', async () => {
    const aLocked = latch();
    const bLocked = latch();
    let runsA = 0;
    let runsB = 0;
    const txA = inTransaction(pool, async (c) => {
      runsA++;
      await c.query('UPDATE pair SET v = v + 1 WHERE id = 1');
      if (runsA === 1) {
        aLocked.open();
        await bLocked.opened;
      }
      await c.query('UPDATE pair SET v = v + 1 WHERE id = 2');
    });
    const txB = inTransaction(pool, async (c) => {
      runsB++;
      await c.query('UPDATE pair SET v = v + 10 WHERE id = 2');
      if (runsB === 1) {
        bLocked.open();
        await aLocked.opened;
      }
      await c.query('UPDATE pair SET v = v + 10 WHERE id = 1');
    });
    await Promise.all([txA, txB]);
    expect(runsA + runsB).toBe(3);
    const { rows } = await pool.query('SELECT id, v FROM pair ORDER BY id');
    expect(rows).toEqual([
      { id: 1, v: 11 },
      { id: 2, v: 11 },
    ]);
  });

  it('rolls back and rethrows other errors at once', async () => {
    let runs = 0;
    await expect(
      inTransaction(pool, async (c) => {
        runs++;
        await c.query('UPDATE pair SET v = 100 WHERE id = 1');
        await c.query('SELECT no_such_column FROM pair');
      }),
    ).rejects.toMatchObject({ code: '42703' });
    expect(runs).toBe(1);
    expect((await pool.query('SELECT v FROM pair WHERE id = 1')).rows[0].v).toBe(11);
  });
});
