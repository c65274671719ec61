import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const toolsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(toolsDir, '..');
const script = path.join(toolsDir, 'check-boundaries.mjs');
const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function run(root: string) {
  const r = spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** A copy of the real workspace's package manifests and sources (no node_modules), to plant faults in. */
function copyWorkspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-boundaries-'));
  temps.push(dir);
  fs.mkdirSync(path.join(dir, 'tools'));
  fs.copyFileSync(path.join(toolsDir, 'boundaries.json'), path.join(dir, 'tools', 'boundaries.json'));
  const workspaces = ['packages', 'examples'].flatMap((ws) => (fs.existsSync(path.join(repoRoot, ws)) ? fs.readdirSync(path.join(repoRoot, ws)).map((name) => path.join(ws, name)) : []));
  for (const rel of workspaces) {
    const src = path.join(repoRoot, rel);
    const dst = path.join(dir, rel);
    fs.mkdirSync(dst, { recursive: true });
    for (const f of ['package.json', 'project.json']) if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(dst, f));
    for (const sub of ['src', 'test']) if (fs.existsSync(path.join(src, sub))) fs.cpSync(path.join(src, sub), path.join(dst, sub), { recursive: true });
  }
  return dir;
}

describe('tools/check-boundaries', () => {
  it('passes on the real tree', () => {
    const r = run(repoRoot);
    expect(r.out).toContain('check-boundaries: ok');
    expect(r.code).toBe(0);
  });

  it('fails on a planted OSS -> enterprise import in a source file', () => {
    const dir = copyWorkspace();
    fs.writeFileSync(path.join(dir, 'packages', 'chatd-oss', 'src', 'planted.ts'), "export { RelayDialError } from '@chatd/enterprise';\n");
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/packages\/chatd-oss\/src\/planted\.ts: OSS package @chatd\/oss names the enterprise package/);
    expect(r.out).toMatch(/@chatd\/oss -> @chatd\/enterprise .*must not depend on "scope:ee"/);
  });

  it('holds the example apps (examples/*) to the same rules', () => {
    const dir = copyWorkspace();
    fs.writeFileSync(path.join(dir, 'examples', 'react-chat', 'src', 'planted.ts'), "export { RelayDialError } from '@chatd/enterprise';\n");
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/examples\/react-chat\/src\/planted\.ts: OSS package @chatd\/example-react-chat names the enterprise package/);
    expect(r.out).toMatch(/@chatd\/example-react-chat -> @chatd\/enterprise .*must not depend on "scope:ee"/);
  });

  it('fails on a planted reference in a test and in a built dist/ file', () => {
    const dir = copyWorkspace();
    fs.writeFileSync(path.join(dir, 'packages', 'pubsub', 'test', 'planted.test.ts'), "await import('@chatd/enterprise');\n");
    fs.mkdirSync(path.join(dir, 'packages', 'gitsync', 'dist'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'packages', 'gitsync', 'dist', 'index.js'), 'import "../../chatd-enterprise/dist/index.js";\n');
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain('packages/pubsub/test/planted.test.ts');
    expect(r.out).toContain('packages/gitsync/dist/index.js');
  });

  it('fails on a dependency that breaks a depConstraint (a util depending on a lib)', () => {
    const dir = copyWorkspace();
    const pj = path.join(dir, 'packages', 'clock', 'package.json');
    const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
    pkg.dependencies['@chatd/channels'] = '0.1.0';
    fs.writeFileSync(pj, JSON.stringify(pkg));
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/@chatd\/clock -> @chatd\/channels .*"type:util" project may only depend on type:util/);
  });

  it('fails on a cycle in the package graph', () => {
    const dir = copyWorkspace();
    fs.writeFileSync(path.join(dir, 'packages', 'gitsync', 'src', 'planted.ts'), "export * from '@chatd/oss';\n");
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/dependency cycle: .*@chatd\/oss.*@chatd\/gitsync|dependency cycle: .*@chatd\/gitsync.*@chatd\/oss/);
  });

  it('fails when a library or the enterprise package depends on pubsub (chat types come from @chatd/protocol)', () => {
    const dir = copyWorkspace();
    fs.writeFileSync(path.join(dir, 'packages', 'gitsync', 'src', 'planted.ts'), "export type { ChatEvent } from '@chatd/pubsub';\n");
    fs.writeFileSync(path.join(dir, 'packages', 'chatd-enterprise', 'src', 'planted.ts'), "export type { PubSub } from '@chatd/pubsub';\n");
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/@chatd\/gitsync -> @chatd\/pubsub .*must not depend on "type:transport"/);
    expect(r.out).toMatch(/@chatd\/enterprise -> @chatd\/pubsub .*must not depend on "type:transport"/);
  });

  it('lets a browser package\'s tests start a server, never its shipped code', () => {
    const dir = copyWorkspace();
    fs.mkdirSync(path.join(dir, 'packages', 'ai-sdk', 'test'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'packages', 'ai-sdk', 'test', 'planted.test.ts'), "import { startChatdServer } from '@chatd/oss';\n");
    expect(run(dir).code).toBe(0);
    fs.writeFileSync(path.join(dir, 'packages', 'ai-sdk', 'src', 'planted.ts'), "export { startChatdServer } from '@chatd/oss';\n");
    const r = run(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/@chatd\/ai-sdk -> @chatd\/oss \(packages\/ai-sdk\/src\/planted\.ts\): a "type:browser" project may only depend on type:util, type:browser/);
  });
});
