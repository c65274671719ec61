// `chatd serve --tools <module>` (or CHATD_TOOLS_MODULE): server tools for a replica that runs the CLI rather
// than embedding `startChatdServer`. The module's default export (or its `tools` export) is an array of
// ServerTools, or a function of `{ env }` returning one (or a promise of one). Only the shape is checked here;
// names, schemas and the rest are checked by the registry when the replica starts.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ChatdError } from '../chatd-error.js';
import type { ServerTool } from './server-tool.js';

/** What a tools module's factory is given. */
export type ToolsModuleContext = { env: Record<string, string | undefined> };

const isTool = (t: unknown): t is ServerTool =>
  typeof t === 'object' && t !== null && typeof (t as ServerTool).name === 'string' && typeof (t as ServerTool).execute === 'function' && typeof (t as ServerTool).inputSchema === 'object';

/**
 * Imports `modulePath` (relative to `cwd`) and returns its tools. Throws ChatdError CONFIG when the module
 * cannot be imported or exports no array of tools.
 */
export async function loadToolsModule(modulePath: string, context: ToolsModuleContext, cwd = process.cwd()): Promise<ServerTool[]> {
  const file = path.resolve(cwd, modulePath);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ChatdError('CONFIG', `cannot load the tools module ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  let exported = mod.default ?? mod.tools;
  if (typeof exported === 'function') exported = await (exported as (c: ToolsModuleContext) => unknown)(context);
  if (!Array.isArray(exported)) {
    throw new ChatdError('CONFIG', `the tools module ${file} must export an array of tools (default export or "tools"), or a function returning one`);
  }
  const bad = exported.findIndex((t) => !isTool(t));
  if (bad >= 0) {
    throw new ChatdError('CONFIG', `the tools module ${file}: entry ${bad} is not a tool ({ name, inputSchema, execute })`);
  }
  return exported as ServerTool[];
}
