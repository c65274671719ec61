import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { createMockClock } from '@chatd/clock';
import { runCli } from '../src/cli/run-cli.js';
import { createIdentityStore } from '../src/identity/identity-store.js';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const exec = promisify(execFile);
// An empty database: `chatd migrate` builds it.
const db = useTestDatabase();
let pool: pg.Pool;

beforeAll(() => {
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => {});
});
afterAll(async () => {
  await pool.end();
});

async function cli(args: string[], env: Record<string, string | undefined> = { DATABASE_URL: db.url }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** Runs the real bin (src/bin/chatd.ts) in a child process. */
async function bin(args: string[], env: Record<string, string>) {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', path.join('src', 'bin', 'chatd.ts'), ...args], {
      cwd: pkgDir,
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout: string; stderr: string };
    return { code: x.code ?? -1, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('chatd CLI', () => {
  it('a missing DATABASE_URL is a one-line error with exit code 2 (real process)', async () => {
    const r = await bin(['migrate'], {});
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual(['chatd migrate: DATABASE_URL is not set (set it or pass --database-url)']);
    const t = await cli(['token', 'list', '--user', 'x'], {});
    expect(t).toEqual({ code: 2, out: [], err: ['chatd token: DATABASE_URL is not set (set it or pass --database-url)'] });
  });

  it('tells to migrate first when the tables are missing', async () => {
    const r = await cli(['token', 'create', '--user', 'early']);
    expect(r).toEqual({ code: 1, out: [], err: ['chatd token: the database has no chatd tables; run "chatd migrate" first'] });
  });

  it('migrate applies the migrations and the default model config, then is up to date', async () => {
    const first = await cli(['migrate']);
    expect(first.code).toBe(0);
    expect(first.out[0]).toMatch(/^migrations: applied chatd\/0001_identity\.sql, /);
    expect(first.out[1]).toMatch(/^default model config: demo\/demo /);
    const again = await cli(['migrate', '--database-url', db.url], {});
    expect(again).toEqual({ code: 0, out: ['migrations: up to date'], err: [] });
  });

  it('token create makes the user (admin with --admin) and prints the token alone on the last line', async () => {
    const r = await bin(['token', 'create', '--user', 'alice', '--admin'], { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const token = lines.at(-1)!;
    expect(token).toMatch(/^chatd_[A-Za-z0-9_-]{43}$/);
    expect(lines[0]).toMatch(/^created user alice \(.+\) admin$/);
    const identity = createIdentityStore({ pool, clock: createMockClock() });
    const who = await identity.verifyToken(token);
    expect(who).toMatchObject({ user: { username: 'alice', admin: true } });
    // A second token for the same user reuses it.
    const r2 = await cli(['token', 'create', '--user', 'alice', '--name', 'ci']);
    expect(r2.code).toBe(0);
    expect(r2.out[0]).toMatch(/^user alice /);
  });

  it('token list shows the tokens without their text; revoke stops one from working', async () => {
    const created = await cli(['token', 'create', '--user', 'bob']);
    const token = created.out.at(-1)!;
    const id = created.out[1]!.replace('token id ', '');
    const list = await cli(['token', 'list', '--user', 'bob']);
    expect(list.code).toBe(0);
    expect(list.out[0]).toBe('ID\tNAME\tCREATED\tLAST USED\tREVOKED');
    expect(list.out).toHaveLength(2);
    expect(list.out[1]!.startsWith(`${id}\t`)).toBe(true);
    expect(list.out.join('\n')).not.toContain(token);

    expect(await cli(['token', 'revoke', id])).toEqual({ code: 0, out: [`revoked ${id}`], err: [] });
    const identity = createIdentityStore({ pool, clock: createMockClock() });
    expect(await identity.verifyToken(token)).toBeUndefined();
    const again = await cli(['token', 'revoke', id]);
    expect(again.code).toBe(1);
    expect((await cli(['token', 'list', '--user', 'bob'])).out[1]).not.toMatch(/\t-$/);
  });

  it('answers usage mistakes with exit code 2 and one line', async () => {
    for (const args of [['token'], ['token', 'create'], ['token', 'revoke'], ['token', 'revoke', 'not-an-id'], ['token', 'explode'], ['frobnicate'], ['migrate', '--bogus'], []]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toEqual([]);
      if (args.length > 0) expect(r.err).toHaveLength(1);
    }
    expect((await cli(['token', 'list', '--user', 'nobody'])).code).toBe(1);
    expect((await cli(['help'])).code).toBe(0);
  });

  it('reports an unreachable database as a failure (exit 1)', async () => {
    const r = await cli(['token', 'list', '--user', 'x'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
  });
});
