// Durable history to UIMessages (contract.md#ai-sdk): each user message is one user UIMessage (id: its chatd id);
// the assistant and `tool` messages up to the next user message are one assistant UIMessage, the turn's, whose id
// derives from that user message (turnMessageId). Each assistant message is a step (`step-start`, then its parts);
// a `tool` message's results become the outputs of the calls they answer. The live mapping
// (turn-chunk-mapper.ts) assembles the same message.
import { CHATS_API_PATH } from '@chatd/client';
import type { ChatMessage, ChatMessagePart } from '@chatd/protocol';
import type { UIMessage } from 'ai';
import { toolErrorText } from './tool-part.js';
import { uiPartId } from './turn-chunk-mapper.js';
import { turnMessageId } from './turn-message-id.js';

type UIPart = UIMessage['parts'][number];

/** A user message part as a UI part; a file is linked by its chatd download path (`GET /files/{id}`). */
function userPart(p: ChatMessagePart): UIPart | undefined {
  if (p.type === 'text') return { type: 'text', text: p.text };
  if (p.type === 'file') {
    return { type: 'file', mediaType: p.media_type, url: `${CHATS_API_PATH}/files/${encodeURIComponent(p.file_id)}`, ...(p.name !== undefined ? { filename: p.name } : {}) };
  }
  return undefined;
}

/** The UI parts of one stored assistant message, step number `step` of its turn. */
function stepParts(m: ChatMessage, step: number): UIPart[] {
  const parts: UIPart[] = [{ type: 'step-start' }];
  // Parts count as the live mapping counts them: text, reasoning, sources and tool calls.
  let index = 0;
  for (const p of m.content ?? []) {
    if (p.type === 'text') parts.push({ type: 'text', text: p.text, state: 'done' });
    else if (p.type === 'reasoning') parts.push({ type: 'reasoning', id: uiPartId('reasoning', step, index), text: p.text, state: 'done' });
    else if (p.type === 'source') parts.push({ type: 'source-url', sourceId: p.source_id, url: p.url, ...(p.title !== undefined ? { title: p.title } : {}) });
    else if (p.type === 'tool-call') {
      parts.push({
        type: `tool-${p.tool_name}`,
        toolCallId: p.tool_call_id,
        state: 'input-available',
        input: p.args ?? {},
        ...(p.provider_executed ? { providerExecuted: true } : {}),
      } as UIPart);
    }
    if (p.type === 'text' || p.type === 'reasoning' || p.type === 'source' || p.type === 'tool-call') index++;
  }
  return parts;
}

/** Applies a `tool` message's results to the calls of the turn's parts. */
function applyResults(parts: UIPart[], m: ChatMessage): void {
  for (const p of m.content ?? []) {
    if (p.type !== 'tool-result') continue;
    const i = parts.findIndex((q) => 'toolCallId' in q && q.toolCallId === p.tool_call_id);
    if (i < 0) continue;
    const call = parts[i] as UIPart & { input: unknown };
    parts[i] = (
      p.is_error
        ? { ...call, state: 'output-error', errorText: toolErrorText(p.result) }
        : { ...call, state: 'output-available', output: p.result ?? null }
    ) as UIPart;
  }
}

/** Turns stored history (ascending ids) into UIMessages, one assistant message per turn. */
export function historyToUIMessages(history: readonly ChatMessage[]): UIMessage[] {
  const out: UIMessage[] = [];
  let turn: UIMessage | undefined;
  let steps = 0;
  let lastUserId = '0';
  for (const m of history) {
    if (m.role === 'user') {
      turn = undefined;
      lastUserId = String(m.id);
      out.push({ id: lastUserId, role: 'user', parts: (m.content ?? []).map(userPart).filter((p): p is UIPart => p !== undefined) });
    } else if (m.role === 'system') {
      out.push({ id: String(m.id), role: 'system', parts: (m.content ?? []).map(userPart).filter((p): p is UIPart => p !== undefined) });
    } else {
      if (!turn) {
        turn = { id: turnMessageId(lastUserId), role: 'assistant', parts: [] };
        steps = 0;
        out.push(turn);
      }
      if (m.role === 'assistant') turn.parts.push(...stepParts(m, steps++));
      else if (m.role === 'tool') applyResults(turn.parts, m);
    }
  }
  return out;
}
