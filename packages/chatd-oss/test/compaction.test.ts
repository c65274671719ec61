// Unit tests of compaction's decisions (contract.md#compaction): the input estimate, the threshold and the split
// that keeps the newest part without separating a tool call from its result.
import { describe, expect, it } from 'vitest';
import type { ChatMessagePart } from '@chatd/protocol';
import { toLanguageModelPrompt } from '../src/model/language-model-prompt.js';
import { demoPromptWords } from '../src/model/demo-model.js';
import { baselineOf, estimateInput, estimatePromptTokens, passesThreshold, splitForCompaction, transcriptOf, MAX_TRANSCRIPT_TOOL_CHARS, type CompactableMessage } from '../src/worker/compaction.js';

const text = (role: CompactableMessage['role'], t: string): CompactableMessage => ({ role, content: [{ type: 'text', text: t }] });
const call = (id: string): ChatMessagePart => ({ type: 'tool-call', tool_call_id: id, tool_name: 'add', args: { numbers: [1, 2] } });
const result = (id: string): ChatMessagePart => ({ type: 'tool-result', tool_call_id: id, tool_name: 'add', result: 3 });

describe('compaction estimate', () => {
  const history = [text('user', 'one two three four'), text('assistant', 'five six'), text('user', 'seven eight nine')];

  it('counts the demo model words of the whole prompt without a reported baseline', () => {
    expect(estimateInput(history, 'sys prompt', undefined, 'demo')).toBe(demoPromptWords(toLanguageModelPrompt(history, 'sys prompt')));
    expect(estimateInput(history, 'sys prompt', undefined, 'demo')).toBe(11);
  });

  it('adds the estimate of what came after the reported input', () => {
    // The reply "five six" (index 1) reported 100 input tokens: it and the newer message are estimated on top.
    expect(estimateInput(history, '', { inputTokens: 100, fromIndex: 1 }, 'demo')).toBe(105);
    expect(baselineOf([{ role: 'user' }, { role: 'assistant', usage: { input_tokens: 7 } }, { role: 'user' }])).toEqual({ inputTokens: 7, fromIndex: 1 });
    expect(baselineOf([{ role: 'user' }])).toBeUndefined();
  });

  it('uses characters / 4 for other models', () => {
    expect(estimatePromptTokens(toLanguageModelPrompt([text('user', 'x'.repeat(41))]), 'openai')).toBe(11);
  });

  it('passes the threshold only strictly above it, never without a limit or with threshold 0', () => {
    expect(passesThreshold(30, 100, 30)).toBe(false);
    expect(passesThreshold(31, 100, 30)).toBe(true);
    expect(passesThreshold(10_000, undefined, 30)).toBe(false);
    expect(passesThreshold(10_000, 100, 0)).toBe(false);
  });
});

describe('compaction split', () => {
  it('keeps the newest units that fit and never separates a tool call from its results', () => {
    const messages: CompactableMessage[] = [
      text('system', 'be brief'),
      text('user', 'a b c d e f g h'),
      { role: 'assistant', content: [call('c1')] },
      { role: 'tool', content: [result('c1')] },
      { role: 'assistant', content: [call('c2')] },
      { role: 'tool', content: [result('c2')] },
      text('user', 'last words'),
    ];
    // Budget for the newest user message and ONE call unit (each call unit is 4 words: "add {...}" + "add 3").
    const split = splitForCompaction(messages, { keepTokens: 7, minKeptUnits: 1, kind: 'demo' });
    expect(split.system).toEqual([messages[0]]);
    expect(split.kept).toEqual(messages.slice(4));
    expect(split.older).toEqual(messages.slice(1, 4));
    // One word less: the call unit no longer fits, and it goes whole.
    const tighter = splitForCompaction(messages, { keepTokens: 5, minKeptUnits: 1, kind: 'demo' });
    expect(tighter.kept).toEqual(messages.slice(6));
    expect(tighter.older).toEqual(messages.slice(1, 6));
  });

  it('keeps at least minKeptUnits, and nothing with 0 (a manual compaction of a resting chat)', () => {
    const messages = [text('user', 'one two three'), text('assistant', 'four five six seven')];
    expect(splitForCompaction(messages, { keepTokens: 0, minKeptUnits: 1, kind: 'demo' })).toMatchObject({ older: [messages[0]], kept: [messages[1]] });
    expect(splitForCompaction(messages, { keepTokens: 0, minKeptUnits: 0, kind: 'demo' })).toMatchObject({ older: messages, kept: [] });
  });

  it('finds nothing to summarize when only the previous summary is older', () => {
    const summary: CompactableMessage = { ...text('user', 'Summary of the earlier conversation: x'), summary: true };
    const split = splitForCompaction([summary, text('user', 'new')], { keepTokens: 0, minKeptUnits: 1, kind: 'demo' });
    expect(split.older).toEqual([]);
    expect(split.kept).toHaveLength(2);
  });

  it('renders the transcript the summary request carries', () => {
    expect(transcriptOf([text('user', 'hi'), { role: 'assistant', content: [call('c1')] }, { role: 'tool', content: [result('c1')] }])).toBe(
      'User: hi\nAssistant called add {"numbers":[1,2]}\nTool add returned 3',
    );
  });

  it('cuts each tool input and result to MAX_TRANSCRIPT_TOOL_CHARS', () => {
    const big = 'x'.repeat(MAX_TRANSCRIPT_TOOL_CHARS + 500);
    const out = transcriptOf([{ role: 'tool', content: [{ type: 'tool-result', tool_call_id: 'c1', tool_name: 'read', result: big }] }]);
    // The JSON string's quotes count: 502 characters beyond the cut.
    expect(out).toBe(`Tool read returned "${'x'.repeat(MAX_TRANSCRIPT_TOOL_CHARS - 1)}… (502 more characters)`);
  });

  it('within a budget, leaves out lines in the middle and keeps both ends (the previous summary and the latest exchange)', () => {
    const messages = [
      { role: 'user' as const, summary: true, content: [{ type: 'text' as const, text: 'Summary of the earlier conversation: s' }] },
      ...Array.from({ length: 20 }, (_, n) => text(n % 2 ? 'assistant' : 'user', `line ${n} a b c d e f g`)),
    ];
    const whole = transcriptOf(messages);
    expect(transcriptOf(messages, { maxTokens: 10_000, kind: 'demo' })).toBe(whole);
    const cutOut = transcriptOf(messages, { maxTokens: 60, kind: 'demo' });
    const lines = cutOut.split('\n');
    expect(lines[0]).toBe('Summary of the earlier conversation: s');
    expect(lines.at(-1)).toBe('Assistant: line 19 a b c d e f g');
    const marker = lines.find((l) => l.startsWith('[...'))!;
    const left = Number(/\[\.\.\. (\d+) lines/.exec(marker)![1]);
    // Every line is either kept or counted as left out, and the kept ones fit the budget (demo: words).
    expect(lines.length - 1 + left).toBe(21);
    expect(cutOut.match(/\S+/g)!.length).toBeLessThanOrEqual(60);
    expect(left).toBeGreaterThan(0);
  });
});
