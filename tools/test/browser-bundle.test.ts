// The browser-safety check of tools/check-packages.mjs: @chatd/client's browser entry bundles for the browser
// with no Node built-in and no `ws`; a copy of it with a planted `node:` import, or a planted `ws` import, fails.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { browserBundleProblems } from '../browser-bundle-check.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const clientSrc = path.join(repoRoot, 'packages', 'client', 'src');
const nodePaths = [path.join(repoRoot, 'node_modules')];
const check = browserBundleProblems as (entry: string, options?: { label?: string; nodePaths?: string[] }) => Promise<string[]>;

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of the client's sources with `line` appended to chat-stream.ts. */
function plantedCopy(line: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-browser-bundle-'));
  temps.push(dir);
  fs.cpSync(clientSrc, dir, { recursive: true });
  fs.appendFileSync(path.join(dir, 'chat-stream.ts'), `\n${line}\n`);
  return path.join(dir, 'browser.ts');
}

describe('browser bundle check', () => {
  it("passes the client's browser entry", async () => {
    expect(await check(path.join(clientSrc, 'browser.ts'), { nodePaths })).toEqual([]);
  });

  it("passes the built one-file bundle the console loads", async () => {
    const bundle = path.join(repoRoot, 'packages', 'client', 'dist', 'browser', 'chatd-client.js');
    expect(fs.existsSync(bundle), 'build @chatd/client first').toBe(true);
    expect(await check(bundle)).toEqual([]);
  });

  it('fails on a planted node: import, naming it', async () => {
    const problems = await check(plantedCopy("import { readFileSync } from 'node:fs';\nexport const leak = readFileSync;"), { nodePaths });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/not browser-safe: .*node:fs/);
  });

  it('fails on a planted ws import (its browser stub bundles, but only throws)', async () => {
    const problems = await check(plantedCopy("import WebSocket from 'ws';\nexport const leak = WebSocket;"), { nodePaths });
    expect(problems.join('\n')).toMatch(/includes the ws package/);
  });

  it("fails on the Node entry, which dials with ws", async () => {
    expect((await check(path.join(clientSrc, 'index.ts'), { nodePaths })).join('\n')).toMatch(/includes the ws package/);
  });
});
