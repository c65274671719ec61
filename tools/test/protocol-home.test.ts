// Issue 23's acceptance check: the wire's parsers have one home. `parseStreamQuery`, `extractSessionToken` and the
// stream frame codec (`decodeStreamFrame`, `encodeStreamFrame`) may be defined only in packages/protocol; every
// other package imports them. So may the other wire definitions that had copies before: the event encoding
// (`withEventJson`, `eventJson`), the cookie reader, `isUuid`, the frame guard and the event, part and input schemas. Re-exports from '@chatd/protocol' are fine; a definition (function, const/let/var, object
// method, or a rename `as <name>` from anywhere else) is not.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Names whose definitions belong to @chatd/protocol alone. */
const PROTOCOL_ONLY = [
  'parseStreamQuery',
  'extractSessionToken',
  'decodeStreamFrame',
  'encodeStreamFrame',
  'withEventJson',
  'eventJson',
  'cookieSessionToken',
  'isUuid',
  'isStreamEvent',
  'chatStreamEventSchema',
  'chatMessagePartSchema',
  'chatInputPartSchema',
];

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : walk(p);
    return /\.(c|m)?[jt]sx?$/.test(e.name) ? [p] : [];
  });
}

/** Line patterns that define `name` (a call or an import is none of them). */
function definitionPatterns(name: string): RegExp[] {
  return [
    new RegExp(`\\bfunction\\s*\\*?\\s*${name}\\b`),
    new RegExp(`\\b(const|let|var)\\s+${name}\\b`),
    // Object or class method shorthand: `  name(args) {` on its own line.
    new RegExp(`^\\s*(async\\s+)?${name}\\s*\\([^)]*\\)\\s*(:[^={]+)?\\{\\s*$`),
    // A property holding a function: `name: (args) =>` or `name: function`.
    new RegExp(`\\b${name}\\s*:\\s*(async\\s+)?(function\\b|\\([^)]*\\)\\s*(:[^=]+)?=>)`),
    // Another function renamed to the name (only '@chatd/protocol' may provide it).
    new RegExp(`\\bas\\s+${name}\\b`),
  ];
}

/** `file: name` for every definition of a protocol-only name outside packages/protocol (sources and tests). */
function definitionsOutsideProtocol(root: string): string[] {
  const found: string[] = [];
  for (const pkg of fs.readdirSync(path.join(root, 'packages'))) {
    if (pkg === 'protocol') continue;
    for (const file of [...walk(path.join(root, 'packages', pkg, 'src')), ...walk(path.join(root, 'packages', pkg, 'test'))]) {
      const text = fs.readFileSync(file, 'utf8');
      for (const name of PROTOCOL_ONLY) {
        if (!text.includes(name)) continue;
        const defines = text.split('\n').some((line) => {
          if (!line.includes(name) || /^\s*(\/\/|\*|\/\*)/.test(line)) return false;
          if (/from\s*['"]@chatd\/protocol['"]/.test(line)) return false;
          return definitionPatterns(name).some((re) => re.test(line));
        });
        if (defines) found.push(`${path.relative(root, file)}: ${name}`);
      }
    }
  }
  return found;
}

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('protocol home', () => {
  it('defines each protocol-only name in packages/protocol', () => {
    const protocolSrc = walk(path.join(repoRoot, 'packages', 'protocol', 'src')).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    for (const name of PROTOCOL_ONLY) expect(new RegExp(`export (function|const) ${name}\\b`).test(protocolSrc), name).toBe(true);
  });

  it('finds no definition of them in another package', () => {
    expect(definitionsOutsideProtocol(repoRoot)).toEqual([]);
  });

  it('catches planted definitions of every kind', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-protocol-home-'));
    temps.push(dir);
    const src = path.join(dir, 'packages', 'chatd-oss', 'src');
    fs.mkdirSync(src, { recursive: true });
    fs.mkdirSync(path.join(dir, 'packages', 'protocol', 'src'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.ts'), 'export function parseStreamQuery(url: URL) {\n  return url;\n}\n');
    fs.writeFileSync(path.join(src, 'b.ts'), 'export const extractSessionToken = (h: Headers) => h.get("x");\n');
    fs.writeFileSync(path.join(src, 'c.ts'), "export { pick as extractSessionToken } from './pick.js';\n");
    fs.writeFileSync(path.join(src, 'd.ts'), 'export const auth = {\n  parseStreamQuery(url: URL) {\n    return url;\n  },\n};\n');
    // The copies this issue removed, planted back: chatd-oss's own encoded-event.ts, chat-input's isUuid, a local event schema.
    fs.writeFileSync(path.join(src, 'e.ts'), 'const encodings = new WeakMap<object, string>();\nexport function withEventJson<T extends object>(e: T, json: string): T {\n  encodings.set(e, json);\n  return e;\n}\n');
    fs.writeFileSync(path.join(src, 'f.ts'), 'export function isUuid(s: unknown): s is string {\n  return typeof s === "string";\n}\nexport const chatStreamEventSchema = z.object({});\n');
    // Uses and re-exports from the protocol package are not definitions.
    fs.writeFileSync(path.join(src, 'ok.ts'), "export { parseStreamQuery } from '@chatd/protocol';\nimport { extractSessionToken } from '@chatd/protocol';\nexport const t = extractSessionToken(() => undefined);\nif (extractSessionToken(() => undefined)) parseStreamQuery(new URL('http://x'));\n");
    expect(definitionsOutsideProtocol(dir).sort()).toEqual([
      'packages/chatd-oss/src/a.ts: parseStreamQuery',
      'packages/chatd-oss/src/b.ts: extractSessionToken',
      'packages/chatd-oss/src/c.ts: extractSessionToken',
      'packages/chatd-oss/src/d.ts: parseStreamQuery',
      'packages/chatd-oss/src/e.ts: withEventJson',
      'packages/chatd-oss/src/f.ts: chatStreamEventSchema',
      'packages/chatd-oss/src/f.ts: isUuid',
    ]);
  });
});
