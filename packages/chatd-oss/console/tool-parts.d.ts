// Types of tool-parts.js for the tests (this file is not served). The document is structural: the page passes
// the browser's, the tests a small fake.
export type ToolDocument = { createElement(tag: string): ToolElement };
export type ToolElement = {
  className: string;
  textContent: string | null;
  dataset: Record<string, string>;
  append(...nodes: ToolElement[]): void;
  [prop: string]: unknown;
};
export declare const TOOL_VALUE_MAX_CHARS: number;
export declare function toolValueText(value: unknown): string;
export declare function renderToolCall(doc: ToolDocument, part: unknown, inputText?: string): ToolElement;
export declare function renderToolResult(doc: ToolDocument, part: unknown, resultText?: string): ToolElement;
export declare function renderMessageContent(doc: ToolDocument, content: unknown, renderFile?: (part: { type: 'file'; file_id: string; media_type?: string; name?: string }) => ToolElement): ToolElement[];
export declare function createLiveTools(): { apply(part: unknown): boolean; render(doc: ToolDocument): ToolElement[]; readonly size: number };
export declare function renderPendingCalls(doc: ToolDocument, toolCalls: unknown): ToolElement[];
export type ToolAnswer = { tool_call_id: string; tool_name: string; text: string; isError?: boolean };
export declare function collectToolResults(
  answers: ToolAnswer[],
): { results: { tool_call_id: string; output: unknown; is_error?: true }[]; error?: undefined } | { error: string; results?: undefined };
