import { defineConfig } from 'tsup';

// Browser-safe output: plain ES2022, no Node built-ins (test/browser-safe.test.ts checks the sources).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
});
