// `npm start` keeps its secrets to itself (issue 22 item 2): the state folder is 0700 and every file in it 0600
// (also files an older launcher left wider); the embedded PostgreSQL refuses TCP clients without the password
// (SCRAM) while the cluster's replicas work; the password, kept in .chatd/pg-password, survives a stop; and a
// data folder made by an older launcher with trust auth is switched over at the next start, data intact.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '@chatd/testkit/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { newStateDir, removeStateDir, startCluster, type Cluster } from './helpers/cluster.js';

const running: Cluster[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
});

const mode = (p: string) => fs.statSync(p).mode & 0o777;

/** Connects with `url` and runs `sql`; rejects as pg does. */
async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** 'connected', the server's SQLSTATE, or the client's message (pg refuses to start SCRAM without a password). */
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'connected',
    (e: { code?: string; message?: string }) => e.code ?? e.message ?? 'other error',
  );

/** The modes the issue asks for: folder 0700, every file directly in it 0600. */
function expectPrivate(stateDir: string) {
  expect(mode(stateDir)).toBe(0o700);
  const files = fs.readdirSync(stateDir, { withFileTypes: true }).filter((e) => e.isFile());
  expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(['cluster.json', 'pg-password']));
  for (const f of files) expect(mode(path.join(stateDir, f.name)), f.name).toBe(0o600);
}

/** The database answers only with the password: none and a wrong one are refused by the server (28P01). */
async function expectPasswordRequired(databaseUrl: string, password: string) {
  const u = new URL(databaseUrl);
  expect(decodeURIComponent(u.password)).toBe(password);
  const as = (pw: string | undefined) => `postgres://postgres${pw === undefined ? '' : `:${encodeURIComponent(pw)}`}@127.0.0.1:${u.port}/postgres`;
  // No password at all: the server asks for SCRAM (a trust server would have let us in).
  expect(await refusal(query(as(undefined), 'select 1'))).toMatch(/SASL/);
  expect(await refusal(query(as('not-the-password'), 'select 1'))).toBe('28P01');
  expect(await query(as(password), 'select 1 as one')).toEqual([{ one: 1 }]);
}

async function expectReplicasWork(c: Cluster) {
  for (const r of c.read().replicas) {
    expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
    const list = await fetch(`${r.url}/api/experimental/chats`, { headers: { 'Coder-Session-Token': c.read().token } });
    expect(list.status).toBe(200);
  }
}

describe('npm start: private state and a password-protected database', () => {
  it('state folder 0700, files 0600; TCP without the password is refused; the password survives a stop', async () => {
    const cluster = await startCluster(1);
    running.push(cluster);
    const { stateDir } = cluster;
    expectPrivate(stateDir);
    const password = fs.readFileSync(path.join(stateDir, 'pg-password'), 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(32);
    await expectPasswordRequired(cluster.read().database_url, password);
    await expectReplicasWork(cluster);

    running.pop();
    expect(await cluster.stop({ keepState: true })).toBe(0);
    try {
      const again = await startCluster(1, {}, { stateDir });
      running.push(again);
      expect(fs.readFileSync(path.join(stateDir, 'pg-password'), 'utf8').trim()).toBe(password);
      expectPrivate(stateDir);
      await expectPasswordRequired(again.read().database_url, password);
      await expectReplicasWork(again);
    } finally {
      if (running.length === 0) removeStateDir(stateDir);
    }
  });

  it('a state folder an older launcher made (world-readable, trust-auth database) is made private and switched to the password, data kept', async () => {
    // What the old launcher left: .chatd 0755 with the data folder right inside it, made with trust auth.
    const stateDir = newStateDir();
    let cluster: Cluster;
    try {
      fs.chmodSync(path.dirname(stateDir), 0o755);
      fs.chmodSync(stateDir, 0o755);
      const old = await startEmbeddedPostgres({ dataDir: path.join(stateDir, 'pg') });
      try {
        await query(old.url, 'create table trust_era (note text)');
        await query(old.url, `insert into trust_era values ('kept')`);
      } finally {
        await old.stop();
      }
      fs.writeFileSync(path.join(stateDir, 'cluster.json'), '{"token":"old"}\n', { mode: 0o644 });
      fs.chmodSync(path.join(stateDir, 'cluster.json'), 0o644);
      fs.writeFileSync(path.join(stateDir, 'notes.txt'), 'left by someone\n', { mode: 0o666 });
      fs.chmodSync(path.join(stateDir, 'notes.txt'), 0o666);
      cluster = await startCluster(1, {}, { stateDir });
    } catch (err) {
      removeStateDir(stateDir);
      throw err;
    }
    running.push(cluster);
    expectPrivate(stateDir);
    const password = fs.readFileSync(path.join(stateDir, 'pg-password'), 'utf8').trim();
    await expectPasswordRequired(cluster.read().database_url, password);
    expect(await query(cluster.read().database_url, 'select note from trust_era')).toEqual([{ note: 'kept' }]);
    await expectReplicasWork(cluster);
  });
});
