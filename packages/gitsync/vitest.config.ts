import { defineConfig } from 'vitest/config';
import { workspaceAliases } from '../../vitest.shared.js';

export default defineConfig({
  resolve: { alias: workspaceAliases },
  // No test file keeps global state, so files share one module graph: re-importing zod and the sources per file
  // cost most of the run on a loaded machine.
  test: { include: ['test/**/*.test.ts'], isolate: false },
});
