// Issue 23's check that comments point at a contract the repository holds: every `contract.md#<anchor>` cited in
// packages (sources, tests, migrations, READMEs), tools, docs and the top-level documents exists in
// docs/contract.md (an explicit `<a id>` or a heading's GitHub slug), and no file cites a numbered section of the
// behavioural notes that live outside the repository (`chatd.md`, `section 0.2`, `spec 5.4`, `§`).
// Applied migrations are exempt from the second rule only: their text is checksummed at every start, so it can
// never change (contract.md#tables).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONTRACT = 'docs/contract.md';
/** This file plants citations on purpose (in its temp-dir case); it is not scanned. */
const SELF = path.relative(repoRoot, fileURLToPath(import.meta.url));

/** Migrations applied before the contract had anchors: they keep their old citations (their checksums are verified). */
const FROZEN_MIGRATIONS = new Set([
  'packages/chatd-oss/migrations/0002_model_configs.sql',
  'packages/chatd-oss/migrations/0003_chats.sql',
  'packages/chatd-oss/migrations/0004_chat_diff_statuses.sql',
  'packages/chatd-enterprise/migrations/0002_replica_credential.sql',
]);

/** Citations of the out-of-repository notes: their file names, or a numbered section. */
const NOTES_CITATIONS: RegExp[] = [
  /\b(?:chatd|gitsync)\.md\b/i,
  /shared\/spec\//i,
  /§/,
  /\bsections? \d+(?:\.\d+)*/i,
  /\bspec(?:'s)?(?: sections?)? \d+(?:\.\d+)*/i,
  /\b(?:chatd|gitsync) spec\b/i,
];

const SOURCE_FILE = /\.(?:[cm]?[jt]sx?|sql)$/;

function walk(dir: string, keep: (name: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.') ? [] : walk(p, keep);
    return keep(e.name) ? [p] : [];
  });
}

/** Files that may cite the contract, relative to `root`. */
function scannedFiles(root: string): string[] {
  const files: string[] = [];
  const pkgs = path.join(root, 'packages');
  for (const pkg of fs.existsSync(pkgs) ? fs.readdirSync(pkgs) : []) {
    for (const sub of ['src', 'test', 'migrations']) files.push(...walk(path.join(pkgs, pkg, sub), (n) => SOURCE_FILE.test(n)));
    files.push(...walk(path.join(pkgs, pkg), (n) => n === 'README.md').filter((f) => path.dirname(f) === path.join(pkgs, pkg)));
  }
  files.push(...walk(path.join(root, 'tools'), (n) => SOURCE_FILE.test(n) || n.endsWith('.md')));
  files.push(...walk(path.join(root, 'docs'), (n) => n.endsWith('.md')));
  for (const top of fs.existsSync(root) ? fs.readdirSync(root) : []) if (top.endsWith('.md')) files.push(path.join(root, top));
  return files.map((f) => path.relative(root, f).split(path.sep).join('/')).filter((f) => f !== SELF);
}

/** GitHub's slug of a heading: lower case, punctuation dropped, spaces to hyphens. */
function headingSlug(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a markdown document defines: explicit `<a id|name>` and heading slugs (repeats get -1, -2, ...). */
export function documentAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const h = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const slug = headingSlug(h[1]!);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Every problem under `root`: `file:line: ...` for a dangling anchor or a citation of the notes. */
export function contractProblems(root: string): string[] {
  const contractPath = path.join(root, CONTRACT);
  if (!fs.existsSync(contractPath)) return [`${CONTRACT}: missing`];
  const contract = fs.readFileSync(contractPath, 'utf8');
  const anchors = documentAnchors(contract);
  const problems: string[] = [];
  const ids = [...contract.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)].map((m) => m[1]!);
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`${CONTRACT}: anchor "${id}" is defined twice`);
  for (const file of scannedFiles(root)) {
    const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const where = `${file}:${i + 1}`;
      for (const m of line.matchAll(/contract\.md#([A-Za-z0-9_-]+)/g)) {
        if (!anchors.has(m[1]!)) problems.push(`${where}: dangling contract.md#${m[1]}`);
      }
      // Links inside the contract to its own anchors.
      if (file === CONTRACT) {
        for (const m of line.matchAll(/\]\(#([A-Za-z0-9_-]+)\)/g)) if (!anchors.has(m[1]!)) problems.push(`${where}: dangling #${m[1]}`);
      }
      if (FROZEN_MIGRATIONS.has(file)) return;
      for (const re of NOTES_CITATIONS) {
        const m = re.exec(line);
        if (m) problems.push(`${where}: cites the notes ("${m[0]}")`);
      }
    });
  }
  return problems;
}

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function plant(root: string, file: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), text);
}

