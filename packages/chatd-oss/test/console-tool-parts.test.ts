// The console's tool rendering (console/tool-parts.js) on a small fake document: calls and results in messages
// and while they stream, `is_error` styling, long values cut, and every value set as text, never as HTML; pending
// client-executed calls (issue 27) with a JSON box each, collected into one body or refused with a message.
import { describe, expect, it } from 'vitest';
import {
  collectToolResults,
  createLiveTools,
  renderPendingCalls,
  renderMessageContent,
  renderToolCall,
  renderToolResult,
  TOOL_VALUE_MAX_CHARS,
  toolValueText,
  type ToolDocument,
  type ToolElement,
} from '../console/tool-parts.js';

type FakeElement = ToolElement & { tag: string; children: FakeElement[]; innerHTMLWrites: number };

/** Elements that record their children and text; `innerHTML` counts writes so a test can prove none happen. */
const doc: ToolDocument = {
  createElement(tag: string) {
    const node: FakeElement = {
      tag,
      className: '',
      textContent: '',
      dataset: {},
      children: [],
      innerHTMLWrites: 0,
      append(...nodes: ToolElement[]) {
        node.children.push(...(nodes as FakeElement[]));
      },
    };
    Object.defineProperty(node, 'innerHTML', {
      set: () => {
        node.innerHTMLWrites++;
      },
    });
    return node;
  },
};

/** The text a user sees: the element's own text, then its children's. */
const text = (e: ToolElement): string => (e.textContent ?? '') + (e as FakeElement).children.map(text).join('');
const htmlWrites = (e: ToolElement): number => (e as FakeElement).innerHTMLWrites + (e as FakeElement).children.reduce((n, c) => n + htmlWrites(c), 0);

