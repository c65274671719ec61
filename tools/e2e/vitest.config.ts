import { defineConfig } from 'vitest/config';

// The browser test (issue 15): the built packages, a real two-replica cluster and Debian's Chromium.
// `npm run test:e2e` runs tools/e2e/ensure-chromium.mjs first; this folder is not part of `nx test tools`.
export default defineConfig({
  test: { include: ['*.e2e.test.ts'], testTimeout: 150_000, hookTimeout: 150_000, fileParallelism: false },
});
