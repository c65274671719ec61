import { defineConfig } from 'tsup';

export default defineConfig([
  // The package's entries: Node (`index`, dials with `ws`) and browsers (`browser`, the global WebSocket).
  {
    entry: { index: 'src/index.ts', browser: 'src/browser.ts' },
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    platform: 'neutral',
  },
  // One self-contained ES module of the browser entry (its dependencies included) that a page loads as it is,
  // e.g. the console's /console/chatd-client.js. tools/check-packages.mjs checks it pulls in no Node built-in.
  {
    entry: { 'browser/chatd-client': 'src/browser.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'es2020',
    platform: 'browser',
    minify: true,
    noExternal: [/.*/],
  },
]);
