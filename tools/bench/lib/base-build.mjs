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
  return buildInto(dir, { ref: commit }, packages, () => {
    execSync(`git archive ${commit} ${Object.values(packages).map((d) => `packages/${d}`).join(' ')} tsconfig.base.json | tar -x -C ${dir}`, { cwd: root });
    return {};
  });
}

/**
 * Builds `packages` as HEAD without one change: HEAD with `commit` reverted (`mainline` 1 for a merge). A file whose
 * revert conflicts (a later change touched the same lines) is taken as it was before `commit`; the result names those
 * files (`conflicted`), so a report can say where the base is not exactly HEAD.
 */
export function buildWithout(commit, { mainline, packages = BASE_PACKAGES } = {}) {
  const head = resolveRef('HEAD');
  const reverted = resolveRef(commit);
  const dir = path.join(os.tmpdir(), `chatd-bench-base-${head.slice(0, 12)}-without-${reverted.slice(0, 12)}`);
  return buildInto(dir, { ref: `${head.slice(0, 12)} without ${reverted.slice(0, 12)}` }, packages, () => {
    const work = path.join(dir, 'revert');
    const git = (cwd, ...a) => execFileSync('git', a, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    git(root, 'worktree', 'add', '--detach', work, head);
    const inPackages = (f) => Object.values(packages).some((d) => f.startsWith(`packages/${d}/src/`));
    let conflicted = [];
    try {
      try {
        git(work, 'revert', '--no-commit', ...(mainline ? ['-m', String(mainline)] : []), reverted);
      } catch {
        conflicted = git(work, 'diff', '--name-only', '--diff-filter=U').split('\n').filter(inPackages);
        for (const f of conflicted) {
          try {
            git(work, 'checkout', '--theirs', '--', f);
          } catch {
            git(work, 'rm', '-q', '--', f); // it did not exist before the change
          }
        }
      }
      for (const d of Object.values(packages)) fs.cpSync(path.join(work, 'packages', d), path.join(dir, 'packages', d), { recursive: true });
      fs.cpSync(path.join(work, 'tsconfig.base.json'), path.join(dir, 'tsconfig.base.json'));
    } finally {
      git(root, 'worktree', 'remove', '--force', work);
    }
    return { conflicted };
  });
}

/** Extracts (`extract`, which answers extra fields of the result) and builds `packages` in `dir`, or reuses a cached build there. */
function buildInto(dir, fields, packages, extract) {
  const entry = (pkg) => path.join(dir, 'packages', packages[pkg], 'dist', 'index.js');
  const result = (extra) => ({ ...fields, ...extra, oss: entry('@chatd/oss'), enterprise: entry('@chatd/enterprise'), env: { BENCH_CHATD_OSS: entry('@chatd/oss'), BENCH_CHATD_ENTERPRISE: entry('@chatd/enterprise') } });
  // A cached build is reused only when it was linked to this tree (a build from a removed worktree has dangling links)
  // and holds the same packages.
  const marker = path.join(dir, '.linked-to');
  const stamp = `${root}\n${Object.values(packages).sort().join(',')}`;
  const read = () => {
    try {
      return JSON.parse(fs.readFileSync(marker, 'utf8'));
    } catch {
      return undefined;
    }
  };
  const cached = read();
  if (cached?.stamp === stamp && Object.keys(packages).every((p) => fs.existsSync(entry(p)))) return result(cached.extra);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const extra = extract();
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
    fs.rmSync(path.join(dir, 'packages', d, 'dist'), { recursive: true, force: true });
    execFileSync(tsup, ['--no-config', 'src/index.ts', '--format', 'esm', '--target', 'node20', '-d', 'dist'], { cwd: path.join(dir, 'packages', d), stdio: 'ignore' });
  }
  fs.writeFileSync(marker, JSON.stringify({ stamp, extra }));
  return result(extra);
}
