// A scripted client-tool turn (issue 27) for the scripted server: the model asks for `confirm` (a tool the client
// runs), the chat stops in `requires_action` with the call, and after the client's results the turn goes on to a
// reply that quotes the result. Shared by the client and terminal-client tests so both read the same wire.
import type { ActionRequiredToolCall, Chat, ChatMessage, ChatMessagePart, ChatStreamEvent } from '@chatd/protocol';

export const TOOL_CHAT_ID = '7b3c1f2e-0000-4000-8000-000000000027';
const RUN = '7b3c1f2e-0000-4000-8000-0000000000bb';
const RUN2 = '7b3c1f2e-0000-4000-8000-0000000000cc';
const ORG = '7b3c1f2e-0000-4000-8000-000000000001';
const AT = '2026-12-04T23:30:00.000Z';

export const toolChat = (status: Chat['status']): Chat => ({
  id: TOOL_CHAT_ID,
  organization_id: ORG,
  owner_id: ORG,
  root_chat_id: TOOL_CHAT_ID,
  title: 'confirm it',
  status,
  last_error: null,
  created_at: AT,
  updated_at: AT,
  archived: false,
  worker_id: null,
});

const msg = (id: number, role: ChatMessage['role'], content: ChatMessagePart[], run?: string, lastSeq?: number): ChatMessage => ({
  id,
  chat_id: TOOL_CHAT_ID,
  created_at: AT,
  role,
  content,
  ...(run === undefined ? {} : { run_id: run, last_seq: lastSeq }),
});

/** The pending calls: `args` is the input as a JSON string; the second one tries to colour a terminal. */
export const PENDING_CALLS: ActionRequiredToolCall[] = [
  { tool_call_id: 'call_c1', tool_name: 'confirm', args: '{"question":"deploy?"}' },
  { tool_call_id: 'call_c2', tool_name: 'locate', args: '{"why":"red\\u001b[31m"}' },
];
export const RESULT_REPLY = 'confirm said yes';

const callParts: ChatMessagePart[] = PENDING_CALLS.map((c) => ({ type: 'tool-call', tool_call_id: c.tool_call_id, tool_name: c.tool_name, args: JSON.parse(c.args) as unknown }));
export const toolHistory: ChatMessage[] = [
  msg(1, 'user', [{ type: 'text', text: 'call confirm' }]),
  msg(2, 'assistant', [{ type: 'text', text: 'Asking.' }, ...callParts], RUN, 3),
];
const toolMessage = msg(3, 'tool', [
  { type: 'tool-result', tool_call_id: 'call_c1', tool_name: 'confirm', result: 'yes' },
  { type: 'tool-result', tool_call_id: 'call_c2', tool_name: 'locate', result: 'home' },
]);
export const finalHistory: ChatMessage[] = [...toolHistory, toolMessage, msg(4, 'assistant', [{ type: 'text', text: RESULT_REPLY }], RUN2, 1)];

const part = (run: string, seq: number, p: ChatMessagePart): ChatStreamEvent => ({ type: 'message_part', chat_id: TOOL_CHAT_ID, message_part: { role: 'assistant', part: p, seq, run_id: run } });
const message = (m: ChatMessage): ChatStreamEvent => ({ type: 'message', chat_id: TOOL_CHAT_ID, message: m });
export const statusEvent = (s: Chat['status']): ChatStreamEvent => ({ type: 'status', chat_id: TOOL_CHAT_ID, status: { status: s } });
export const actionRequiredEvent: ChatStreamEvent = { type: 'action_required', chat_id: TOOL_CHAT_ID, action_required: { tool_calls: PENDING_CALLS } };

/** A live turn up to `requires_action`: the status comes a frame before the calls (a client must wait for them). */
export const LIVE_FRAMES: ChatStreamEvent[][] = [
  [message(toolHistory[0]!), statusEvent('running')],
  [part(RUN, 1, { type: 'text', text: 'Asking.' }), part(RUN, 2, callParts[0]!), part(RUN, 3, callParts[1]!)],
  [message(toolHistory[1]!)],
  [statusEvent('requires_action')],
  [actionRequiredEvent],
];

/** The snapshot of a chat already waiting for results: messages, status, then the calls. */
export const SNAPSHOT_FRAMES: ChatStreamEvent[][] = [[message(toolHistory[0]!), message(toolHistory[1]!), statusEvent('requires_action'), actionRequiredEvent]];

/** What follows a 204 of `tool-results`: the `tool` message, then the reply. */
export const CONTINUATION_FRAMES: ChatStreamEvent[][] = [
  [statusEvent('pending')],
  [statusEvent('running'), message(toolMessage)],
  [part(RUN2, 1, { type: 'text', text: RESULT_REPLY })],
  [message(finalHistory[3]!), statusEvent('waiting')],
];
