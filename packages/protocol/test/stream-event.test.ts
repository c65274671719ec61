import { describe, expect, it } from 'vitest';
import { CHAT_STREAM_EVENT_TYPES, chatMessageSchema, chatQueuedMessageSchema, chatStreamEventSchema, streamEventSchema, type ChatStreamEvent } from '../src/index.js';

const CHAT = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const RUN = '8a1c0d2e-5b6f-4c3d-9e8f-0a1b2c3d4e5f';
const AT = '2026-01-02T03:04:05.123Z';
const message = { id: 42, chat_id: CHAT, created_at: AT, role: 'assistant' as const, content: [{ type: 'text' as const, text: 'hi' }] };

const valid: ChatStreamEvent[] = [
  { type: 'message_part', chat_id: CHAT, message_part: { role: 'assistant', part: { type: 'text', text: 'h' }, seq: 1, run_id: RUN } },
  { type: 'message_part', chat_id: CHAT, message_part: { part: { type: 'tool-call', tool_call_id: 'c1', tool_name: 'search', args_delta: '{"q"' }, seq: 2, run_id: RUN } },
  { type: 'message', chat_id: CHAT, message },
  { type: 'message', chat_id: CHAT, message: { ...message, run_id: RUN, last_seq: 7, usage: { input_tokens: 3, output_tokens: 1, total_cost_micros: 120, total_runtime_ms: 900 } } },
  { type: 'status', chat_id: CHAT, status: { status: 'requires_action' } },
  { type: 'error', chat_id: CHAT, error: { message: 'boom', kind: 'step_limit', retryable: false } },
  { type: 'retry', chat_id: CHAT, retry: { attempt: 1, delay_ms: 1000, error: 'busy', retrying_at: AT } },
  { type: 'queue_update', chat_id: CHAT, queued_messages: [{ id: 43, chat_id: CHAT, content: [{ type: 'text', text: 'next' }], created_at: AT }] },
  { type: 'queue_update', chat_id: CHAT },
  { type: 'discontinuity', chat_id: CHAT, discontinuity: { reason: 'run_lost', resync_after_id: 41 } },
  { type: 'action_required', chat_id: CHAT, action_required: { tool_calls: [{ tool_call_id: 'c1', tool_name: 'pick_file', args: '{"dir":"/"}' }] } },
  { type: 'history_reset', chat_id: CHAT },
];

describe('chatStreamEventSchema', () => {
  it('accepts every event type of the contract (first and second edition) unchanged', () => {
    for (const e of valid) expect(chatStreamEventSchema.parse(e), e.type).toEqual(e);
    expect([...new Set(valid.map((e) => e.type))].sort()).toEqual([...CHAT_STREAM_EVENT_TYPES].sort());
  });

  it('refuses unknown types and events missing what their type needs', () => {
    const invalid: unknown[] = [
      { type: 'data', chat_id: CHAT },
      { type: 'history_reset' },
      { type: 'history_reset', chat_id: 'not-a-uuid' },
      { type: 'message_part', chat_id: CHAT, message_part: { part: { type: 'text', text: 'h' }, seq: 0, run_id: RUN } },
      { type: 'message_part', chat_id: CHAT, message_part: { part: { type: 'image' }, seq: 1, run_id: RUN } },
      { type: 'message', chat_id: CHAT, message: { ...message, id: 0 } },
      { type: 'message', chat_id: CHAT, message: { ...message, role: 'robot' } },
      { type: 'message', chat_id: CHAT, message: { ...message, last_seq: 1.5 } },
      { type: 'status', chat_id: CHAT, status: { status: 'sleeping' } },
      { type: 'error', chat_id: CHAT, error: {} },
      { type: 'discontinuity', chat_id: CHAT, discontinuity: { reason: 'bored', resync_after_id: 1 } },
      { type: 'action_required', chat_id: CHAT, action_required: {} },
      // On this event `args` is the input's JSON text, never the value.
      { type: 'action_required', chat_id: CHAT, action_required: { tool_calls: [{ tool_call_id: 'c1', tool_name: 't', args: { dir: '/' } }] } },
      { type: 'action_required', chat_id: CHAT, action_required: { tool_calls: [{ tool_name: 't', args: '{}' }] } },
    ];
    for (const e of invalid) expect(chatStreamEventSchema.safeParse(e).success, JSON.stringify(e)).toBe(false);
  });

  it('keeps unknown fields out of events, messages and their parts', () => {
    const parsed = chatStreamEventSchema.parse({
      type: 'message',
      chat_id: CHAT,
      extra: true,
      message: { ...message, visibility: 'both', content: [{ type: 'text', text: 'hi', secret: 1 }] },
    });
    expect(parsed).toEqual({ type: 'message', chat_id: CHAT, message });
    expect(chatStreamEventSchema.parse({ type: 'history_reset', chat_id: CHAT, messages: [] })).toEqual({ type: 'history_reset', chat_id: CHAT });
  });

  it('has exactly the types the frame decoder keeps', () => {
    const frameTypes = streamEventSchema.options.map((o) => o.shape.type.value);
    expect([...frameTypes].sort()).toEqual([...CHAT_STREAM_EVENT_TYPES].sort());
    // Every well-formed event passes the frame check too.
    for (const e of valid) expect(streamEventSchema.safeParse(e).success, e.type).toBe(true);
  });
});

describe('messages', () => {
  it('parse stored and queued messages, with 0.4 run_id and last_seq optional', () => {
    expect(chatMessageSchema.parse({ ...message, model_config_id: RUN, run_id: RUN, last_seq: 3 })).toEqual({ ...message, model_config_id: RUN, run_id: RUN, last_seq: 3 });
    expect(chatMessageSchema.safeParse({ ...message, created_at: 'yesterday' }).success).toBe(false);
    expect(chatMessageSchema.safeParse({ ...message, usage: { input_tokens: -1 } }).success).toBe(false);
    expect(chatQueuedMessageSchema.safeParse({ id: 1, chat_id: CHAT, created_at: AT }).success).toBe(false);
  });
});
