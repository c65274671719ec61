// Shared vitest settings for every package: workspace packages resolve to their sources,
// so a package tests on its own (`npm test -w @chatd/x`) without building its dependencies first.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(fileURLToPath(import.meta.url));

const packageDirs: Record<string, string> = {
  '@chatd/clock': 'clock',
  '@chatd/protocol': 'protocol',
  '@chatd/client': 'client',
  '@chatd/ai-sdk': 'ai-sdk',
  '@chatd/pubsub': 'pubsub',
  '@chatd/channels': 'channels',
  '@chatd/gitsync': 'gitsync',
  '@chatd/oss': 'chatd-oss',
  '@chatd/enterprise': 'chatd-enterprise',
  '@chatd/testkit': 'testkit',
};

/** Aliases from each workspace package name to its `src/index.ts`. */
export const workspaceAliases = Object.fromEntries([
  // Subpath entries first: an alias also matches its name's subpaths, so `@chatd/client` alone would take these.
  ['@chatd/client/browser', path.join(root, 'packages', 'client', 'src', 'browser.ts')],
  ...Object.entries(packageDirs).map(([name, dir]) => [name, path.join(root, 'packages', dir, 'src', 'index.ts')]),
]);

/** Path of the testkit's vitest globalSetup that provides one real PostgreSQL per test run. */
export const postgresGlobalSetup = path.join(root, 'packages', 'testkit', 'src', 'global-setup.ts');
