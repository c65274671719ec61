// Applies plain ordered `.sql` migration files under a PostgreSQL advisory lock, tracking what ran in
// `chatd_migrations` (source, name, sha256). Several sources run in the order given, so a package that
// depends on @chatd/oss passes its own source after (or before) `CHATD_MIGRATION_SOURCE`. It never
// rolls back an applied file and refuses to go on when an applied file's text has changed.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ChatdError } from './chatd-error.js';

/** Key of the session-level advisory lock held while migrating ("chatdmig" as ASCII). */
export const MIGRATION_LOCK_KEY = 0x63686174646d6967n;

/** One migration file. */
export type Migration = {
  /** File name, e.g. `0001_identity.sql`; files apply in name order. */
  name: string;
  sql: string;
};

/** An ordered set of migrations owned by one package. */
export type MigrationSource = {
  /** Unique name of the source (the owning package), recorded beside each applied file. */
  name: string;
  migrations: readonly Migration[];
};

/** Outcome of `migrate`. */
export type MigrateResult = {
  /** `source/name` of each file applied by this call, in order. */
  applied: string[];
};

/** Reads every `*.sql` file of `dir`, sorted by name. */
export function loadMigrationDir(dir: string): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => ({ name, sql: fs.readFileSync(path.join(dir, name), 'utf8') }));
}

/** A migration source named `name` made of the `*.sql` files of `dir` (for packages that add their own tables). */
export function createMigrationSource(name: string, dir: string): MigrationSource {
  return { name, migrations: loadMigrationDir(dir) };
}

/**
 * Finds this package's `migrations/` folder by walking up from this module to the folder whose
 * package.json names @chatd/oss, so it works from `src/` (tests) and from any file of the built `dist/`.
 */
export function findMigrationDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkgFile = path.join(dir, 'package.json');
    if (fs.existsSync(pkgFile)) {
      const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { name?: string };
      if (pkg.name === '@chatd/oss') return path.join(dir, 'migrations');
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Bundled into another package's output: resolve the installed @chatd/oss instead.
  try {
    const pkgFile = createRequire(import.meta.url).resolve('@chatd/oss/package.json');
    return path.join(path.dirname(pkgFile), 'migrations');
  } catch (cause) {
    throw new ChatdError('MIGRATION_FAILED', 'cannot find the migrations folder of @chatd/oss', { cause });
  }
}

/** The chat store's own migrations. */
export const CHATD_MIGRATION_SOURCE: MigrationSource = createMigrationSource('chatd', findMigrationDir());

/** A hash of the given sources' SQL text: changes whenever any migration changes. */
export function migrationsKey(sources: readonly MigrationSource[]): string {
  const h = createHash('sha256');
  for (const s of sources) {
    for (const m of s.migrations) h.update(`${s.name}\0${m.name}\0${m.sql}\0`);
  }
  return h.digest('hex').slice(0, 32);
}

/** Hash of the chat store's migrations, for `useTestDatabase({ key: MIGRATIONS_KEY, migrate })`. */
export const MIGRATIONS_KEY = migrationsKey([CHATD_MIGRATION_SOURCE]);

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

/**
 * Applies every not-yet-applied migration of `sources` (default: the chat store's) to the database at
 * `target` (a connection string or a pool). Safe to run from several processes at once: they serialise
 * on an advisory lock and later ones find nothing to do. Throws `ChatdError` MIGRATION_FAILED.
 */
export async function migrate(target: string | pg.Pool, options: { sources?: readonly MigrationSource[] } = {}): Promise<MigrateResult> {
  const sources = options.sources ?? [CHATD_MIGRATION_SOURCE];
  const ownPool = typeof target === 'string';
  const pool = typeof target === 'string' ? new pg.Pool({ connectionString: target, max: 1 }) : target;
  // Only our own pool gets a listener: a caller's pool has its own, and adding one per call would leak.
  if (ownPool) pool.on('error', () => {});
  const applied: string[] = [];
  try {
    const client = await pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
      try {
        await client.query(`CREATE TABLE IF NOT EXISTS chatd_migrations (
          source text NOT NULL, name text NOT NULL, checksum text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, name))`);
        const { rows } = await client.query<{ source: string; name: string; checksum: string }>('SELECT source, name, checksum FROM chatd_migrations');
        const done = new Map(rows.map((r) => [`${r.source}/${r.name}`, r.checksum]));
        for (const source of sources) {
          for (const m of source.migrations) {
            const id = `${source.name}/${m.name}`;
            const sum = checksum(m.sql);
            const prior = done.get(id);
            if (prior !== undefined) {
              if (prior !== sum) throw new ChatdError('MIGRATION_FAILED', `migration ${id} was changed after it was applied`);
              continue;
            }
            await client.query('BEGIN');
            try {
              await client.query(m.sql);
              await client.query('INSERT INTO chatd_migrations (source, name, checksum) VALUES ($1, $2, $3)', [source.name, m.name, sum]);
              await client.query('COMMIT');
            } catch (cause) {
              await client.query('ROLLBACK').catch(() => {});
              throw new ChatdError('MIGRATION_FAILED', `migration ${id} failed: ${(cause as Error).message}`, { cause });
            }
            applied.push(id);
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => {});
      }
    } finally {
      client.release();
    }
  } catch (err) {
    if (err instanceof ChatdError) throw err;
    throw new ChatdError('MIGRATION_FAILED', `migrate: ${(err as Error).message}`, { cause: err });
  } finally {
    if (ownPool) await pool.end().catch(() => {});
  }
  return { applied };
}
