import { describe, expect, it } from 'vitest';
import { CHAT_MESSAGE_PART_TYPES, chatMessagePartSchema, type ChatMessagePart } from '../src/index.js';

const valid: ChatMessagePart[] = [
  { type: 'text', text: 'hello' },
  { type: 'text', text: '' },
  { type: 'reasoning', text: 'think', signature: 'sig' },
  { type: 'tool-call', tool_call_id: 'c1', tool_name: 'search', args: { q: 'x', n: [1, 2] } },
  { type: 'tool-call', tool_call_id: 'c1', tool_name: 'search', args_delta: '{"q":' },
  { type: 'tool-call', tool_call_id: 'c2', tool_name: 'web_search', args: {}, provider_executed: true },
  { type: 'tool-result', tool_call_id: 'c1', tool_name: 'search', result: ['a'], is_error: false },
  { type: 'tool-result', tool_call_id: 'c1', tool_name: 'search', result_delta: 'partial' },
  { type: 'tool-result', tool_call_id: 'c1', tool_name: 'search', result: { error: 'cancelled' }, is_error: true },
  { type: 'source', source_id: 's1', url: 'https://example.com', title: 'Example' },
  { type: 'file', file_id: '3f2504e0-4f89-11d3-9a0c-0305e82c3301', media_type: 'image/png', name: 'a.png' },
  { type: 'file', file_id: 'f', media_type: 'text/plain' },
];

describe('chatMessagePartSchema', () => {
  it('accepts every part type of the contract (message parts, tool and file parts) unchanged', () => {
    for (const part of valid) expect(chatMessagePartSchema.parse(part), JSON.stringify(part)).toEqual(part);
    expect([...new Set(valid.map((p) => p.type))].sort()).toEqual([...CHAT_MESSAGE_PART_TYPES].sort());
  });

  it('refuses parts without a known type or without the fields their type needs', () => {
    const invalid: unknown[] = [
      null,
      'text',
      {},
      { type: 'image', text: 'x' },
      { type: 'TEXT', text: 'x' },
      { type: 'text' },
      { type: 'text', text: 3 },
      { type: 'reasoning' },
      { type: 'reasoning', text: 'x', signature: 1 },
      { type: 'tool-call', tool_name: 'search' },
      { type: 'tool-call', tool_call_id: 'c1' },
      { type: 'tool-call', tool_call_id: 'c1', tool_name: 'search', args_delta: {} },
      { type: 'tool-call', tool_call_id: 'c1', tool_name: 'search', provider_executed: 'yes' },
      { type: 'tool-result', tool_call_id: 'c1' },
      { type: 'tool-result', tool_call_id: 'c1', tool_name: 'search', is_error: 'no' },
      { type: 'tool-result', tool_call_id: 'c1', tool_name: 'search', result_delta: 5 },
      { type: 'source', url: 'https://example.com' },
      { type: 'source', source_id: 's1' },
      { type: 'file', media_type: 'image/png' },
      { type: 'file', file_id: 'f' },
      { type: 'file', file_id: 'f', media_type: 'image/png', name: 7 },
    ];
    for (const part of invalid) expect(chatMessagePartSchema.safeParse(part).success, JSON.stringify(part)).toBe(false);
  });

  it('keeps unknown fields, and fields of other part types, out of the wire', () => {
    expect(chatMessagePartSchema.parse({ type: 'text', text: 'hi', secret: 'x', tool_name: 'search' })).toEqual({ type: 'text', text: 'hi' });
    expect(chatMessagePartSchema.parse({ type: 'file', file_id: 'f', media_type: 'image/png', data: 'AAAA', url: 'u' })).toEqual({ type: 'file', file_id: 'f', media_type: 'image/png' });
    expect(chatMessagePartSchema.parse({ type: 'tool-call', tool_call_id: 'c', tool_name: 't', args: { keep: { nested: true } }, result: 1, mcp_server_config_id: 'm' })).toEqual({
      type: 'tool-call',
      tool_call_id: 'c',
      tool_name: 't',
      args: { keep: { nested: true } },
    });
    expect(chatMessagePartSchema.parse({ type: 'source', source_id: 's', url: 'u', text: 'no' })).toEqual({ type: 'source', source_id: 's', url: 'u' });
  });
});
