// Another build of chatd to measure against, in the same run: the packages a stream passes through (protocol,
// pubsub, oss, enterprise) at a git ref, extracted with `git archive` into a temp folder and built there beside
// this tree's node_modules. A bench child loads it through BENCH_CHATD_OSS / BENCH_CHATD_ENTERPRISE (lib/child.mjs,
// lib/chatd-oss-results.mjs loadChatd); compare.mjs alternates it with this tree's build.
import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root } from './common.mjs';

/** Workspace packages rebuilt at the ref (each with every one of them that depends on it, so no copy is mixed). */
export const BASE_PACKAGES = { '@chatd/protocol': 'protocol', '@chatd/pubsub': 'pubsub', '@chatd/oss': 'chatd-oss', '@chatd/enterprise': 'chatd-enterprise' };

/** The commit `ref` names in this repository. */
export function resolveRef(ref) {
  return execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: root, encoding: 'utf8' }).trim();
}

/**
 * Builds `packages` (default BASE_PACKAGES) at `ref` (cached per commit) and returns the commit and the entry files
 * of @chatd/oss and @chatd/enterprise, as BENCH_CHATD_OSS / BENCH_CHATD_ENTERPRISE take them.
 */
export function buildRef(ref, packages = BASE_PACKAGES) {
  const commit = resolveRef(ref);
  const dir = path.join(os.tmpdir(), `chatd-bench-base-${commit.slice(0, 12)}`);
  const entry = (pkg) => path.join(dir, 'packages', packages[pkg], 'dist', 'index.js');
  const result = { ref: commit, oss: entry('@chatd/oss'), enterprise: entry('@chatd/enterprise'), env: { BENCH_CHATD_OSS: entry('@chatd/oss'), BENCH_CHATD_ENTERPRISE: entry('@chatd/enterprise') } };
  // A cached build is reused only when it was linked to this tree (a build from a removed worktree has dangling links)
  // and holds the same packages.
  const marker = path.join(dir, '.linked-to');
  const stamp = `${root}\n${Object.values(packages).sort().join(',')}`;
  const cached = fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === stamp;
  if (cached && Object.keys(packages).every((p) => fs.existsSync(entry(p)))) return result;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  execSync(`git archive ${commit} ${Object.values(packages).map((d) => `packages/${d}`).join(' ')} tsconfig.base.json | tar -x -C ${dir}`, { cwd: root });
  // node_modules: this tree's, except the packages rebuilt here (the other workspace packages stay this tree's).
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(nm, '@chatd'), { recursive: true });
  for (const name of fs.readdirSync(path.join(root, 'node_modules'))) {
    if (name === '@chatd' || name === '.bin') continue;
    fs.symlinkSync(path.join(root, 'node_modules', name), path.join(nm, name));
  }
  for (const name of fs.readdirSync(path.join(root, 'node_modules', '@chatd'))) {
    const own = packages[`@chatd/${name}`];
    const target = own ? path.join(dir, 'packages', own) : fs.realpathSync(path.join(root, 'node_modules', '@chatd', name));
    fs.symlinkSync(target, path.join(nm, '@chatd', name));
  }
  const tsup = path.join(root, 'node_modules', '.bin', 'tsup');
  for (const d of Object.values(packages)) {
    execFileSync(tsup, ['--no-config', 'src/index.ts', '--format', 'esm', '--target', 'node20', '-d', 'dist'], { cwd: path.join(dir, 'packages', d), stdio: 'ignore' });
  }
  fs.writeFileSync(marker, stamp);
  return result;
}