describe('console tool parts', () => {
  it('renders a message of text, a call and a result in order, the error result styled', () => {
    const els = renderMessageContent(doc, [
      { type: 'text', text: 'Let me ' },
      { type: 'text', text: 'check.' },
      { type: 'tool-call', tool_call_id: 'c1', tool_name: 'get_time', args: {} },
      { type: 'tool-result', tool_call_id: 'c2', tool_name: 'add', result: { error: 'cancelled' }, is_error: true },
      { type: 'source', source_id: 's', url: 'https://x' },
    ]);
    expect(els.map((e) => e.className)).toEqual(['text', 'tool tool-call', 'tool tool-result is-error']);
    expect(els.map(text)).toEqual(['Let me check.', '→ get_time {}', '← add {"error":"cancelled"} (error)']);
    expect(els[1]?.dataset.toolCallId).toBe('c1');
  });

  it('sets markup from a tool as text, never as HTML', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const call = renderToolCall(doc, { type: 'tool-call', tool_call_id: 'c', tool_name: evil, args: { html: evil } });
    const result = renderToolResult(doc, { type: 'tool-result', tool_call_id: 'c', tool_name: 'get_page', result: evil });
    expect(text(call)).toBe(`→ ${evil} {"html":"<img src=x onerror=alert(1)>"}`);
    expect(text(result)).toBe(`← get_page "${evil}"`);
    expect(htmlWrites(call) + htmlWrites(result)).toBe(0);
  });

  it('streams a call input and a result output, then shows the complete ones', () => {
    const live = createLiveTools();
    expect(live.apply({ type: 'text', text: 'hi' })).toBe(false);
    expect(live.apply({ type: 'tool-call', tool_call_id: 'c1', tool_name: 'add', args_delta: '{"numbers":' })).toBe(true);
    live.apply({ type: 'tool-call', tool_call_id: 'c1', tool_name: 'add', args_delta: '[1,2]' });
    let els = live.render(doc);
    expect(els.map(text)).toEqual(['→ add {"numbers":[1,2] (writing…)']);
    expect(els[0]?.className).toBe('tool tool-call streaming');
    live.apply({ type: 'tool-call', tool_call_id: 'c1', tool_name: 'add', args: { numbers: [1, 2] } });
    live.apply({ type: 'tool-result', tool_call_id: 'c1', tool_name: 'add', result_delta: 'partial' });
    els = live.render(doc);
    expect(els.map(text)).toEqual(['→ add {"numbers":[1,2]}', '← add partial (running…)']);
    live.apply({ type: 'tool-result', tool_call_id: 'c1', tool_name: 'add', result: 3 });
    els = live.render(doc);
    expect(els.map(text)).toEqual(['→ add {"numbers":[1,2]}', '← add 3']);
    expect(els.map((e) => e.className)).toEqual(['tool tool-call', 'tool tool-result']);
    expect(live.size).toBe(2);
  });

  it('cuts long values and marks provider-executed calls', () => {
    const long = toolValueText('y'.repeat(TOOL_VALUE_MAX_CHARS));
    expect(long).toMatch(/… \(2 more characters\)$/);
    expect(text(renderToolCall(doc, { type: 'tool-call', tool_call_id: 'c', tool_name: 'web_search', args: { q: 'x' }, provider_executed: true }))).toBe(
      '→ web_search {"q":"x"} (run by the provider)',
    );
  });

  it('renders each pending client call with its input, a JSON box and an error checkbox, as text only', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const els = renderPendingCalls(doc, [
      { tool_call_id: 'c1', tool_name: 'confirm', args: '{"question":"deploy?"}' },
      { tool_call_id: 'c2', tool_name: evil, args: 'not json' },
      null,
    ]);
    expect(els.map((e) => e.className)).toEqual(['tool tool-pending', 'tool tool-pending']);
    expect(els.map((e) => e.dataset.toolCallId)).toEqual(['c1', 'c2']);
    expect(els.map((e) => e.dataset.toolName)).toEqual(['confirm', evil]);
    const kids = (e: ToolElement) => (e as FakeElement).children;
    expect(kids(els[0]!).map((c) => (c as FakeElement).tag)).toEqual(['span', 'span', 'textarea', 'label']);
    expect(text(kids(els[0]!)[0]!) + text(kids(els[0]!)[1]!)).toBe('? confirm {"question":"deploy?"}');
    expect(text(kids(els[1]!)[0]!) + text(kids(els[1]!)[1]!)).toBe(`? ${evil} "not json"`);
    const box = kids(els[0]!)[2]!;
    expect(box.className).toBe('tool-answer');
    expect(box.dataset.toolCallId).toBe('c1');
    const check = kids(kids(els[0]!)[3]!)[0]!;
    expect([check.type, check.className, check.dataset.toolCallId]).toEqual(['checkbox', 'tool-answer-error', 'c1']);
    expect(els.reduce((n, e) => n + htmlWrites(e), 0)).toBe(0);
  });

  it('collects every box into one tool-results body, is_error where checked', () => {
    expect(
      collectToolResults([
        { tool_call_id: 'c1', tool_name: 'confirm', text: ' "yes" ' },
        { tool_call_id: 'c2', tool_name: 'locate', text: '{"error":"no gps"}', isError: true },
      ]),
    ).toEqual({ results: [{ tool_call_id: 'c1', output: 'yes' }, { tool_call_id: 'c2', output: { error: 'no gps' }, is_error: true }] });
  });

  it('refuses an invalid or empty box with a message naming the call, and sends nothing', () => {
    expect(collectToolResults([{ tool_call_id: 'c1', tool_name: 'confirm', text: '"yes"' }, { tool_call_id: 'c2', tool_name: 'locate', text: 'home' }])).toEqual({
      error: 'The result for locate (c2) is not valid JSON (a string needs quotes: "text").',
    });
    expect(collectToolResults([{ tool_call_id: 'c1', tool_name: 'confirm', text: '  ' }])).toEqual({ error: 'Write a JSON result for confirm (c1).' });
    expect(collectToolResults([])).toEqual({ error: 'No pending calls to answer.' });
  });
});
