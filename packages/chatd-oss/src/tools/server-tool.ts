// Server tools (contract.md#server-tools): what an embedding application registers with
// `startChatdServer({ tools })`, and the registry port the step loop runs them through. Types only: the
// registry (`tool-registry.ts`) validates input, bounds time and result size, limits parallel calls and never
// throws; the step loop (worker) persists calls and results and decides what a recovered run re-executes.
import type { LanguageModelV3FunctionTool } from '@ai-sdk/provider';
import type { JSONSchema7 } from '@ai-sdk/provider';
import type { z } from 'zod';

/** What a tool's `execute` is told about the call. */
export type ServerToolContext = {
  chatId: string;
  runId: string;
  /** The idempotency key: a call executed again after a replica failure keeps its id. */
  toolCallId: string;
  /** Aborted by an interrupt, a shutdown, the tool's timeout or a fenced run. */
  signal: AbortSignal;
  /** Streams part of the output as `result_delta` before the result (optional for the tool to use). */
  emit(delta: string): void;
};

/** A tool the server runs. Input is validated against `inputSchema` before `execute` sees it. */
export type ServerTool<Input = unknown, Output = unknown> = {
  /** `^[a-zA-Z0-9_-]{1,64}$`, unique among the server's tools. */
  name: string;
  description?: string;
  /** A zod schema or a JSON Schema (draft 7) object. */
  inputSchema: z.ZodType<Input> | JSONSchema7;
  /** The result must be JSON-serialisable; a throw becomes an `is_error` result the model can react to. */
  execute(input: Input, context: ServerToolContext): Output | Promise<Output>;
  /**
   * Whether running the call again after a replica failure is safe. `false`: a recovered run records
   * `{"error":"interrupted by a replica failure"}` (is_error) instead of running it again. @default true
   */
  idempotent?: boolean;
  /** Per-call time limit; past it the call's result is an `is_error` timeout. @default DEFAULT_TOOL_TIMEOUT_MS */
  timeoutMs?: number;
};

/** One call the model made. */
export type ToolCallRequest = { toolCallId: string; toolName: string; input: unknown };

/** A call's outcome, as the `tool-result` part stores it. */
export type ToolCallOutcome = { toolCallId: string; toolName: string; result: unknown; isError: boolean };

/** What the step loop passes for one step's calls. */
export type ToolRunContext = {
  chatId: string;
  runId: string;
  /** Aborting it ends every running call; calls without a result get `{"error":"cancelled"}` (is_error). */
  signal: AbortSignal;
  /** A `result_delta` chunk a tool emitted, to stream as a `tool-result` part. */
  onDelta?(toolCallId: string, toolName: string, delta: string): void;
  /** A call ended (any outcome), `durationMs` on the registry's clock: for `chatd_tool_duration_seconds`. */
  onCallEnd?(toolName: string, durationMs: number): void;
};

/** The server's tools as the step loop sees them. */
export interface ToolRegistry {
  /** The function tools to offer the model, in registration order. */
  definitions(): LanguageModelV3FunctionTool[];
  has(name: string): boolean;
  /** `idempotent` of a registered tool (true when unset); false for unknown names. */
  isIdempotent(name: string): boolean;
  /**
   * Runs one step's calls (at most MAX_PARALLEL_TOOL_CALLS at once), returning one outcome per call in the
   * order given. Never throws: unknown tools, invalid input, throws, timeouts, oversized results (over
   * MAX_TOOL_RESULT_BYTES of JSON) and cancellation all become `isError` outcomes.
   */
  runCalls(calls: readonly ToolCallRequest[], context: ToolRunContext): Promise<ToolCallOutcome[]>;
}

/** Time limit of one call. @default 60000 */
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;
/** Calls of one run executing at once. @default 4 */
export const MAX_PARALLEL_TOOL_CALLS = 4;
/** Largest result, as JSON text; a larger one is replaced by an `is_error` result. @default 1048576 */
export const MAX_TOOL_RESULT_BYTES = 1024 * 1024;
/** Result recorded for a call cancelled by an interrupt (contract.md#server-tools). */
export const CANCELLED_TOOL_RESULT = { error: 'cancelled' } as const;
/** Result recorded instead of running a non-idempotent call again after a replica failure. */
export const INTERRUPTED_TOOL_RESULT = { error: 'interrupted by a replica failure' } as const;
