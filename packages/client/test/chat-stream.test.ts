// Unit tests of openChatStream with a fake WebSocket class and the mock clock: malformed frames are
// dropped, a reconnect carries the cursor, refusals end or retry the stream by status, a lagging
// consumer pauses the socket, and a consumer that stops closes it.
import { EventEmitter } from 'node:events';
import { createMockClock } from '@chatd/clock';
import { describe, expect, it } from 'vitest';
import { isChatdClientError } from '../src/chatd-client-error.js';
import { MAX_BUFFERED_FRAMES, openChatStream, RECONNECT_TIMER_TAG } from '../src/chat-stream.js';
import { createWsSocketFactory, type WebSocketClass } from '../src/ws-stream-socket.js';
import type { ChatStreamEvent } from '@chatd/protocol';

const CHAT = '5a1d9e33-0000-4000-8000-000000000003';

/** A stand-in for `ws`: the test opens it, feeds it frames and closes it. */
class FakeSocket extends EventEmitter {
  static instances: FakeSocket[] = [];
  readonly OPEN = 1;
  readyState = 0;
  isPaused = false;
  pauses = 0;
  closedBy: 'client' | 'server' | undefined;
  constructor(
    readonly url: string,
    readonly options: { headers: Record<string, string> },
  ) {
    super();
    FakeSocket.instances.push(this);
  }
  open() {
    this.readyState = 1;
    this.emit('open');
  }
  frame(events: unknown) {
    this.emit('message', Buffer.from(typeof events === 'string' ? events : JSON.stringify(events)), false);
  }
  serverClose(code: number) {
    this.readyState = 3;
    this.closedBy ??= 'server';
    this.emit('close', code, Buffer.alloc(0));
  }
  refuse(status: number, body: string) {
    const res = new EventEmitter() as EventEmitter & { statusCode: number; setEncoding: () => void };
    res.statusCode = status;
    res.setEncoding = () => {};
    this.emit('unexpected-response', {}, res);
    res.emit('data', body);
    res.emit('end');
  }
  close() {
    this.closedBy ??= 'client';
    this.readyState = 3;
  }
  terminate() {
    this.close();
  }
  pause() {
    this.isPaused = true;
    this.pauses++;
  }
  resume() {
    this.isPaused = false;
  }
}

const part = (seq: number, run = 'run-1') => ({ type: 'message_part', chat_id: CHAT, message_part: { role: 'assistant', part: { type: 'text', text: `p${seq}` }, seq, run_id: run } });
const message = (id: number) => ({ type: 'message', chat_id: CHAT, message: { id, chat_id: CHAT, created_at: '2026-01-01T00:00:00Z', role: 'user' } });
const status = { type: 'status', chat_id: CHAT, status: { status: 'running' } };

function setup() {
  FakeSocket.instances = [];
  const clock = createMockClock();
  const stop = new AbortController();
  const events: ChatStreamEvent[] = [];
  const socket = createWsSocketFactory(FakeSocket as unknown as WebSocketClass, { 'Coder-Session-Token': 't' });
  const deps = { url: 'ws://chatd.test/api/experimental/chats/c/stream', socket, clock, backoff: { minDelayMs: 100, maxDelayMs: 1000, random: () => 1 } };
  return { clock, stop, events, deps };
}

/** Lets the iterator take what was fed. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('openChatStream', () => {
  it('drops malformed frames and entries, yields the rest once, and reconnects at once with the cursor after a drop', async () => {
    const { stop, events, deps } = setup();
    const done = (async () => {
      for await (const e of openChatStream(deps, { signal: stop.signal })) events.push(e);
    })();
    const first = FakeSocket.instances[0]!;
    expect(first.url).toBe(deps.url);
    expect(first.options.headers).toEqual({ 'Coder-Session-Token': 't' });
    first.open();
    first.frame('not json');
    first.frame({ not: 'an array' });
    first.frame([status, message(10), { type: 'message', chat_id: CHAT, message: { id: 'eleven' } }, { type: 'message_part', chat_id: CHAT, message_part: { seq: 3 } }, { type: 'mystery' }, part(1), part(2)]);
    first.emit('message', Buffer.from('[]'), true); // binary: ignored
    await settle();
    expect(events.map((e) => e.type)).toEqual(['status', 'message', 'message_part', 'message_part']);
    first.serverClose(1006);
    await settle();
    const second = FakeSocket.instances[1]!;
    expect(second.url).toBe(`${deps.url}?after_id=10&after_seq=2&run_id=run-1`);
    second.open();
    second.frame([status, message(10), part(2), part(3)]);
    await settle();
    expect(events.map((e) => (e.type === 'message_part' ? e.message_part.seq : e.type))).toEqual(['status', 'message', 1, 2, 'status', 3]);
    stop.abort();
    await done;
    expect(second.closedBy).toBe('client');
  });

  it('a refusal with 404 ends the stream with ChatdClientError NOT_FOUND; a 503 is retried after the backoff on the clock', async () => {
    const { clock, stop, deps } = setup();
    const done = (async () => {
      for await (const e of openChatStream(deps, { signal: stop.signal })) void e;
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    FakeSocket.instances[0]!.refuse(503, '{"message":"busy"}');
    await clock.waitForTimer({ tag: RECONNECT_TIMER_TAG, delayMs: 100 });
    expect(FakeSocket.instances).toHaveLength(1);
    await clock.advance(100);
    expect(FakeSocket.instances).toHaveLength(2);
    FakeSocket.instances[1]!.refuse(404, '{"message":"Resource not found or you do not have access to this resource."}');
    const err = await done;
    expect(isChatdClientError(err, 'NOT_FOUND')).toBe(true);
    expect((err as Error).message).toBe('Resource not found or you do not have access to this resource.');
  });

  it('pauses the socket while the consumer lags and resumes it as frames are taken; stopping the loop closes the socket', async () => {
    const { deps } = setup();
    const it = openChatStream(deps)[Symbol.asyncIterator]();
    const first = it.next();
    const ws = FakeSocket.instances[0]!;
    ws.open();
    for (let seq = 1; seq <= MAX_BUFFERED_FRAMES + 10; seq++) ws.frame([part(seq)]);
    expect((await first).value).toMatchObject({ message_part: { seq: 1 } });
    expect(ws.isPaused).toBe(true);
    expect(ws.pauses).toBe(1);
    for (let i = 0; i < MAX_BUFFERED_FRAMES; i++) await it.next();
    expect(ws.isPaused).toBe(false);
    await it.return(undefined);
    expect(ws.closedBy).toBe('client');
  });
});
