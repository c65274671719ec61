// The server-tool registry (contract.md#server-tools): checks the tools an embedder registers, offers them to
// the model as function tools, and runs one step's calls: input validated (zod, or a JSON Schema through zod's
// own JSON-Schema import), at most MAX_PARALLEL_TOOL_CALLS at once, each bounded in time on the injected clock
// and in result size. It never throws from `runCalls`: every failure is an `isError` outcome the model can read.
// It persists nothing and does not decide what a recovered run re-executes (the step loop does).
import type { LanguageModelV3FunctionTool, JSONSchema7 } from '@ai-sdk/provider';
import type { Clock } from '@chatd/clock';
import { z } from 'zod';
import { ChatdError } from '../chatd-error.js';
import { traceToolCall } from '../telemetry/model-spans.js';
import {
  CANCELLED_TOOL_RESULT,
  DEFAULT_TOOL_TIMEOUT_MS,
  MAX_PARALLEL_TOOL_CALLS,
  MAX_TOOL_RESULT_BYTES,
  type ServerTool,
  type ToolCallOutcome,
  type ToolCallRequest,
  type ToolRegistry,
  type ToolRunContext,
} from './server-tool.js';

/** Tag of the clock timer that bounds one call. */
export const TOOL_TIMEOUT_TIMER_TAG = 'tool-timeout';
/** A valid tool name (the providers' own rule). */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** Options of `createToolRegistry`. */
export type ToolRegistryOptions = {
  clock: Clock;
};

type Entry = {
  tool: ServerTool<unknown, unknown>;
  schema: z.ZodType;
  definition: LanguageModelV3FunctionTool;
  timeoutMs: number;
};

function isZodSchema(s: unknown): s is z.ZodType {
  return typeof s === 'object' && s !== null && '_zod' in s && typeof (s as { safeParse?: unknown }).safeParse === 'function';
}

