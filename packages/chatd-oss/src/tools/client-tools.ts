// Client-executed tools (contract.md#client-tools): the `unsafe_dynamic_tools` a chat is created with, checked
// and offered to the model as function tools beside the server tools; the calls a chat in `requires_action`
// waits for, and their wire form in `action_required` (`args` as a JSON string there). Values only: the store
// persists them, the step loop decides when a chat waits, the routes parse bodies.
import type { JSONSchema7, LanguageModelV3FunctionTool } from '@ai-sdk/provider';
import type { ActionRequiredToolCall } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { TOOL_NAME_PATTERN } from './tool-registry.js';

/** Most `unsafe_dynamic_tools` one chat may carry (the original's limit). @default 250 */
export const MAX_DYNAMIC_TOOLS = 250;
/** Bytes of the tools' `input_schema`s together, as JSON text. @default 262144 */
export const MAX_DYNAMIC_TOOL_SCHEMA_BYTES = 256 * 1024;
/** How long a chat waits in `requires_action` for the client's results. @default 300000 */
export const DEFAULT_REQUIRES_ACTION_TIMEOUT_MS = 300_000;
/** The result each pending call gets when the deadline passes. */
export const NO_RESULT_IN_TIME_RESULT = { error: 'no result from the client in time' } as const;

/** A tool the client runs, as created. */
export type DynamicTool = { name: string; description?: string; input_schema: Record<string, unknown> };

/** A call a chat in `requires_action` waits for; `args` is the input as a JSON value (as the tool-call part has it). */
export type PendingToolCall = { tool_call_id: string; tool_name: string; args: unknown };

/** One result a client submits. */
export type ClientToolResult = { tool_call_id: string; output: unknown; is_error?: boolean };

type Validation = { field: string; detail: string };

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks `unsafe_dynamic_tools`: an array of at most MAX_DYNAMIC_TOOLS `{name, description?, input_schema}`,
 * names valid, unique and not those of server tools, schemas objects of at most MAX_DYNAMIC_TOOL_SCHEMA_BYTES in
 * all. INVALID_INPUT with `validations` otherwise.
 */
export function parseDynamicTools(value: unknown, serverToolNames: ReadonlySet<string> = new Set()): DynamicTool[] {
  const fail = (validations: Validation[]) => new ChatdError('INVALID_INPUT', 'Invalid unsafe_dynamic_tools.', { validations });
  if (!Array.isArray(value)) throw fail([{ field: 'unsafe_dynamic_tools', detail: 'must be an array' }]);
  if (value.length > MAX_DYNAMIC_TOOLS) throw fail([{ field: 'unsafe_dynamic_tools', detail: `at most ${MAX_DYNAMIC_TOOLS} tools` }]);
  const validations: Validation[] = [];
  const seen = new Set<string>();
  const out: DynamicTool[] = [];
  let schemaBytes = 0;
  value.forEach((t: unknown, i) => {
    const at = `unsafe_dynamic_tools.${i}`;
    if (!isPlainObject(t)) {
      validations.push({ field: at, detail: 'must be an object' });
      return;
    }
    const { name, description, input_schema: schema } = t;
    if (typeof name !== 'string' || !TOOL_NAME_PATTERN.test(name)) validations.push({ field: `${at}.name`, detail: `must match ${TOOL_NAME_PATTERN.source}` });
    else if (seen.has(name)) validations.push({ field: `${at}.name`, detail: `${name} is given twice` });
    else if (serverToolNames.has(name)) validations.push({ field: `${at}.name`, detail: `${name} is the name of a server tool` });
    if (typeof name === 'string') seen.add(name);
    if (description !== undefined && typeof description !== 'string') validations.push({ field: `${at}.description`, detail: 'must be a string' });
    if (!isPlainObject(schema)) validations.push({ field: `${at}.input_schema`, detail: 'must be a JSON Schema object' });
    else schemaBytes += Buffer.byteLength(JSON.stringify(schema), 'utf8');
    if (validations.length === 0) out.push({ name: name as string, ...(typeof description === 'string' ? { description } : {}), input_schema: schema as Record<string, unknown> });
  });
  if (schemaBytes > MAX_DYNAMIC_TOOL_SCHEMA_BYTES) validations.push({ field: 'unsafe_dynamic_tools', detail: `input schemas take ${schemaBytes} bytes of JSON (limit ${MAX_DYNAMIC_TOOL_SCHEMA_BYTES})` });
  if (validations.length > 0) throw fail(validations);
  return out;
}

/** The function tools a chat's client tools are offered to the model as. */
export function clientToolDefinitions(tools: readonly DynamicTool[]): LanguageModelV3FunctionTool[] {
  return tools.map((t) => ({
    type: 'function',
    name: t.name,
    inputSchema: t.input_schema as JSONSchema7,
    ...(t.description !== undefined ? { description: t.description } : {}),
  }));
}

/** The `tool_calls` of an `action_required` event or watch frame: `args` as JSON text. */
export function actionRequiredCalls(calls: readonly PendingToolCall[]): ActionRequiredToolCall[] {
  return calls.map((c) => ({ tool_call_id: c.tool_call_id, tool_name: c.tool_name, args: JSON.stringify(c.args ?? {}) }));
}
