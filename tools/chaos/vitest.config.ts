// The chaos suite (`npm run test:chaos`): real replica processes of the built packages on a real PostgreSQL,
// faults injected from outside. One file at a time, long deadlines; it never runs inside `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
