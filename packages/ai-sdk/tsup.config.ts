import { defineConfig } from 'tsup';

// One browser-safe entry; `ai` and the @chatd packages stay external (the app brings them).
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
});
