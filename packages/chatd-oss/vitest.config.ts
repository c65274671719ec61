import { defineConfig } from 'vitest/config';
import { postgresGlobalSetup, workspaceAliases } from '../../vitest.shared.js';

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: [postgresGlobalSetup],
    // Checks every response and frame against the API description (contract.md#api-description).
    setupFiles: ['test/helpers/api-conformance-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
