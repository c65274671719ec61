#!/usr/bin/env node
// Publishing check: packs every public package with `npm pack`, installs the tarballs into an empty
// temporary project, and imports each package's entry (and every `exports` subpath) from plain Node ESM.
// It fails on a missing file, a wrong `exports`/`types` path, or a dependency that resolves only inside
// the workspace. It also bundles @chatd/client's browser entry, as installed, with esbuild --platform=browser and
// fails if that pulls in a Node built-in or `ws`; likewise @chatd/ai-sdk's entry. Run after `npm run build`. Usage: node tools/check-packages.mjs [--keep]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserBundleProblems } from './browser-bundle-check.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const problems = [];

function sh(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const packages = fs
  .readdirSync(path.join(root, 'packages'))
  .map((d) => ({ dir: path.join(root, 'packages', d), pkg: JSON.parse(fs.readFileSync(path.join(root, 'packages', d, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-pack-'));
const tarDir = path.join(work, 'tarballs');
const app = path.join(work, 'app');
fs.mkdirSync(tarDir);
fs.mkdirSync(app);
try {
  const tarballs = [];
  for (const { dir, pkg } of packages) {
    for (const [field, value] of Object.entries({ engines: pkg.engines, exports: pkg.exports, files: pkg.files, types: pkg.types })) {
      if (!value) problems.push(`${pkg.name}: package.json has no "${field}"`);
    }
    if (!fs.existsSync(path.join(dir, 'dist'))) {
      problems.push(`${pkg.name}: dist/ is missing; run \`npm run build\` first`);
      continue;
    }
    const out = JSON.parse(sh(npm, ['pack', '--json', '--pack-destination', tarDir], dir));
    const files = new Set(out[0].files.map((f) => f.path));
    if (!files.has('README.md')) problems.push(`${pkg.name}: README.md is not in the tarball`);
    tarballs.push(path.join(tarDir, out[0].filename));
    const declared = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
    // Every target of the exports map, conditions nested in conditions (e.g. `browser` -> `types`/`import`) included.
    const targets = (value) => (typeof value === 'string' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(targets) : []);
    declared.push(...targets(pkg.exports ?? {}));
    for (const rel of declared.filter(Boolean)) {
      const norm = rel.replace(/^\.\//, '');
      if (!files.has(norm)) problems.push(`${pkg.name}: "${rel}" is declared in package.json but not in the tarball`);
    }
  }
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'pack-check', private: true, type: 'module' }));
  // All tarballs in one install: @chatd/* dependencies resolve to each other, everything else to the registry.
  sh(npm, ['install', '--no-audit', '--no-fund', '--no-package-lock', ...tarballs], app);
  for (const { pkg } of packages) {
    const subpaths = Object.keys(pkg.exports ?? { '.': null }).filter((k) => k !== './package.json');
    for (const sub of subpaths) {
      const spec = sub === '.' ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, '')}`;
      const code = `const m = await import(${JSON.stringify(spec)}); if (Object.keys(m).length === 0) { console.error('no exports'); process.exit(3); } console.log(Object.keys(m).length);`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: app, encoding: 'utf8' });
      if (r.status !== 0) problems.push(`${spec}: import from a clean install failed:\n    ${(r.stderr || r.stdout).trim().split('\n').slice(0, 6).join('\n    ')}`);
      else console.log(`check-packages: ${spec} imports (${r.stdout.trim()} exports)`);
    }
    const installed = path.join(app, 'node_modules', ...pkg.name.split('/'));
    const types = pkg.types && path.join(installed, pkg.types);
    if (types && !fs.existsSync(types)) problems.push(`${pkg.name}: types file ${pkg.types} missing after install`);
  }
  // What a browser loads: the client's browser entry (resolved with the browser conditions) and its one-file bundle.
  const client = path.join(app, 'node_modules', '@chatd', 'client');
  for (const rel of ['dist/browser.js', 'dist/browser/chatd-client.js']) {
    const found = await browserBundleProblems(path.join(client, rel), { label: `@chatd/client ${rel}` });
    problems.push(...found);
    if (found.length === 0) console.log(`check-packages: @chatd/client ${rel} bundles for the browser with no Node built-in and no ws`);
  }
  // @chatd/ai-sdk runs in the page too (useChat's transport): its entry with the client's browser conditions.
  const aiSdk = path.join(app, 'node_modules', '@chatd', 'ai-sdk', 'dist', 'index.js');
  const aiFound = await browserBundleProblems(aiSdk, { label: '@chatd/ai-sdk dist/index.js' });
  problems.push(...aiFound);
  if (aiFound.length === 0) console.log('check-packages: @chatd/ai-sdk dist/index.js bundles for the browser with no Node built-in and no ws');
} catch (err) {
  problems.push(String(err.message ?? err));
} finally {
  if (!keep) fs.rmSync(work, { recursive: true, force: true });
}

if (problems.length) {
  console.error(`check-packages: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-packages: ok (${packages.length} packages packed, installed and imported)`);
