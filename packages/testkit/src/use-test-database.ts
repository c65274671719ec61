// The vitest face of the harness: `const db = useTestDatabase()` at the top of a test file gives
// that file its own database for its lifetime, dropped in afterAll.
import { afterAll, beforeAll, inject } from 'vitest';
import { createTestDatabase, serverUrlFromEnv, type TemplateSpec, type TestDatabase } from './test-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the run's PostgreSQL server (maintenance database). */
    chatdDatabaseUrl: string;
  }
}


/** Handle whose fields are readable once the file's `beforeAll` hooks have run. */
export type TestDatabaseHandle = {
  readonly url: string;
  readonly name: string;
  /** URL of the server's maintenance database (for creating or dropping extra databases). */
  readonly serverUrl: string;
};

/** Registers hooks that create this file's database before its tests and drop it after. */
export function useTestDatabase(template?: TemplateSpec): TestDatabaseHandle {
  let db: TestDatabase | undefined;
  let serverUrl: string | undefined;
  beforeAll(async () => {
    serverUrl = serverUrlFromEnv(inject('chatdDatabaseUrl'));
    db = await createTestDatabase(serverUrl, template);
  }, 60_000);
  afterAll(async () => {
    await db?.drop();
  });
  const need = () => {
    if (!db || !serverUrl) throw new Error('useTestDatabase: the database exists only inside tests and hooks that run after beforeAll');
    return db;
  };
  return {
    get url() {
      return need().url;
    },
    get name() {
      return need().name;
    },
    get serverUrl() {
      need();
      return serverUrl!;
    },
  };
}
