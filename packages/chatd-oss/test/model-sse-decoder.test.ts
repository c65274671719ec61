import { describe, expect, it } from 'vitest';
import { createSseDecoder } from '../src/model/sse-decoder.js';

describe('SSE decoder', () => {
  it('returns the data of complete events and keeps partial lines for the next chunk', () => {
    const d = createSseDecoder();
    expect(d.push('data: {"a"')).toEqual([]);
    expect(d.push(':1}\n')).toEqual([]);
    expect(d.push('\ndata: [DONE]\n\n')).toEqual(['{"a":1}', '[DONE]']);
  });

  it('accepts LF, CRLF and CR line ends, including a CRLF split across chunks', () => {
    const d = createSseDecoder();
    expect(d.push('data: one\r\n\r\ndata: two\r\rdata: three\r')).toEqual(['one', 'two']);
    expect(d.push('\n\r\n')).toEqual(['three']);
  });

  it('joins multi-line data with newlines and ignores comments and other fields', () => {
    const d = createSseDecoder();
    expect(d.push(': ping\nevent: message\nid: 7\nretry: 100\ndata: first\ndata:second\n\n')).toEqual(['first\nsecond']);
    expect(d.push('event: only\n\n')).toEqual([]);
  });

  it('flushes a last event that lacked its blank line at the end of the stream', () => {
    const d = createSseDecoder();
    expect(d.push('data: tail')).toEqual([]);
    expect(d.end()).toEqual(['tail']);
    expect(createSseDecoder().end()).toEqual([]);
  });
});
