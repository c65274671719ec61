// How the terminal client shows tool calls and results: one line each, `→ get_time {}` for a call and
// `← get_time "2026-..."` for its result (`(error)` after an `is_error` one), each printed once per
// `tool_call_id` whether it arrives as a streamed part or in a durable message. Values are printed as compact
// JSON, which escapes control characters, so a tool's output cannot drive the terminal; long values are cut.
// A call the client must answer (issue 27) prints as `? confirm {...}` with the command that answers it.
import type { ActionRequiredToolCall, ChatMessage, ChatMessagePart, ChatMessagePartOf } from '@chatd/protocol';

/** Longest value (input or result, as JSON) printed on a tool line before it is cut. @default 200 */
export const TOOL_LINE_MAX_CHARS = 200;

/** A value as compact JSON, cut at TOOL_LINE_MAX_CHARS. */
function compact(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value) ?? 'null';
  } catch {
    json = '"[unprintable]"';
  }
  if (json.length <= TOOL_LINE_MAX_CHARS) return json;
  return `${json.slice(0, TOOL_LINE_MAX_CHARS)}… (${json.length - TOOL_LINE_MAX_CHARS} more characters)`;
}

/** `→ <tool_name> <input as JSON>`. */
export function formatToolCall(part: ChatMessagePartOf<'tool-call'>): string {
  return `→ ${part.tool_name} ${compact(part.args ?? {})}${part.provider_executed ? ' (run by the provider)' : ''}`;
}

/** `← <tool_name> <result as JSON>`, `(error)` after an error result. */
export function formatToolResult(part: ChatMessagePartOf<'tool-result'>): string {
  return `← ${part.tool_name} ${compact(part.result ?? null)}${part.is_error ? ' (error)' : ''}`;
}

/** An id as typed on a command line: bare when plain, single-quoted otherwise; control characters only escaped. */
const shellSafe = (id: string): string => {
  if (/^[\w.:-]+$/.test(id)) return id;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id)) return compact(id);
  return `'${id.replace(/'/g, "'\\''")}'`;
};

/** `? <tool_name> <input as JSON>  (answer with: chatd tool-results <chat> <id>=<json>)` for a pending client call. */
export function formatPendingCall(call: ActionRequiredToolCall, chatId: string): string {
  let input: unknown;
  try {
    input = JSON.parse(call.args);
  } catch {
    // Not JSON after all: shown as the string it is (still escaped).
    input = call.args;
  }
  return `? ${call.tool_name} ${compact(input)}  (answer with: chatd tool-results ${chatId} ${shellSafe(call.tool_call_id)}=<json>)`;
}

/** Prints each complete call and each result once. */
export type ToolLinePrinter = {
  /** A streamed part: prints a complete call (not an `args_delta` chunk) or a result (not a `result_delta`). */
  part(part: ChatMessagePart): void;
  /** A durable message: prints its calls and results not printed yet, in order. */
  message(message: ChatMessage): void;
};

/** Creates a printer that hands each line to `print`. */
export function createToolLinePrinter(print: (line: string) => void): ToolLinePrinter {
  const calls = new Set<string>();
  const results = new Set<string>();
  const part = (p: ChatMessagePart) => {
    if (p.type === 'tool-call' && p.args !== undefined && p.args_delta === undefined && !calls.has(p.tool_call_id)) {
      calls.add(p.tool_call_id);
      print(formatToolCall(p));
    } else if (p.type === 'tool-result' && p.result !== undefined && p.result_delta === undefined && !results.has(p.tool_call_id)) {
      results.add(p.tool_call_id);
      print(formatToolResult(p));
    }
  };
  return {
    part,
    message(m) {
      // Durable parts are complete: a missing `args` is an empty input, a missing `result` a null one.
      for (const p of m.content ?? []) {
        if (p.type === 'tool-call') part({ type: 'tool-call', tool_call_id: p.tool_call_id, tool_name: p.tool_name, args: p.args ?? {}, ...(p.provider_executed ? { provider_executed: true } : {}) });
        else if (p.type === 'tool-result') part({ type: 'tool-result', tool_call_id: p.tool_call_id, tool_name: p.tool_name, result: p.result ?? null, ...(p.is_error ? { is_error: true } : {}) });
      }
    },
  };
}
