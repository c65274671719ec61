#!/usr/bin/env node
// `npm run example`: the local cluster (`npm start`'s launcher, tools/start.mjs) and the example app
// examples/react-chat on Vite's dev server, which proxies /api to replica 1 with the cluster's token (see the
// example's vite.config.ts). Prints the page's URL; Ctrl-C stops both. EXAMPLE_PORT moves the page (default 5173);
// the launcher's own variables (CHATD_REPLICAS, CHATD_BASE_PORT, CHATD_STATE_DIR, ...) work as with `npm start`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = path.resolve(process.env.CHATD_STATE_DIR ?? path.join(root, '.chatd'));
const port = Number(process.env.EXAMPLE_PORT ?? 5173);
const exampleDir = path.join(root, 'examples', 'react-chat');
const log = (msg) => console.log(`[example] ${msg}`);

if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`[example] EXAMPLE_PORT must be a port, got "${process.env.EXAMPLE_PORT}"`);
  process.exit(1);
}

const cluster = spawn(process.execPath, [path.join(root, 'tools', 'start.mjs')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
let page;
let stopping = false;

function stop(code) {
  if (stopping) return;
  stopping = true;
  page?.kill('SIGTERM');
  if (cluster.exitCode === null && cluster.signalCode === null) {
    cluster.once('exit', () => process.exit(code));
    cluster.kill('SIGINT');
  } else process.exit(code);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
cluster.on('exit', (code) => {
  if (!stopping) {
    console.error(`[example] the cluster launcher exited (${code}); stopping`);
    stop(code ?? 1);
  }
});

// The launcher prints its banner once every replica answers and cluster.json is written.
cluster.stdout.setEncoding('utf8');
cluster.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (page || !chunk.includes('chatd is running')) return;
  const { replicas, token } = JSON.parse(fs.readFileSync(path.join(stateDir, 'cluster.json'), 'utf8'));
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  page = spawn(process.execPath, [vite, '--port', String(port), '--strictPort'], {
    cwd: exampleDir,
    env: { ...process.env, CHATD_URL: replicas[0].url, CHATD_TOKEN: token },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  page.stdout.setEncoding('utf8');
  page.stdout.on('data', (out) => {
    if (out.includes('ready in')) log(`the react-chat example: http://127.0.0.1:${port}/   (API proxied to ${replicas[0].url})   Ctrl-C stops everything.`);
  });
  page.on('exit', (code) => {
    if (!stopping) {
      console.error(`[example] the page server exited (${code}); stopping`);
      stop(code ?? 1);
    }
  });
});