describe('contract anchors', () => {
  it('every cited contract.md anchor exists, and nothing cites the notes outside the repository', () => {
    expect(contractProblems(repoRoot)).toEqual([]);
  });

  it('defines the anchors the brief names', () => {
    const anchors = documentAnchors(fs.readFileSync(path.join(repoRoot, CONTRACT), 'utf8'));
    const named = ['routes', 'errors', 'auth', 'title-rule', 'stream', 'events', 'snapshot-order', 'watch', 'part-cursor', 'discontinuity', 'coalescing', 'fencing', 'timings', 'steps', 'server-tools', 'client-tools', 'models', 'files', 'edit', 'sse', 'tickets', 'replica-credential', 'oversized-events', 'sync-safety-net', 'compaction', 'cost', 'not-in-scope', 'worker', 'subscribe', 'relay', 'tables', 'pubsub'];
    expect(named.filter((a) => !anchors.has(a))).toEqual([]);
  });

  it('reads explicit anchors and GitHub heading slugs', () => {
    const anchors = documentAnchors('# chatd API contract\n<a id="part-cursor"></a>\n## 1. Wire contract\n### Routes\n### Routes\n```\n# not a heading\n```\n');
    expect([...anchors].sort()).toEqual(['1-wire-contract', 'chatd-api-contract', 'part-cursor', 'routes', 'routes-1']);
  });

  it('catches a dangling anchor, a repeated anchor and citations of the notes, and spares frozen migrations', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-contract-anchors-'));
    temps.push(dir);
    const cite = (anchor: string) => `contract.md#${anchor}`;
    plant(dir, CONTRACT, `# Contract\n## Routes\n<a id="part-cursor"></a>\n<a id="twice"></a><a id="twice"></a>\nSee [the cursor](#part-cursor) and [gone](#gone).\n`);
    plant(dir, 'packages/chatd-oss/src/ok.ts', `// The cursor (${cite('part-cursor')}), the routes (${cite('routes')}).\nexport const x = 1;\n`);
    plant(dir, 'packages/chatd-oss/src/bad.ts', `// Parts (${cite('part-kursor')}).\n// Old: chatd.md 0.2\n/** Errors (section 0.1). */\n// Backoff (spec 5.4), retries (§6.3).\n`);
    plant(dir, 'packages/chatd-oss/test/bad.test.ts', `it('gitsync spec rules', () => {});\n`);
    plant(dir, 'packages/chatd-oss/migrations/0003_chats.sql', '-- Chats (chatd.md sections 0.1, 0.2).\n');
    plant(dir, 'packages/chatd-oss/migrations/0009_new.sql', `-- New (${cite('nowhere')}); see section 3.1.\n`);
    plant(dir, 'packages/chatd-oss/README.md', `[cursor](../../docs/${cite('part-cursor')}), [bad](../../docs/${cite('missing')})\n`);
    plant(dir, 'tools/check.mjs', `// ${cite('tools-gone')}\n`);
    plant(dir, 'README.md', `The [routes](docs/${cite('routes')}).\n`);
    expect(contractProblems(dir).sort()).toEqual(
      [
        'docs/contract.md: anchor "twice" is defined twice',
        'docs/contract.md:5: dangling #gone',
        'packages/chatd-oss/README.md:1: dangling contract.md#missing',
        'packages/chatd-oss/migrations/0009_new.sql:1: dangling contract.md#nowhere',
        'packages/chatd-oss/migrations/0009_new.sql:1: cites the notes ("section 3.1")',
        'packages/chatd-oss/src/bad.ts:1: dangling contract.md#part-kursor',
        'packages/chatd-oss/src/bad.ts:2: cites the notes ("chatd.md")',
        'packages/chatd-oss/src/bad.ts:3: cites the notes ("section 0.1")',
        'packages/chatd-oss/src/bad.ts:4: cites the notes ("§")',
        'packages/chatd-oss/src/bad.ts:4: cites the notes ("spec 5.4")',
        'packages/chatd-oss/test/bad.test.ts:1: cites the notes ("gitsync spec")',
        'tools/check.mjs:1: dangling contract.md#tools-gone',
      ].sort(),
    );
  });
});
