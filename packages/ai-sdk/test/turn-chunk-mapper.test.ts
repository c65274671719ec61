import type { ChatMessage, ChatStreamEvent, DiscontinuityReason } from '@chatd/protocol';
import type { UIMessageChunk } from 'ai';
import { describe, expect, it } from 'vitest';
import { createTurnChunkMapper, historyToUIMessages, turnMessageId } from '../src/index.js';
import { CHAT, assemble, messageEvent, msg, partEvent, plain } from './ui-assembly.js';

const R1 = '11111111-1111-4111-8111-111111111111';
const R2 = '22222222-2222-4222-8222-222222222222';

/** Runs `events` through a mapper of the turn of user message 10; answers the chunks and the resyncs. */
function map(events: ChatStreamEvent[], knownToolCalls?: string[]) {
  const chunks: UIMessageChunk[] = [];
  const resyncs: DiscontinuityReason[] = [];
  const m = createTurnChunkMapper({ emit: (c) => chunks.push(c), onResync: (r) => resyncs.push(r), ...(knownToolCalls ? { knownToolCalls } : {}) });
  m.start(turnMessageId(10));
  for (const e of events) m.event(e);
  m.finish();
  return { chunks, resyncs, mapper: m };
}

const user = msg(10, 'user', [{ type: 'text', text: 'hi' }]);
/** The stored turn every scenario converges to: reasoning + text + a tool call, its result, then a text step with a source. */
const step1 = msg(11, 'assistant', [
  { type: 'reasoning', text: 'think hard' },
  { type: 'text', text: 'Let me check.' },
  { type: 'tool-call', tool_call_id: 'c1', tool_name: 'get_time', args: { tz: 'UTC' } },
], { run_id: R1, last_seq: 7 });
const tool1 = msg(12, 'tool', [{ type: 'tool-result', tool_call_id: 'c1', tool_name: 'get_time', result: '2026-01-01T00:00:00Z' }], { run_id: R1, last_seq: 8 });
const step2 = msg(13, 'assistant', [
  { type: 'text', text: 'It is midnight' },
  { type: 'source', source_id: 's1', url: 'https://example.com/time', title: 'Time' },
  { type: 'text', text: ' (UTC).' },
], { run_id: R1, last_seq: 12 });
const stored: ChatMessage[] = [user, step1, tool1, step2];

/** The live parts of the turn, in run R1's seq order, with the messages where the server sends them. */
function liveEvents(run = R1): ChatStreamEvent[] {
  return [
    partEvent(run, 1, { type: 'reasoning', text: 'think ' }),
    partEvent(run, 2, { type: 'reasoning', text: 'hard' }),
    partEvent(run, 3, { type: 'text', text: 'Let me ' }),
    partEvent(run, 4, { type: 'text', text: 'check.' }),
    partEvent(run, 5, { type: 'tool-call', tool_call_id: 'c1', tool_name: 'get_time', args_delta: '{"tz":' }),
    partEvent(run, 6, { type: 'tool-call', tool_call_id: 'c1', tool_name: 'get_time', args_delta: '"UTC"}' }),
    partEvent(run, 7, { type: 'tool-call', tool_call_id: 'c1', tool_name: 'get_time', args: { tz: 'UTC' } }),
    messageEvent(step1),
    partEvent(run, 8, { type: 'tool-result', tool_call_id: 'c1', tool_name: 'get_time', result: '2026-01-01T00:00:00Z' }, 'tool'),
    messageEvent(tool1),
    partEvent(run, 9, { type: 'text', text: 'It is ' }),
    partEvent(run, 10, { type: 'text', text: 'midnight' }),
    partEvent(run, 11, { type: 'source', source_id: 's1', url: 'https://example.com/time', title: 'Time' }),
    partEvent(run, 12, { type: 'text', text: ' (UTC).' }),
    messageEvent(step2),
  ];
}

async function expectStored(chunks: UIMessageChunk[], history: ChatMessage[] = stored) {
  const built = historyToUIMessages(history).at(-1)!;
  const assembled = await assemble(chunks);
  expect(plain(assembled)).toEqual(plain(built));
  return assembled!;
}

