import { defineConfig } from 'vitest/config';

// Whole-product tests: they run the built packages and real processes, one file at a time.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 180_000, fileParallelism: false },
});
