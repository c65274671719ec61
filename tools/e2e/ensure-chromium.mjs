#!/usr/bin/env node
// First step of `npm run test:e2e`: makes sure Debian's Chromium is at /usr/bin/chromium (installing it with
// `apt-get install -y chromium` when missing, which needs root) and that playwright-core and the built
// packages are there. It installs nothing else, and says plainly why it stops when no browser can be had.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const say = (msg) => console.log(`[test:e2e] ${msg}`);
const stop = (msg) => {
  console.error(`[test:e2e] ${msg}`);
  process.exit(1);
};

function works() {
  if (!fs.existsSync(CHROMIUM)) return undefined;
  const r = spawnSync(CHROMIUM, ['--headless', '--no-sandbox', '--version'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

let version = works();
if (!version) {
  const why = fs.existsSync(CHROMIUM) ? `${CHROMIUM} is there but does not run` : `${CHROMIUM} is missing`;
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!isRoot || !hasApt) {
    stop(
      `NO BROWSER: ${why}, and it cannot be installed here (${!hasApt ? 'no apt-get' : 'not root'}).\n` +
        `  The browser test needs Debian's Chromium: run \`sudo apt-get install -y chromium\` (Debian/Ubuntu), then \`npm run test:e2e\` again.`,
    );
  }
  say(`${why}; installing Debian's chromium with apt-get (the first time takes a few minutes)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit', env }) : update;
  version = install.status === 0 ? works() : undefined;
  if (!version) stop(`NO BROWSER: \`apt-get install -y chromium\` did not give a working ${CHROMIUM} (exit ${install.status}); see its output above.`);
}
say(`browser: ${version}`);

try {
  await import('playwright-core');
} catch {
  stop('playwright-core is not installed: run `npm ci` (or `npm install`) at the repository root first.');
}
const built = ['chatd-oss/dist/bin/chatd.js', 'chatd-oss/console/index.html', 'testkit/dist/index.js'].every((p) => fs.existsSync(path.join(root, 'packages', p)));
if (!built) stop('the packages are not built: run `npm run build` first.');