describe('turn chunk mapping', () => {
  it('live: every part kind streams as its chunks and the message equals the stored turn', async () => {
    const { chunks } = map(liveEvents());
    const types = chunks.map((c) => c.type);
    expect(types).toEqual([
      'start',
      'start-step',
      'reasoning-start', 'reasoning-delta', 'reasoning-delta',
      'reasoning-end', 'text-start', 'text-delta', 'text-delta',
      'text-end', 'tool-input-start', 'tool-input-delta', 'tool-input-delta', 'tool-input-available',
      'finish-step',
      'tool-output-available',
      'start-step',
      'text-start', 'text-delta', 'text-delta',
      'text-end', 'source-url',
      'text-start', 'text-delta',
      'text-end', 'finish-step',
      'finish',
    ]);
    expect(chunks[0]).toEqual({ type: 'start', messageId: turnMessageId(10) });
    const ui = await expectStored(chunks);
    expect(ui.id).toBe('chatd-turn-10');
    expect(ui.parts.map((p) => p.type)).toEqual(['step-start', 'reasoning', 'text', 'tool-get_time', 'step-start', 'text', 'source-url', 'text']);
    expect(ui.parts[3]).toMatchObject({ state: 'output-available', input: { tz: 'UTC' }, output: '2026-01-01T00:00:00Z' });
  });

  it('replayed: the stored messages alone (a resume after the turn persisted) give the same message', async () => {
    const { chunks } = map([messageEvent(step1), messageEvent(tool1), messageEvent(step2)]);
    expect(chunks.map((c) => c.type)).toContain('tool-input-available');
    expect(chunks.map((c) => c.type)).not.toContain('tool-input-delta');
    await expectStored(chunks);
  });

  it('replayed then live: persisted steps from the snapshot, the in-flight step from its parts', async () => {
    const live = liveEvents();
    // Snapshot: messages after the turn's user message, then the current run's parts after the last persisted seq.
    const events = [messageEvent(step1), messageEvent(tool1), ...live.slice(10)];
    await expectStored(map(events).chunks);
  });

  it('the next step\'s parts overtaking the previous step\'s messages (local parts, NOTIFY messages) still give two steps', async () => {
    const live = liveEvents();
    // step1's and tool1's messages arrive after step 2 has begun streaming.
    const late = [...live.slice(0, 7), live[8]!, live[10]!, live[11]!, live[7]!, live[9]!, ...live.slice(12)];
    const { chunks, mapper } = map(late);
    expect(mapper.diverged).toBe(false);
    await expectStored(chunks);
  });

  it('a step\'s message after its tool results came as parts closes that step, not a new one', async () => {
    const live = liveEvents();
    // Tool result part (seq 8) before step1's message: the message still closes step 1.
    const events = [...live.slice(0, 7), live[8]!, live[7]!, ...live.slice(9)];
    const { chunks, mapper } = map(events);
    expect(mapper.diverged).toBe(false);
    await expectStored(chunks);
  });

  it('parts and messages delivered twice are mapped once', async () => {
    const live = liveEvents();
    const doubled = live.flatMap((e) => [e, e]);
    await expectStored(map(doubled).chunks);
  });

  it('coalesced deltas (one part carrying several, seq of the last) map exactly', async () => {
    const events = [
      partEvent(R1, 2, { type: 'reasoning', text: 'think hard' }),
      partEvent(R1, 4, { type: 'text', text: 'Let me check.' }),
      partEvent(R1, 6, { type: 'tool-call', tool_call_id: 'c1', tool_name: 'get_time', args_delta: '{"tz":"UTC"}' }),
      ...liveEvents().slice(6),
    ];
    await expectStored(map(events).chunks);
  });

  it('a step persisted while the stream was away (its tail parts never sent) is completed by its message', async () => {
    const live = liveEvents();
    // The snapshot after a reconnect holds the step's message only (contract.md#snapshot-paging): parts 4-7 never come.
    const gappy = [...live.slice(0, 3), ...live.slice(7)];
    await expectStored(map(gappy).chunks);
  });

  it('too_slow: the same run\'s parts sent again from seq 1 are dropped, no resync', async () => {
    const live = liveEvents();
    const cut: ChatStreamEvent = { type: 'discontinuity', chat_id: CHAT, discontinuity: { reason: 'too_slow', resync_after_id: 10 } };
    const { chunks, resyncs } = map([...live.slice(0, 4), cut, ...live]);
    expect(resyncs).toEqual([]);
    await expectStored(chunks);
  });

  it('run_lost: onResync is told; the next run repeating the step continues the shown parts in place', async () => {
    const live = liveEvents(R1);
    const lost: ChatStreamEvent = { type: 'discontinuity', chat_id: CHAT, discontinuity: { reason: 'run_lost', resync_after_id: 10 } };
    // R1 dies mid step 1; R2 runs the turn again from step 1.
    const rerun = liveEvents(R2).map((e) => (e.type === 'message' ? messageEvent({ ...e.message, run_id: R2 }) : e));
    const { chunks, resyncs, mapper } = map([...live.slice(0, 5), lost, ...rerun]);
    expect(resyncs).toEqual(['run_lost']);
    expect(mapper.diverged).toBe(false);
    await expectStored(chunks);
  });

  it('relay_failed: told as well; a replacement that differs shows the stored parts after the void ones', async () => {
    const lost: ChatStreamEvent = { type: 'discontinuity', chat_id: CHAT, discontinuity: { reason: 'relay_failed', resync_after_id: 10 } };
    const other = msg(11, 'assistant', [{ type: 'text', text: 'Different.' }], { run_id: R2, last_seq: 1 });
    const { chunks, resyncs, mapper } = map([partEvent(R1, 1, { type: 'text', text: 'Void' }), lost, partEvent(R2, 1, { type: 'text', text: 'Different.' }), messageEvent(other)]);
    expect(resyncs).toEqual(['relay_failed']);
    expect(mapper.diverged).toBe(true);
    const ui = await assemble(chunks);
    expect(ui!.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text)).toEqual(['Void', 'Different.']);
  });

  it('retry: a failed attempt\'s parts are re-matched by the next attempt, the step shows once', async () => {
    const retry: ChatStreamEvent = { type: 'retry', chat_id: CHAT, retry: { attempt: 1, delay_ms: 10, error: 'reset', retrying_at: '2026-01-01T00:00:01Z' } };
    const s = msg(11, 'assistant', [{ type: 'text', text: 'Hello world' }], { run_id: R1, last_seq: 5 });
    const events = [
      partEvent(R1, 1, { type: 'text', text: 'Hel' }),
      retry,
      partEvent(R1, 2, { type: 'text', text: 'He' }),
      partEvent(R1, 3, { type: 'text', text: 'llo' }),
      partEvent(R1, 4, { type: 'text', text: ' world' }),
      messageEvent(s),
    ];
    await expectStored(map(events).chunks, [user, s]);
  });

  it('is_error results map to tool-output-error; results of calls the message does not hold are skipped', async () => {
    const s = msg(11, 'assistant', [{ type: 'tool-call', tool_call_id: 'c9', tool_name: 'add', args: { numbers: 'x' } }], { run_id: R1, last_seq: 1 });
    const t = msg(12, 'tool', [
      { type: 'tool-result', tool_call_id: 'c9', tool_name: 'add', result: { error: 'invalid input: numbers' }, is_error: true },
      { type: 'tool-result', tool_call_id: 'elsewhere', tool_name: 'add', result: 1 },
    ]);
    const { chunks } = map([messageEvent(s), messageEvent(t)]);
    expect(chunks).toContainEqual({ type: 'tool-output-error', toolCallId: 'c9', errorText: 'invalid input: numbers' });
    const ui = await expectStored(chunks, [user, s, t]);
    expect(ui.parts[1]).toMatchObject({ type: 'tool-add', state: 'output-error', errorText: 'invalid input: numbers' });
  });

  it('a continuation after client tool outputs emits the output of a known call and the next step', async () => {
    const s = msg(11, 'assistant', [{ type: 'tool-call', tool_call_id: 'k1', tool_name: 'confirm', args: { q: 'ok?' } }], { run_id: R1, last_seq: 1 });
    const before = historyToUIMessages([user, s]).at(-1)!;
    // useChat's addToolOutput put the output on the part.
    before.parts[1] = { ...(before.parts[1] as object), state: 'output-available', output: 'yes' } as (typeof before.parts)[number];
    const t = msg(12, 'tool', [{ type: 'tool-result', tool_call_id: 'k1', tool_name: 'confirm', result: 'yes' }]);
    const s2 = msg(13, 'assistant', [{ type: 'text', text: 'confirm returned "yes"' }], { run_id: R2, last_seq: 1 });
    const chunks: UIMessageChunk[] = [];
    const m = createTurnChunkMapper({ emit: (c) => chunks.push(c), knownToolCalls: ['k1'] });
    m.start(before.id);
    for (const e of [messageEvent(t), partEvent(R2, 1, { type: 'text', text: 'confirm returned "yes"' }), messageEvent(s2)]) m.event(e);
    m.finish();
    const ui = await assemble(chunks, structuredClone(before));
    expect(plain(ui)).toEqual(plain(historyToUIMessages([user, s, t, s2]).at(-1)));
  });

  it('events that are not the turn\'s content (status, queue, action_required, error, history_reset) emit nothing', () => {
    const others: ChatStreamEvent[] = [
      { type: 'status', chat_id: CHAT, status: { status: 'running' } },
      { type: 'queue_update', chat_id: CHAT },
      { type: 'action_required', chat_id: CHAT, action_required: { tool_calls: [] } },
      { type: 'error', chat_id: CHAT, error: { message: 'x' } },
      { type: 'history_reset', chat_id: CHAT },
    ];
    const { chunks } = map(others);
    expect(chunks.map((c) => c.type)).toEqual(['start', 'finish']);
  });

  it('an interrupted step (stored partial with a cut-off call, args {}) equals what was streamed', async () => {
    const s = msg(11, 'assistant', [
      { type: 'text', text: 'Partial' },
      { type: 'tool-call', tool_call_id: 'c2', tool_name: 'get_time', args: {} },
    ], { run_id: R1, last_seq: 3 });
    const t = msg(12, 'tool', [{ type: 'tool-result', tool_call_id: 'c2', tool_name: 'get_time', result: { error: 'cancelled' }, is_error: true }]);
    const events = [
      partEvent(R1, 1, { type: 'text', text: 'Partial' }),
      partEvent(R1, 2, { type: 'tool-call', tool_call_id: 'c2', tool_name: 'get_time', args_delta: '{"t' }),
      messageEvent(s),
      messageEvent(t),
    ];
    await expectStored(map(events).chunks, [user, s, t]);
  });
});

