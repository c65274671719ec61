import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTcpProxy, useTestDatabase, waitFor, withDatabase } from '../src/index.js';

const db = useTestDatabase();

function viaProxy(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

describe('createTcpProxy', () => {
  it('forwards, then cut() breaks the connection and new ones work again', async () => {
    const target = new URL(db.url);
    const proxy = await createTcpProxy({ port: Number(target.port) });
    const client = new pg.Client({ connectionString: viaProxy(db.url, proxy.port) });
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    await client.connect();
    expect((await client.query('select 41 + 1 as v')).rows[0].v).toBe(42);
    expect(proxy.connections).toBe(1);
    proxy.cut();
    await expect(client.query('select 1')).rejects.toThrow();
    const again = new pg.Client({ connectionString: viaProxy(withDatabase(db.url, db.name), proxy.port) });
    await again.connect();
    expect((await again.query('select 1 as v')).rows[0].v).toBe(1);
    await again.end();
    await proxy.close();
  });

  it('stall() holds traffic until resume()', async () => {
    const target = new URL(db.url);
    const proxy = await createTcpProxy({ port: Number(target.port) });
    const client = new pg.Client({ connectionString: viaProxy(db.url, proxy.port) });
    await client.connect();
    proxy.stall();
    let done = false;
    const q = client.query('select 7 as v').then((r) => {
      done = true;
      return r.rows[0].v as number;
    });
    // Let the query go out and any reply come back if the proxy leaked it.
    const probe = new pg.Client({ connectionString: db.url });
    await probe.connect();
    await probe.query('select pg_sleep(0.05)');
    await probe.end();
    expect(done).toBe(false);
    proxy.resume();
    expect(await q).toBe(7);
    await client.end();
    await proxy.close();
  });

  it('refuse() closes new connections at once', async () => {
    const target = new URL(db.url);
    const proxy = await createTcpProxy({ port: Number(target.port) });
    proxy.refuse(true);
    const client = new pg.Client({ connectionString: viaProxy(db.url, proxy.port) });
    client.on('error', () => {});
    await expect(client.connect()).rejects.toThrow();
    proxy.refuse(false);
    await waitFor(() => proxy.connections === 0, { what: 'refused connection to close' });
    await proxy.close();
  });
});
