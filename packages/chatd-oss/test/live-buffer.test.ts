import { describe, expect, it } from 'vitest';
import { createLiveStreams, type LiveSignal } from '../src/live/live-buffer.js';

const text = (t: string) => ({ type: 'text' as const, text: t });

describe('createLiveStreams', () => {
  it('numbers parts from 1 per run and tags them with the run id', () => {
    const live = createLiveStreams();
    const w = live.begin('c1', 'run-a');
    expect(w.append(text('a'))?.seq).toBe(1);
    const p = w.append(text('b'), 'assistant')!;
    expect(p.seq).toBe(2);
    expect(p.event).toEqual({ type: 'message_part', chat_id: 'c1', message_part: { role: 'assistant', part: text('b'), seq: 2, run_id: 'run-a' } });
    expect(JSON.parse(p.json)).toEqual(p.event);
    const w2 = live.begin('c1', 'run-b');
    expect(w2.append(text('c'))?.seq).toBe(1);
  });

  it('snapshot from a seq then live parts: no gap, no duplicate', () => {
    const live = createLiveStreams();
    const w = live.begin('c1', 'r');
    for (let i = 0; i < 5; i++) w.append(text(String(i)));
    const seen: number[] = [];
    const { snapshot, unsubscribe } = live.subscribe('c1', (s) => s.kind === 'part' && seen.push(s.part.seq), 3);
    expect(snapshot.runId).toBe('r');
    expect(snapshot.lastSeq).toBe(5);
    expect(snapshot.parts.map((p) => p.seq)).toEqual([4, 5]);
    w.append(text('5'));
    w.append(text('6'));
    expect([...snapshot.parts.map((p) => p.seq), ...seen]).toEqual([4, 5, 6, 7]);
    unsubscribe();
    unsubscribe();
    w.append(text('7'));
    expect(seen).toEqual([6, 7]);
  });

  it('release drops a persisted step: later snapshots start after it, live subscribers keep receiving', () => {
    const live = createLiveStreams();
    const w = live.begin('c1', 'r');
    for (let i = 0; i < 5; i++) w.append(text(String(i)));
    const seen: number[] = [];
    live.subscribe('c1', (s) => s.kind === 'part' && seen.push(s.part.seq));
    w.release(3);
    w.append(text('5'));
    expect(live.subscribe('c1', () => {}).snapshot.parts.map((p) => p.seq)).toEqual([4, 5, 6]);
    expect(live.subscribe('c1', () => {}, 1).snapshot.parts.map((p) => p.seq)).toEqual([4, 5, 6]);
    expect(live.subscribe('c1', () => {}, 5).snapshot.parts.map((p) => p.seq)).toEqual([6]);
    w.release(6);
    expect(live.subscribe('c1', () => {}).snapshot).toMatchObject({ runId: 'r', parts: [], lastSeq: 6 });
    expect(seen).toEqual([6]);
  });

  it('after an overflow no later part is kept, even once a step was released (a snapshot never has a gap)', () => {
    const overflows: string[] = [];
    const live = createLiveStreams({ maxPartsPerRun: 2, onOverflow: (_c, r) => overflows.push(r) });
    const w = live.begin('c1', 'r');
    for (let i = 0; i < 3; i++) w.append(text(String(i)));
    w.release(1);
    w.append(text('3'));
    expect(live.subscribe('c1', () => {}).snapshot.parts.map((p) => p.seq)).toEqual([2]);
    expect(overflows).toEqual(['r']);
  });

  it('tells subscribers when runs start and end, drops parts at the end and frees idle chats', () => {
    const live = createLiveStreams();
    const signals: LiveSignal[] = [];
    const sub = live.subscribe('c1', (s) => signals.push(s));
    expect(sub.snapshot).toEqual({ runId: undefined, parts: [], lastSeq: 0 });
    const w = live.begin('c1', 'r1');
    w.append(text('x'));
    w.end(true);
    w.end(true);
    expect(w.append(text('late'))).toBeUndefined();
    expect(signals.map((s) => s.kind)).toEqual(['run_started', 'part', 'run_ended']);
    expect(signals[2]).toEqual({ kind: 'run_ended', runId: 'r1', persisted: true });
    expect(live.currentRun('c1')).toBeUndefined();
    expect(live.subscribe('c1', () => {}).snapshot.parts).toEqual([]);
    sub.unsubscribe();
    expect(live.size()).toBe(1); // the second subscription above is still registered
  });

  it('a new run ends the previous one as not persisted', () => {
    const live = createLiveStreams();
    const signals: LiveSignal[] = [];
    live.subscribe('c1', (s) => signals.push(s));
    const old = live.begin('c1', 'old');
    live.begin('c1', 'new');
    expect(old.ended).toBe(true);
    expect(old.append(text('stale'))).toBeUndefined();
    expect(signals).toEqual([
      { kind: 'run_started', runId: 'old' },
      { kind: 'run_ended', runId: 'old', persisted: false },
      { kind: 'run_started', runId: 'new' },
    ]);
  });

  it('a throwing listener does not stop delivery to others; the buffer is bounded', () => {
    const overflow: string[] = [];
    const live = createLiveStreams({ maxPartsPerRun: 3, onOverflow: (c, r) => overflow.push(`${c}/${r}`) });
    live.subscribe('c', () => {
      throw new Error('bad listener');
    });
    let got = 0;
    live.subscribe('c', (s) => s.kind === 'part' && got++);
    const w = live.begin('c', 'r');
    for (let i = 0; i < 5; i++) w.append(text(String(i)));
    expect(got).toBe(5);
    expect(live.subscribe('c', () => {}).snapshot.parts.map((p) => p.seq)).toEqual([1, 2, 3]);
    expect(overflow).toEqual(['c/r']);
  });

  it('reports an overflow once per run, not once per part it could not keep', () => {
    const overflow: string[] = [];
    const live = createLiveStreams({ maxPartsPerRun: 2, onOverflow: (_c, r) => overflow.push(r) });
    const w = live.begin('c', 'r1');
    for (let i = 0; i < 50; i++) w.append(text(String(i)));
    expect(overflow).toEqual(['r1']);
    const w2 = live.begin('c', 'r2');
    for (let i = 0; i < 5; i++) w2.append(text(String(i)));
    expect(overflow).toEqual(['r1', 'r2']);
  });

  it('a part\'s JSON is byte for byte JSON.stringify of its event, with and without a role', () => {
    const ids = ['c1', 'chat "quoted" \\ \u2028 ✓', '3f2504e0-4f89-11d3-9a0c-0305e82c3301'];
    const parts = [
      { type: 'text', text: 'plain' },
      { type: 'text', text: 'esc "q" \\ \n \u0000 \ud83d\ude00 \udc00' },
      { type: 'tool-call', tool_call_id: 'c', tool_name: 't', args: { a: [1, null, { b: 'x' }] }, skipped: undefined },
      { type: 'source', source_id: 's', url: 'https://x', title: '' },
    ] as never[];
    for (const chatId of ids) {
      const live = createLiveStreams();
      const w = live.begin(chatId, `run ${chatId}`);
      for (const part of parts) {
        for (const role of [undefined, 'assistant', 'tool', 'assistant']) {
          const p = w.append(part, role)!;
          expect(p.json).toBe(JSON.stringify(p.event));
        }
      }
    }
  });

  it('frees a chat once its run ended and its last subscriber left', () => {
    const live = createLiveStreams();
    const w = live.begin('c', 'r');
    const sub = live.subscribe('c', () => {});
    w.end(false);
    expect(live.size()).toBe(1);
    sub.unsubscribe();
    expect(live.size()).toBe(0);
  });
});
