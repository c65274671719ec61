// The enterprise package's own migrations (the replica registry table), as a `MigrationSource` that runs
// after the chat store's: `migrate(pool, { sources: ENTERPRISE_MIGRATION_SOURCES })`. The folder is found by
// walking up to this package's package.json, so it works from `src/` (tests) and from the built `dist/`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHATD_MIGRATION_SOURCE, ChatdError, createMigrationSource, migrationsKey, type MigrationSource } from '@chatd/oss';

/** Name the enterprise migrations are recorded under in `chatd_migrations`. */
export const ENTERPRISE_MIGRATION_SOURCE_NAME = 'chatd-enterprise';

/** Finds this package's `migrations/` folder. Throws ChatdError MIGRATION_FAILED when it is missing. */
export function findEnterpriseMigrationDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkgFile = path.join(dir, 'package.json');
    if (fs.existsSync(pkgFile)) {
      const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { name?: string };
      if (pkg.name === '@chatd/enterprise') return path.join(dir, 'migrations');
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new ChatdError('MIGRATION_FAILED', 'cannot find the migrations folder of @chatd/enterprise');
    dir = parent;
  }
}

/** The replica registry's migrations. */
export const ENTERPRISE_MIGRATION_SOURCE: MigrationSource = createMigrationSource(ENTERPRISE_MIGRATION_SOURCE_NAME, findEnterpriseMigrationDir());

/** Every migration an enterprise replica needs, OSS first. */
export const ENTERPRISE_MIGRATION_SOURCES: readonly MigrationSource[] = [CHATD_MIGRATION_SOURCE, ENTERPRISE_MIGRATION_SOURCE];

/** Hash of `ENTERPRISE_MIGRATION_SOURCES`, for test database templates. */
export const ENTERPRISE_MIGRATIONS_KEY = migrationsKey(ENTERPRISE_MIGRATION_SOURCES);
