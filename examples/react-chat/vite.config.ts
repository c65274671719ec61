// The example's dev and preview server stands in for the app's own backend: it proxies `/api` to a chatd replica
// and adds the API token to every proxied request (REST, SSE and socket upgrades), so the token never reaches the
// browser and the page talks to its own origin (no CORS, no cookie). The replica and token come from
// CHATD_URL / CHATD_TOKEN, else from the local cluster's .chatd/cluster.json (`npm start` / `npm run example`).
// `vite build` needs neither.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type ProxyOptions } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The replica URL and token to proxy to, or undefined when none is configured (a build). */
function chatdTarget(): { url: string; token: string } | undefined {
  if (process.env.CHATD_URL && process.env.CHATD_TOKEN) return { url: process.env.CHATD_URL, token: process.env.CHATD_TOKEN };
  const file = path.join(process.env.CHATD_STATE_DIR ?? path.join(here, '..', '..', '.chatd'), 'cluster.json');
  if (!fs.existsSync(file)) return undefined;
  const cluster = JSON.parse(fs.readFileSync(file, 'utf8')) as { replicas: { url: string }[]; token: string };
  const first = cluster.replicas[0];
  return first ? { url: first.url, token: cluster.token } : undefined;
}

export default defineConfig(({ command, isPreview }) => {
  const target = command === 'serve' || isPreview ? chatdTarget() : undefined;
  const proxy: Record<string, ProxyOptions> | undefined = target
    ? { '/api': { target: target.url, ws: true, headers: { 'coder-session-token': target.token } } }
    : undefined;
  return {
    plugins: [react()],
    server: { host: '127.0.0.1', proxy },
    preview: { host: '127.0.0.1', proxy },
    build: { sourcemap: true },
  };
});
