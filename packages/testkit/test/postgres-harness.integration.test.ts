import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../src/index.js';

const db = useTestDatabase({
  key: 'testkit-probe-v1',
  async migrate(url) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('create table migrated_probe (id int primary key)');
    await c.end();
  },
});

const clients: pg.Client[] = [];
async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  clients.push(c);
  return c;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end()));
});

describe('the PostgreSQL test harness', () => {
  it('gives a real server: LISTEN/NOTIFY round trip across two connections', async () => {
    const listener = await connect();
    const sender = await connect();
    await listener.query('listen harness_probe');
    const received = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
    await sender.query("select pg_notify('harness_probe', 'hello from another backend')");
    const n = await received;
    expect(n.channel).toBe('harness_probe');
    expect(n.payload).toBe('hello from another backend');
    const { rows } = await sender.query('select pg_backend_pid() as a');
    expect(n.processId).toBe(rows[0].a);
  });

  it('clones the database from the migrated template', async () => {
    const c = await connect();
    const { rows } = await c.query("select to_regclass('migrated_probe') is not null as present, current_database() as name");
    expect(rows[0]).toEqual({ present: true, name: db.name });
  });

  it('gives this file a database of its own (the sibling file writes the same table)', async () => {
    const c = await connect();
    await c.query('create table isolation_probe (file text)');
    await c.query("insert into isolation_probe values ('postgres-harness')");
    const { rows } = await c.query('select file from isolation_probe');
    expect(rows).toEqual([{ file: 'postgres-harness' }]);
  });
});
