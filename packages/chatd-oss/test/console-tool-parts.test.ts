// The console's tool rendering (console/tool-parts.js) on a small fake document: calls and results in messages
// and while they stream, `is_error` styling, long values cut, and every value set as text, never as HTML.
import { describe, expect, it } from 'vitest';
import {
  createLiveTools,
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
});
