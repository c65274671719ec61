// One fresh PostgreSQL database per test file, cloned from a migrated template when the caller has
// migrations. LISTEN/NOTIFY is per database, so test files never hear each other.
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { TestkitError } from './testkit-error.js';

/** A migrated template to clone test databases from. */
export type TemplateSpec = {
  /** Changes whenever the migrations change (e.g. a hash of their text); part of the template's name. */
  key: string;
  /** Applies the migrations to an empty database at `url`. */
  migrate(url: string): Promise<void>;
};

/** A database created for one test file. */
export type TestDatabase = {
  name: string;
  url: string;
  /** Drops the database, terminating any connection still open to it. Idempotent. */
  drop(): Promise<void>;
};

/** Replaces the database name in a PostgreSQL URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function ensureTemplate(serverUrl: string, spec: TemplateSpec): Promise<string> {
  const digest = createHash('sha256').update(spec.key).digest('hex').slice(0, 16);
  const name = `chatd_tpl_${digest}`;
  return admin(serverUrl, async (c) => {
    // Test files start in parallel: one builds the template, the others wait on the lock.
    const lockKey = Number.parseInt(digest.slice(0, 12), 16) % 2_147_483_647;
    await c.query('select pg_advisory_lock($1)', [lockKey]);
    try {
      const { rows } = await c.query('select datistemplate from pg_database where datname = $1', [name]);
      if (rows[0]?.datistemplate) return name;
      if (rows[0]) await c.query(`drop database ${ident(name)} with (force)`);
      await c.query(`create database ${ident(name)}`);
      try {
        await spec.migrate(withDatabase(serverUrl, name));
      } catch (cause) {
        await c.query(`drop database ${ident(name)} with (force)`).catch(() => {});
        throw cause;
      }
      // Marked only after migrating, so a half-built template is never cloned.
      await c.query(`alter database ${ident(name)} with is_template = true allow_connections = false`);
      return name;
    } finally {
      await c.query('select pg_advisory_unlock($1)', [lockKey]);
    }
  });
}

/** Creates a fresh database on the server at `serverUrl` (a template clone when `template` is given). */
export async function createTestDatabase(serverUrl: string, template?: TemplateSpec): Promise<TestDatabase> {
  const tpl = template ? await ensureTemplate(serverUrl, template) : undefined;
  const name = `chatd_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await admin(serverUrl, (c) => c.query(`create database ${ident(name)}${tpl ? ` template ${ident(tpl)}` : ''}`));
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop() {
      dropped ??= admin(serverUrl, async (c) => {
        await c.query(`drop database if exists ${ident(name)} with (force)`);
      });
      return dropped;
    },
  };
}

/** The run's server URL as provided by the global setup (or DATABASE_URL). */
export function serverUrlFromEnv(injected: string | undefined): string {
  const url = injected ?? process.env.DATABASE_URL ?? process.env.CHATD_TEST_DATABASE_URL;
  if (!url) {
    throw new TestkitError('NO_DATABASE_URL', 'no PostgreSQL for tests: add @chatd/testkit global-setup to vitest globalSetup, or set DATABASE_URL');
  }
  return url;
}
