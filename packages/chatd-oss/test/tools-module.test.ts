// `chatd serve --tools <module>`: the module's tools are loaded as the flag documents, and a module that exports
// no tools is a clear CONFIG error, never a replica that starts without them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isChatdError } from '../src/chatd-error.js';
import { loadToolsModule } from '../src/tools/load-tools-module.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-tools-module-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const TOOL = `{ name: 'echo', inputSchema: { type: 'object' }, execute: (input) => input }`;

async function configError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isChatdError(err) && err.code === 'CONFIG', String(err)).toBe(true);
  return (err as Error).message;
}

describe('loadToolsModule', () => {
  it('takes the default export, a `tools` export, or a factory of { env }, relative to cwd', async () => {
    write('default.mjs', `export default [${TOOL}];`);
    write('named.mjs', `export const tools = [${TOOL}, { ...${TOOL}, name: 'echo2' }];`);
    write('factory.mjs', `export default async ({ env }) => [{ ...${TOOL}, name: env.TOOL_NAME }];`);
    expect((await loadToolsModule('default.mjs', { env: {} }, dir)).map((t) => t.name)).toEqual(['echo']);
    expect((await loadToolsModule(path.join(dir, 'named.mjs'), { env: {} })).map((t) => t.name)).toEqual(['echo', 'echo2']);
    const [made] = await loadToolsModule('factory.mjs', { env: { TOOL_NAME: 'from_env' } }, dir);
    expect(made?.name).toBe('from_env');
    expect(await made?.execute({ a: 1 }, {} as never)).toEqual({ a: 1 });
  });

  it('refuses a missing module, a module without tools and an entry that is not a tool, naming the file', async () => {
    expect(await configError(loadToolsModule('missing.mjs', { env: {} }, dir))).toContain('cannot load the tools module');
    write('empty.mjs', `export const other = 1;`);
    expect(await configError(loadToolsModule('empty.mjs', { env: {} }, dir))).toContain('must export an array of tools');
    write('bad-entry.mjs', `export default [${TOOL}, { name: 'no_execute', inputSchema: {} }];`);
    expect(await configError(loadToolsModule('bad-entry.mjs', { env: {} }, dir))).toMatch(/bad-entry\.mjs: entry 1 is not a tool/);
  });
});