describe('resume identity', () => {
  it('the turn message id derives from the user message id, live, replayed and loaded', async () => {
    const live = await assemble(map(liveEvents()).chunks);
    const replayed = await assemble(map([messageEvent(step1), messageEvent(tool1), messageEvent(step2)]).chunks);
    const loaded = historyToUIMessages(stored);
    expect(live!.id).toBe(turnMessageId(10));
    expect(replayed!.id).toBe(turnMessageId(10));
    expect(loaded.map((m) => m.id)).toEqual(['10', turnMessageId(10)]);
    expect(turnMessageId('9007199254740993')).toBe('chatd-turn-9007199254740993');
  });

  it('history groups every step and tool message of a turn into one assistant message, per turn', () => {
    const u2 = msg(20, 'user', [{ type: 'text', text: 'again' }]);
    const a2 = msg(21, 'assistant', [{ type: 'text', text: 'ok' }], { run_id: R2, last_seq: 1 });
    const ui = historyToUIMessages([...stored, u2, a2]);
    expect(ui.map((m) => [m.id, m.role])).toEqual([
      ['10', 'user'],
      ['chatd-turn-10', 'assistant'],
      ['20', 'user'],
      ['chatd-turn-20', 'assistant'],
    ]);
    expect(ui[1]!.parts.filter((p) => p.type === 'step-start')).toHaveLength(2);
  });
});