/** The JSON Schema a model is offered (draft 7, without `$schema`: some providers refuse unknown keywords there). */
function jsonSchemaOf(schema: z.ZodType): JSONSchema7 {
  const out = z.toJSONSchema(schema, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
  delete out.$schema;
  return out as JSONSchema7;
}

function errorText(err: unknown): string {
  if (err instanceof Error && err.message !== '') return err.message;
  if (typeof err === 'string' && err !== '') return err;
  return 'the tool failed';
}

function prepare(tool: ServerTool<unknown, unknown>, index: number): Entry {
  const where = `tools[${index}]`;
  if (typeof tool !== 'object' || tool === null) throw new ChatdError('CONFIG', `${where} is not a tool object`);
  if (typeof tool.name !== 'string' || !TOOL_NAME_PATTERN.test(tool.name)) {
    throw new ChatdError('CONFIG', `${where}: tool name ${JSON.stringify(tool.name)} must match ${TOOL_NAME_PATTERN.source}`);
  }
  if (typeof tool.execute !== 'function') throw new ChatdError('CONFIG', `tool ${tool.name}: execute must be a function`);
  const timeoutMs = tool.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ChatdError('CONFIG', `tool ${tool.name}: timeoutMs must be a positive number`);
  let schema: z.ZodType;
  let inputSchema: JSONSchema7;
  try {
    if (isZodSchema(tool.inputSchema)) {
      schema = tool.inputSchema;
      inputSchema = jsonSchemaOf(schema);
    } else if (typeof tool.inputSchema === 'object' && tool.inputSchema !== null) {
      inputSchema = tool.inputSchema;
      schema = z.fromJSONSchema(tool.inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
    } else {
      throw new Error('inputSchema must be a zod schema or a JSON Schema object');
    }
  } catch (err) {
    throw new ChatdError('CONFIG', `tool ${tool.name}: unusable input schema: ${errorText(err)}`, { cause: err });
  }
  const definition: LanguageModelV3FunctionTool = { type: 'function', name: tool.name, inputSchema };
  if (tool.description !== undefined) definition.description = tool.description;
  return { tool, schema, definition, timeoutMs };
}

/** Creates the registry of `tools`; ChatdError CONFIG for a bad or duplicate name or an unusable schema. */
export function createToolRegistry(tools: readonly ServerTool<any, any>[], options: ToolRegistryOptions): ToolRegistry {
  const { clock } = options;
  const entries = new Map<string, Entry>();
  tools.forEach((tool, i) => {
    const entry = prepare(tool as ServerTool<unknown, unknown>, i);
    if (entries.has(entry.tool.name)) throw new ChatdError('CONFIG', `tool name ${entry.tool.name} is registered twice`);
    entries.set(entry.tool.name, entry);
  });

  async function runOne(call: ToolCallRequest, context: ToolRunContext): Promise<ToolCallOutcome> {
    const outcome = (result: unknown, isError: boolean): ToolCallOutcome => ({ toolCallId: call.toolCallId, toolName: call.toolName, result, isError });
    if (context.signal.aborted) return outcome({ ...CANCELLED_TOOL_RESULT }, true);
    const entry = entries.get(call.toolName);
    if (!entry) return outcome({ error: `unknown tool: ${call.toolName}` }, true);
    const parsed = entry.schema.safeParse(call.input);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
      return outcome({ error: `invalid input: ${detail}` }, true);
    }

    // One controller per call: the step's signal (interrupt, fencing, shutdown) and the timeout both abort it.
    const controller = new AbortController();
    let ending: 'cancelled' | 'timeout' | undefined;
    let settled = false;
    let wake: () => void = () => {};
    const stopped = new Promise<void>((r) => (wake = r));
    const onAbort = () => {
      ending ??= 'cancelled';
      controller.abort(context.signal.reason);
      wake();
    };
    context.signal.addEventListener('abort', onAbort, { once: true });
    const timer = clock.setTimeout(
      () => {
        ending ??= 'timeout';
        controller.abort(new Error(`tool ${call.toolName} timed out`));
        wake();
      },
      entry.timeoutMs,
      TOOL_TIMEOUT_TIMER_TAG,
    );
    try {
      const run = (async () =>
        entry.tool.execute(parsed.data, {
          chatId: context.chatId,
          runId: context.runId,
          toolCallId: call.toolCallId,
          signal: controller.signal,
          emit(delta: string) {
            if (settled || typeof delta !== 'string' || delta === '') return;
            context.onDelta?.(call.toolCallId, call.toolName, delta);
          },
        }))();
      // A tool that ignores its signal must not hold the step: the race ends the wait, its late value is dropped.
      run.catch(() => {});
      const r = await Promise.race([run.then((value) => ({ value }), (err: unknown) => ({ err })), stopped.then(() => undefined)]);
      if (ending === 'cancelled') return outcome({ ...CANCELLED_TOOL_RESULT }, true);
      if (ending === 'timeout') return outcome({ error: `timed out after ${entry.timeoutMs} ms` }, true);
      if (!r) return outcome({ ...CANCELLED_TOOL_RESULT }, true);
      if ('err' in r) return outcome({ error: errorText(r.err) }, true);
      let json: string | undefined;
      try {
        json = JSON.stringify(r.value);
      } catch (err) {
        return outcome({ error: `the result is not JSON: ${errorText(err)}` }, true);
      }
      if (json === undefined) return outcome(null, false);
      const bytes = Buffer.byteLength(json, 'utf8');
      if (bytes > MAX_TOOL_RESULT_BYTES) return outcome({ error: `result too large: ${bytes} bytes of JSON (limit ${MAX_TOOL_RESULT_BYTES})` }, true);
      // Stored as the JSON value the text decodes to (no class instances, no undefined fields).
      return outcome(JSON.parse(json), false);
    } finally {
      settled = true;
      timer.cancel();
      context.signal.removeEventListener('abort', onAbort);
    }
  }

  return {
    definitions: () => [...entries.values()].map((e) => ({ ...e.definition })),
    has: (name) => entries.has(name),
    isIdempotent: (name) => {
      const e = entries.get(name);
      return e !== undefined && e.tool.idempotent !== false;
    },
    async runCalls(calls, context) {
      const out: ToolCallOutcome[] = new Array(calls.length);
      let next = 0;
      const lane = async () => {
        while (next < calls.length) {
          const i = next++;
          const call = calls[i]!;
          const startMs = clock.nowMs();
          try {
            out[i] = await traceToolCall(call, () => runOne(call, context));
          } catch (err) {
            out[i] = { toolCallId: call.toolCallId, toolName: call.toolName, result: { error: errorText(err) }, isError: true };
          }
          context.onCallEnd?.(call.toolName, clock.nowMs() - startMs);
        }
      };
      await Promise.all(Array.from({ length: Math.min(MAX_PARALLEL_TOOL_CALLS, calls.length) }, lane));
      return out;
    },
  };
}
