// How the console shows tool calls and results (issue 26), in messages and while they stream: each call is a
// line `→ name input`, each result `← name result` (styled as an error when `is_error`), values as compact JSON
// cut at TOOL_VALUE_MAX_CHARS. Everything is set with textContent, never as HTML. Pure functions of a
// `document`, so they are tested without a browser (test/console-tool-parts.test.ts). Pending client-executed
// calls (issue 27) get a JSON box each, collected into one `tool-results` body.

/** Longest value (input or result, as JSON) shown before it is cut. */
export const TOOL_VALUE_MAX_CHARS = 2000;

/** A value as compact JSON, cut at TOOL_VALUE_MAX_CHARS. */
export function toolValueText(value) {
  let json;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  if (json === undefined) json = 'null';
  return json.length <= TOOL_VALUE_MAX_CHARS ? json : `${json.slice(0, TOOL_VALUE_MAX_CHARS)}… (${json.length - TOOL_VALUE_MAX_CHARS} more characters)`;
}

function block(doc, className, arrow, name, value, note) {
  const div = doc.createElement('div');
  div.className = className;
  const head = doc.createElement('span');
  head.className = 'tool-name';
  head.textContent = `${arrow} ${String(name)}`;
  const body = doc.createElement('span');
  body.className = 'tool-value';
  body.textContent = ` ${value}`;
  div.append(head, body);
  if (note) {
    const n = doc.createElement('span');
    n.className = 'tool-note';
    n.textContent = ` ${note}`;
    div.append(n);
  }
  return div;
}

/** A tool call: its name and input (`inputText` is the input so far while it streams). */
export function renderToolCall(doc, part, inputText) {
  const streaming = inputText !== undefined;
  const value = streaming ? inputText : toolValueText(part.args === undefined ? {} : part.args);
  const note = streaming ? '(writing…)' : part.provider_executed ? '(run by the provider)' : '';
  const div = block(doc, `tool tool-call${streaming ? ' streaming' : ''}`, '→', part.tool_name, value, note);
  div.dataset.toolCallId = String(part.tool_call_id);
  return div;
}

/** A tool result: its name and result (`resultText` is the output so far while it streams); `is-error` styling. */
export function renderToolResult(doc, part, resultText) {
  const streaming = resultText !== undefined;
  const value = streaming ? resultText : toolValueText(part.result === undefined ? null : part.result);
  const div = block(doc, `tool tool-result${part.is_error ? ' is-error' : ''}${streaming ? ' streaming' : ''}`, '←', part.tool_name, value, part.is_error ? '(error)' : streaming ? '(running…)' : '');
  div.dataset.toolCallId = String(part.tool_call_id);
  return div;
}

/**
 * The elements of a durable message's content, in order: text runs, tool calls and results, and `file` parts as
 * `renderFile` draws them (none without it).
 */
export function renderMessageContent(doc, content, renderFile) {
  const out = [];
  let text = null;
  for (const p of Array.isArray(content) ? content : []) {
    if (!p || typeof p !== 'object') continue;
    if (p.type === 'text' && typeof p.text === 'string') {
      if (!text) {
        text = doc.createElement('div');
        text.className = 'text';
        text.textContent = '';
        out.push(text);
      }
      text.textContent += p.text;
    } else if (p.type === 'tool-call' && typeof p.tool_name === 'string') {
      out.push(renderToolCall(doc, p));
      text = null;
    } else if (p.type === 'tool-result' && typeof p.tool_name === 'string') {
      out.push(renderToolResult(doc, p));
      text = null;
    } else if (p.type === 'file' && typeof p.file_id === 'string' && renderFile) {
      out.push(renderFile(p));
      text = null;
    }
  }
  return out;
}

/**
 * The tool parts of the reply in flight: calls whose input streams as `args_delta` until the complete call, and
 * results whose output streams as `result_delta` until the result. `apply` takes one streamed part and says
 * whether it was a tool part; `render` draws them in the order they began.
 */
export function createLiveTools() {
  /** @type {Map<string, {kind: 'call' | 'result', part: any, delta: string, done: boolean}>} */
  const items = new Map();
  const key = (kind, id) => `${kind}:${id}`;
  return {
    apply(part) {
      if (!part || (part.type !== 'tool-call' && part.type !== 'tool-result') || typeof part.tool_call_id !== 'string') return false;
      const kind = part.type === 'tool-call' ? 'call' : 'result';
      const k = key(kind, part.tool_call_id);
      const item = items.get(k) || { kind, part, delta: '', done: false };
      const delta = kind === 'call' ? part.args_delta : part.result_delta;
      if (typeof delta === 'string') item.delta += delta;
      else {
        item.part = part;
        item.done = true;
      }
      items.set(k, item);
      return true;
    },
    render(doc) {
      return [...items.values()].map((i) =>
        i.kind === 'call' ? renderToolCall(doc, i.part, i.done ? undefined : i.delta) : renderToolResult(doc, i.part, i.done ? undefined : i.delta),
      );
    },
    get size() {
      return items.size;
    },
  };
}

/**
 * The pending client-executed calls of a chat in `requires_action` (issue 27): per call its name and input (`args`
 * is the input as a JSON string), a JSON box for the result (`textarea.tool-answer`) and an "error" checkbox
 * (`input.tool-answer-error`), all with `dataset.toolCallId` (the call's element also `dataset.toolName`). All text is set with textContent.
 */
export function renderPendingCalls(doc, toolCalls) {
  const out = [];
  for (const c of Array.isArray(toolCalls) ? toolCalls : []) {
    if (!c || typeof c.tool_call_id !== 'string') continue;
    let input = c.args;
    try {
      input = JSON.parse(c.args);
    } catch {
      // Not JSON after all: shown as the string it is.
    }
    const div = block(doc, 'tool tool-pending', '?', c.tool_name, toolValueText(input), '');
    div.dataset.toolCallId = c.tool_call_id;
    div.dataset.toolName = String(c.tool_name);
    const box = doc.createElement('textarea');
    box.className = 'tool-answer';
    box.dataset.toolCallId = c.tool_call_id;
    box.placeholder = 'result as JSON, e.g. "yes" or {"ok":true}';
    box.rows = 2;
    const label = doc.createElement('label');
    label.className = 'tool-answer-error-label';
    const check = doc.createElement('input');
    check.type = 'checkbox';
    check.className = 'tool-answer-error';
    check.dataset.toolCallId = c.tool_call_id;
    const caption = doc.createElement('span');
    caption.textContent = ' the tool failed (is_error)';
    label.append(check, caption);
    div.append(box, label);
    out.push(div);
  }
  return out;
}

/**
 * The body of `POST /{chat}/tool-results` from the page's boxes: `answers` is one `{tool_call_id, tool_name, text,
 * isError}` per pending call. A box that is empty or not JSON refuses them all (`{error}` names the call), since the
 * route takes every pending call at once.
 */
export function collectToolResults(answers) {
  const results = [];
  for (const a of answers) {
    const text = typeof a.text === 'string' ? a.text.trim() : '';
    const name = `${String(a.tool_name)} (${String(a.tool_call_id)})`;
    if (text === '') return { error: `Write a JSON result for ${name}.` };
    let output;
    try {
      output = JSON.parse(text);
    } catch {
      return { error: `The result for ${name} is not valid JSON (a string needs quotes: "text").` };
    }
    results.push({ tool_call_id: a.tool_call_id, output, ...(a.isError ? { is_error: true } : {}) });
  }
  if (results.length === 0) return { error: 'No pending calls to answer.' };
  return { results };
}
