#!/usr/bin/env node
// Runs `npm ci` when node_modules is missing or older than package-lock.json, so `npm start` and
// `npm test` work as the very first command on a fresh clone. Uses only Node's standard library.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lock = path.join(root, 'package-lock.json');
// npm writes this file at the end of every install; its mtime is when node_modules last matched the lockfile.
const marker = path.join(root, 'node_modules', '.package-lock.json');

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

const lockTime = mtime(lock);
const installed = mtime(marker);
if (lockTime === undefined) {
  console.error('ensure-deps: package-lock.json is missing; run `npm install` once to create it.');
  process.exit(1);
}
if (installed !== undefined && installed >= lockTime) process.exit(0);

console.error(installed === undefined ? 'ensure-deps: node_modules is missing; running `npm ci`...' : 'ensure-deps: package-lock.json changed; running `npm ci`...');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env: { ...process.env, npm_config_ignore_scripts: '' } });
if (r.status !== 0) {
  console.error('ensure-deps: `npm ci` failed; fix the error above and run it again.');
  process.exit(r.status ?? 1);
}
