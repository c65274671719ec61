import { defineConfig } from 'vitest/config';
import { postgresGlobalSetup, workspaceAliases } from '../../vitest.shared.js';

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: [postgresGlobalSetup],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
