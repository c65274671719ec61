import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The package is loaded by browsers: its sources may import zod and each other, nothing of Node.
const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
const sources = fs.readdirSync(srcDir).filter((f) => f.endsWith('.ts')).map((f) => ({ f, text: fs.readFileSync(path.join(srcDir, f), 'utf8') }));

describe('browser safety', () => {
  it('imports only zod and its own modules', () => {
    const bad = sources.flatMap(({ f, text }) => [...text.matchAll(/from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]).filter((spec) => spec !== 'zod' && !spec?.startsWith('./')).map((spec) => `${f}: ${spec}`));
    expect(bad).toEqual([]);
  });

  it('uses no Node globals (Buffer, process, require)', () => {
    const bad = sources.filter(({ text }) => /\b(Buffer|process|require)\s*[.(]/.test(text)).map(({ f }) => f);
    expect(bad).toEqual([]);
  });
});
