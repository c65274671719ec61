// Incremental decoder for `text/event-stream` bodies (the WHATWG server-sent events format): feed it text
// as it arrives, get back the `data` of each complete event. Lines may end in LF, CRLF or CR, and may be
// split across chunks. Comments, `event`, `id` and `retry` fields are ignored: chat completions use none.
// It does not parse JSON; the caller validates each payload.

/** Decoder state for one stream. */
export interface SseDecoder {
  /** Feeds decoded text; returns the data of every event it completed, in order. */
  push(text: string): string[];
  /** Ends the stream; returns the data of a last event that lacked its blank line, if any. */
  end(): string[];
}

/** Creates a decoder for one event stream. */
export function createSseDecoder(): SseDecoder {
  let buffer = '';
  let data: string[] = [];
  let hasData = false;
  // A CR at the end of a chunk may be the first half of a CRLF split across chunks.
  let pendingCr = false;

  const takeLine = (line: string, out: string[]) => {
    if (line === '') {
      if (hasData) out.push(data.join('\n'));
      data = [];
      hasData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== 'data') return;
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    data.push(value);
    hasData = true;
  };

  return {
    push(text) {
      const out: string[] = [];
      if (pendingCr && text.startsWith('\n')) text = text.slice(1);
      pendingCr = false;
      buffer += text;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer.charCodeAt(i);
        if (ch !== 10 && ch !== 13) continue;
        takeLine(buffer.slice(start, i), out);
        if (ch === 13) {
          if (i + 1 === buffer.length) pendingCr = true;
          else if (buffer.charCodeAt(i + 1) === 10) i++;
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
      return out;
    },
    end() {
      const out: string[] = [];
      if (buffer !== '') takeLine(buffer, out);
      buffer = '';
      takeLine('', out);
      return out;
    },
  };
}
