// `chatd-enterprise migrate`: the chat store's migrations, then the replica registry's, under the same
// advisory lock as `chatd migrate` (it is that command over both sources); like it, it gives an empty
// database its default model configuration unless told not to.
import { createMigrateCommand, type CliCommand } from '@chatd/oss';
import { ENTERPRISE_MIGRATION_SOURCES } from '../enterprise-migrations.js';

/** `chatd-enterprise migrate [--database-url URL] [--no-default-model]` */
export const enterpriseMigrateCommand: CliCommand = createMigrateCommand({
  sources: ENTERPRISE_MIGRATION_SOURCES,
  summary: 'apply database migrations (chat store, then replica registry)',
});
