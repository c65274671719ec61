import { createTcpProxy, useTestDatabase, waitFor } from '@chatd/testkit';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PubSubError, createPgPubSub, notifyInTransaction, type PgPubSub } from '../src/index.js';
import { recorder } from './helpers.js';
import { pubsubContract } from './pubsub-contract.js';

const db = useTestDatabase();

pubsubContract('createPgPubSub', async ({ queueSize }) => createPgPubSub({ connectionString: db.url, queueSize }));

describe('createPgPubSub (PostgreSQL specifics)', () => {
  const open: { close(): Promise<unknown> }[] = [];
  const make = async (appName = 'chatd-pubsub') => {
    const ps = await createPgPubSub({ connectionString: db.url, applicationName: appName });
    open.push(ps);
    return ps;
  };
  const rawClient = async () => {
    const c = new pg.Client({ connectionString: db.url });
    c.on('error', () => {});
    await c.connect();
    open.push({ close: () => c.end() });
    return c;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((x) => x.close()));
  });

  it('is one LISTEN connection for all channels, however many listeners', async () => {
    const ps = await make('pubsub-one-conn');
    const rs = Array.from({ length: 30 }, () => recorder());
    await Promise.all(rs.map((r, i) => ps.subscribe(`multi:${i % 7}`, r.listener)));
    const c = await rawClient();
    const { rows } = await c.query("select count(*)::int as n from pg_stat_activity where application_name = 'pubsub-one-conn:listen'");
    expect(rows[0].n).toBe(1);
    for (let i = 0; i < 7; i++) await ps.publish(`multi:${i}`, `to ${i}`);
    await Promise.all(rs.map((r) => r.waitForMessages(1)));
    rs.forEach((r, i) => expect(r.messages).toEqual([`to ${i % 7}`]));
  });

  it('two instances (replicas) hear each other; plain NOTIFY and pg_notify from other clients arrive too', async () => {
    const a = await make();
    const b = await make();
    const r = recorder();
    await b.subscribe('replicas', r.listener);
    await a.publish('replicas', 'from a');
    const c = await rawClient();
    await c.query(`notify replicas, 'from sql'`);
    await c.query(`select pg_notify('replicas', 'from go')`);
    await r.waitForMessages(3);
    expect(r.messages).toEqual(['from a', 'from sql', 'from go']);
  });

  it('notifyInTransaction delivers only on commit, never on rollback', async () => {
    const ps = await make();
    const r = recorder();
    await ps.subscribe('tx', r.listener);
    const c = await rawClient();
    await c.query('begin');
    await notifyInTransaction(c, 'tx', 'committed');
    // Not before commit: a later message outside the transaction arrives first.
    await ps.publish('tx', 'outside');
    await r.waitForMessage('outside');
    expect(r.messages).toEqual(['outside']);
    await c.query('commit');
    await r.waitForMessage('committed');
    await c.query('begin');
    await notifyInTransaction(c, 'tx', Buffer.from('rolled back'));
    await c.query('rollback');
    await ps.publish('tx', 'sentinel');
    await r.waitForMessage('sentinel');
    expect(r.messages).toEqual(['outside', 'committed', 'sentinel']);
  });

  it('notifyInTransaction validates before sending anything', async () => {
    const queries: unknown[] = [];
    const fake = { query: async (...args: unknown[]) => void queries.push(args) };
    await expect(notifyInTransaction(fake, 'tx', 'x'.repeat(8000))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(notifyInTransaction(fake, '', 'x')).rejects.toMatchObject({ code: 'INVALID_CHANNEL' });
    await expect(notifyInTransaction(fake, 'tx', 'a\0')).rejects.toMatchObject({ code: 'MALFORMED_PAYLOAD' });
    expect(queries).toEqual([]);
    await notifyInTransaction(fake, 'tx', 'fine');
    expect(queries).toEqual([['select pg_notify($1, $2)', ['tx', 'fine']]]);
  });

  it('reads the NOTIFY queue usage', async () => {
    const ps = await make();
    const usage = await ps.notificationQueueUsage();
    expect(typeof usage).toBe('number');
    expect(usage).toBeGreaterThanOrEqual(0);
    expect(usage).toBeLessThan(1);
  });

  it('rejects with CONNECTION_FAILED when the first connection fails', async () => {
    const url = new URL(db.url);
    url.password = 'wrong-password';
    url.username = 'nobody_here';
    const err = await createPgPubSub({ connectionString: url.toString(), connectTimeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PubSubError);
    expect((err as PubSubError).code).toBe('CONNECTION_FAILED');
  });

  it('publish fails with CONNECTION_FAILED while the database is unreachable, and works again after', async () => {
    // Publish through a pool behind a proxy we can break; the LISTEN connection stays direct.
    const proxy = await createTcpProxy({ port: Number(new URL(db.url).port) });
    const u = new URL(db.url);
    u.port = String(proxy.port);
    const pool = new pg.Pool({ connectionString: u.toString(), max: 1, connectionTimeoutMillis: 2_000 });
    pool.on('error', () => {});
    open.push({ close: () => proxy.close() }, { close: () => pool.end() });
    const ps = await createPgPubSub({ connectionString: db.url, pool });
    open.push(ps);
    const r = recorder();
    await ps.subscribe('p', r.listener);
    await ps.publish('p', 'warm');
    proxy.refuse(true);
    proxy.cut();
    await waitFor(() => pool.idleCount === 0, { what: 'the pool to drop its dead client' });
    await expect(ps.publish('p', 'lost')).rejects.toMatchObject({ name: 'PubSubError', code: 'CONNECTION_FAILED' });
    expect(ps.metrics().publishFailures).toBe(1);
    proxy.refuse(false);
    await ps.publish('p', 'back');
    await r.waitForMessage('back');
    expect(r.messages).toEqual(['warm', 'back']);
    // A caller's pool is not ours to end.
    await ps.close();
    expect((await pool.query('select 1 as v')).rows[0].v).toBe(1);
  });

  it('own pool: a publish connection that dies is replaced; CONNECTION_FAILED only while the server is unreachable', async () => {
    const proxy = await createTcpProxy({ port: Number(new URL(db.url).port) });
    open.push({ close: () => proxy.close() });
    const u = new URL(db.url);
    u.port = String(proxy.port);
    // Everything through the proxy, but no reconnect of the LISTEN connection is needed for publishing.
    const ps = await createPgPubSub({ connectionString: u.toString(), poolSize: 1, connectTimeoutMs: 2_000 });
    open.push(ps);
    const direct = await createPgPubSub({ connectionString: db.url });
    open.push(direct);
    const r = recorder();
    await direct.subscribe('own', r.listener);
    await ps.publish('own', 'one');
    proxy.refuse(true);
    proxy.cut();
    await expect(ps.publish('own', 'lost')).rejects.toMatchObject({ name: 'PubSubError', code: 'CONNECTION_FAILED' });
    proxy.refuse(false);
    await ps.publish('own', 'two');
    // The read connection is separate from the held publish connection.
    expect(await ps.notificationQueueUsage()).toBeGreaterThanOrEqual(0);
    await r.waitForMessage('two');
    expect(r.messages).toEqual(['one', 'two']);
  });

  it('close releases the LISTEN connection and the pool', async () => {
    const ps = await createPgPubSub({ connectionString: db.url, applicationName: 'pubsub-close-test' });
    await ps.subscribe('c1', () => {});
    await ps.publish('c1', 'x');
    const c = await rawClient();
    const count = async () => (await c.query("select count(*)::int as n from pg_stat_activity where application_name like 'pubsub-close-test%'")).rows[0].n as number;
    expect(await count()).toBeGreaterThanOrEqual(2);
    await ps.close();
    await waitFor(async () => (await count()) === 0, { what: 'connections to close' });
    expect((ps as PgPubSub).connected).toBe(false);
  });
});
