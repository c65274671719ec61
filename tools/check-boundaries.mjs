#!/usr/bin/env node
// Fails when the package graph breaks our boundaries:
//  1. an OSS package (tag scope:oss) names the enterprise package anywhere in its sources, tests,
//     package.json or built dist/ (a string check, so even a dynamic import or a comment is caught);
//  2. an edge of the graph (package.json dependencies or `@chatd/*` imports) breaks a depConstraint of
//     tools/boundaries.json (the same shape as Nx's enforce-module-boundaries rule, over project.json tags); an edge
//     seen only in devDependencies and test/ files may also reach the constraint's `testsMayDependOnLibsWithTags`;
//  3. the graph has a cycle.
// Nx's own rule ships in @nx/eslint-plugin, whose newest release (23.x) does not pair with nx 24, so the
// constraints are enforced here from the same tags. Usage: node tools/check-boundaries.mjs [--root DIR]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const rootArg = args.indexOf('--root');
const root = rootArg >= 0 ? path.resolve(args[rootArg + 1]) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const configPath = path.join(root, 'tools', 'boundaries.json');
const config = JSON.parse(fs.readFileSync(fs.existsSync(configPath) ? configPath : path.join(path.dirname(fileURLToPath(import.meta.url)), 'boundaries.json'), 'utf8'));

const problems = [];
const projects = new Map(); // package name -> { dir, tags, deps:Set }

// Packages, and the example apps (examples/*), which are held to the same rules: an example is what users copy.
const workspaceDirs = ['packages', 'examples'].map((d) => path.join(root, d));
for (const [pkgsDir, entry] of workspaceDirs.flatMap((d) => (fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).map((e) => [d, e]) : []))) {
  if (!entry.isDirectory()) continue;
  const dir = path.join(pkgsDir, entry.name);
  const pkgFile = path.join(dir, 'package.json');
  if (!fs.existsSync(pkgFile)) continue;
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  const projFile = path.join(dir, 'project.json');
  const tags = fs.existsSync(projFile) ? JSON.parse(fs.readFileSync(projFile, 'utf8')).tags ?? [] : [];
  if (!tags.some((t) => t.startsWith('scope:'))) problems.push(`${pkg.name}: project.json has no scope:* tag`);
  projects.set(pkg.name, { name: pkg.name, dir, pkg, tags, deps: new Map() });
}

function walk(dir, exts) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : walk(p, exts);
    return exts.test(e.name) ? [p] : [];
  });
}

/** Records an edge; it is test-only while every way it was seen is a devDependency or a test file. */
function addDep(p, dep, via, runtime) {
  const known = p.deps.get(dep);
  if (!known) p.deps.set(dep, { via, runtime });
  else if (runtime && !known.runtime) p.deps.set(dep, { via, runtime });
}

const importRe = /(?:from\s*|import\s*\(\s*|require\s*\(\s*|import\s+)['"](@chatd\/[a-z0-9-]+)(?:\/[^'"]*)?['"]/g;
for (const p of projects.values()) {
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const dep of Object.keys(p.pkg[field] ?? {})) if (projects.has(dep)) addDep(p, dep, `package.json ${field}`, field !== 'devDependencies');
  }
  const testDir = path.join(p.dir, 'test');
  const files = [...walk(path.join(p.dir, 'src'), /\.[cm]?[jt]sx?$/), ...walk(testDir, /\.[cm]?[jt]sx?$/), ...walk(path.join(p.dir, 'dist'), /\.(c|m)?js$|\.d\.[cm]?ts$|\.map$/)];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) if (projects.has(m[1]) && m[1] !== p.name) addDep(p, m[1], path.relative(root, file), !file.startsWith(testDir + path.sep));
    if (p.tags.includes('scope:oss')) {
      for (const name of config.enterprise.names) {
        if (text.includes(name)) problems.push(`${path.relative(root, file)}: OSS package ${p.name} names the enterprise package ("${name}")`);
      }
    }
  }
  if (p.tags.includes('scope:oss')) {
    const pkgText = JSON.stringify(p.pkg);
    for (const name of config.enterprise.names) if (pkgText.includes(name)) problems.push(`${path.relative(root, path.join(p.dir, 'package.json'))}: OSS package ${p.name} names the enterprise package`);
  }
}

for (const p of projects.values()) {
  for (const [dep, { via, runtime }] of p.deps) {
    const target = projects.get(dep);
    for (const c of config.depConstraints) {
      if (!p.tags.includes(c.sourceTag)) continue;
      // A constraint may let tests reach further than the shipped code (a browser package's tests start servers).
      const testOnlyOk = !runtime && (c.testsMayDependOnLibsWithTags ?? []).some((t) => target.tags.includes(t));
      if (c.onlyDependOnLibsWithTags && !testOnlyOk && !c.onlyDependOnLibsWithTags.some((t) => target.tags.includes(t))) {
        problems.push(`${p.name} -> ${dep} (${via}): a "${c.sourceTag}" project may only depend on ${c.onlyDependOnLibsWithTags.join(', ')}; ${dep} has ${target.tags.join(', ') || 'no tags'}`);
      }
      for (const t of c.notDependOnLibsWithTags ?? []) {
        if (target.tags.includes(t)) problems.push(`${p.name} -> ${dep} (${via}): a "${c.sourceTag}" project must not depend on "${t}"`);
      }
    }
  }
}

// Cycle detection (depth-first, colouring).
const state = new Map();
const stack = [];
function visit(name) {
  state.set(name, 'active');
  stack.push(name);
  for (const dep of projects.get(name).deps.keys()) {
    if (state.get(dep) === 'active') problems.push(`dependency cycle: ${[...stack.slice(stack.indexOf(dep)), dep].join(' -> ')}`);
    else if (!state.has(dep)) visit(dep);
  }
  stack.pop();
  state.set(name, 'done');
}
for (const name of projects.keys()) if (!state.has(name)) visit(name);

if (problems.length) {
  console.error(`check-boundaries: ${problems.length} problem(s)\n  ${[...new Set(problems)].join('\n  ')}`);
  process.exit(1);
}
const edges = [...projects.values()].reduce((n, p) => n + p.deps.size, 0);
console.log(`check-boundaries: ok (${projects.size} packages, ${edges} edges, no cycles, no OSS -> enterprise reference)`);
