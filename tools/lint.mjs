#!/usr/bin/env node
// House-style lint for one package (run from the package folder): kebab-case file names, no default
// exports in src/, no bare timers (setTimeout/setInterval; setImmediate only schedules, it never waits) or
// Date.now() in src/ outside @chatd/clock, no focused or skipped
// tests, and no OSS package naming the enterprise one. Dependency-free on purpose: it runs before anything is built.
import fs from 'node:fs';
import path from 'node:path';

const pkgDir = process.cwd();
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
const isClock = pkg.name === '@chatd/clock';
const isTestkit = pkg.name === '@chatd/testkit';
const isEnterprise = pkg.name === '@chatd/enterprise';
const problems = [];

function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : walk(p);
    return /\.(ts|mts|tsx)$/.test(e.name) ? [p] : [];
  });
}

const stripComments = (src) => src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

for (const file of [...walk(path.join(pkgDir, 'src')), ...walk(path.join(pkgDir, 'test'))]) {
  const rel = path.relative(pkgDir, file);
  const base = path.basename(file).replace(/\.(test|integration\.test|d)?\.?m?tsx?$/, '').replace(/\.integration$/, '').replace(/\.test$/, '');
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(base)) problems.push(`${rel}: file names are kebab-case`);
  const code = stripComments(fs.readFileSync(file, 'utf8'));
  const inSrc = rel.startsWith('src');
  if (inSrc && /\bexport\s+default\b/.test(code) && !(isTestkit && rel.endsWith('global-setup.ts'))) problems.push(`${rel}: no default exports (named exports only)`);
  if (inSrc && !isClock && !isTestkit) {
    if (/(^|[^.\w])(setTimeout|setInterval)\s*\(/m.test(code)) problems.push(`${rel}: bare timer; take a Clock from @chatd/clock`);
    if (/\bDate\.now\s*\(/.test(code)) problems.push(`${rel}: Date.now(); read time from the injected Clock`);
  }
  if (/\b(it|test|describe)\.(only|skip|todo)\b|\bx(it|describe)\(/.test(code)) problems.push(`${rel}: focused, skipped or todo test`);
  if (!isEnterprise && /['"]@chatd\/enterprise['"]|chatd-enterprise/.test(code)) problems.push(`${rel}: an OSS package must not name the enterprise package`);
}

if (problems.length) {
  console.error(`lint ${pkg.name}: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`lint ${pkg.name}: ok`);
