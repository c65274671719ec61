// Subpath entry `@chatd/testkit/postgres`: the embedded PostgreSQL launcher without vitest, for tools
// such as `npm start` that run outside a test runner.
export { startEmbeddedPostgres, freePort, POSTGRES_START_TIMEOUT_MS } from './embedded-postgres.js';
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from './embedded-postgres.js';
export { TestkitError } from './testkit-error.js';
export type { TestkitErrorCode } from './testkit-error.js';
