// Unit tests of the SSE stream socket with a fake response and the mock clock: frames as `id:`/`data:` events whose
// id is the stream query after them (client cursor rules), and an ended stream whose client does not take its last
// bytes is cut after SSE_CLOSE_TIMEOUT_MS.
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { createMockClock } from '@chatd/clock';
import { parseStreamQuery, type ChatStreamEvent } from '@chatd/protocol';
import { describe, expect, it } from 'vitest';
import { SSE_CLOSE_TIMEOUT_MS, createSseStreamSocket } from '../src/server/sse-stream-socket.js';

const CHAT = '11111111-1111-4111-8111-111111111111';
const RUN = '22222222-2222-4222-8222-222222222222';

function fakeResponse() {
  const res = Object.assign(new EventEmitter(), {
    written: '',
    writableEnded: false,
    destroyed: false,
    writableLength: 0,
    writeHead: () => res,
    flushHeaders: () => {},
    cork: () => {},
    uncork: () => {},
    write: (chunk: string | Buffer) => {
      res.written += String(chunk);
      return true;
    },
    end: () => {
      res.writableEnded = true;
    },
    destroy: () => {
      res.destroyed = true;
      res.emit('close');
    },
  });
  return res;
}

const part = (seq: number): ChatStreamEvent => ({ type: 'message_part', chat_id: CHAT, message_part: { role: 'assistant', part: { type: 'text', text: 'x' }, seq, run_id: RUN } });

describe('createSseStreamSocket', () => {
  it('writes each frame as one event whose id is the stream query that resumes after it', () => {
    const res = fakeResponse();
    const sse = createSseStreamSocket(res as unknown as ServerResponse, { afterId: 4n }, createMockClock());
    sse.sendFrame(JSON.stringify([part(1), part(2)]), [part(1), part(2)]);
    const discontinuity: ChatStreamEvent = { type: 'discontinuity', chat_id: CHAT, discontinuity: { reason: 'too_slow', resync_after_id: 4 } };
    sse.sendFrame(JSON.stringify([discontinuity]), [discontinuity]);
    const ids = [...res.written.matchAll(/^id: (.*)$/gm)].map((m) => m[1]!);
    expect(parseStreamQuery(new URLSearchParams(ids[0]))).toEqual({ afterId: 4n, afterSeq: 2, runId: RUN });
    // A discontinuity forgets the run, as the client's cursor does.
    expect(parseStreamQuery(new URLSearchParams(ids[1]))).toEqual({ afterId: 4n });
    expect(res.written).toContain(`data: ${JSON.stringify([part(1), part(2)])}\n\n`);
  });

  it('cuts an ended stream whose client has not taken its last bytes after SSE_CLOSE_TIMEOUT_MS', async () => {
    const clock = createMockClock();
    const res = fakeResponse();
    const sse = createSseStreamSocket(res as unknown as ServerResponse, {}, clock);
    sse.close(1008, 'client too slow');
    expect(res.writableEnded).toBe(true);
    await clock.advance(SSE_CLOSE_TIMEOUT_MS - 1);
    expect(res.destroyed).toBe(false);
    await clock.advance(1);
    expect(res.destroyed).toBe(true);
  });
});
