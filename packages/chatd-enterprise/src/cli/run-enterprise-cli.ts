// The `chatd-enterprise` command line: the OSS commands (`token`, ...) with `serve` and `migrate` replaced
// by their enterprise versions. Same exit codes as `chatd`: 0 done, 1 failed, 2 usage or configuration.
import { runCli, type CliIo } from '@chatd/oss';
import { enterpriseMigrateCommand } from './migrate-command.js';
import { createEnterpriseServeCommand } from './serve-command.js';

/** Runs `chatd-enterprise` with `argv` (without node and the script); resolves to the exit code. Never throws. */
export function runEnterpriseCli(argv: string[], io: CliIo): Promise<number> {
  return runCli(argv, io, { name: 'chatd-enterprise', commands: { serve: createEnterpriseServeCommand(), migrate: enterpriseMigrateCommand } });
}
