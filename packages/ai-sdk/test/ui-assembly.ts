// Test helpers: builds chatd events and messages, and assembles UI message chunks with the AI SDK's own
// readUIMessageStream (what useChat runs), so a test compares what a page would show.
import type { ChatMessage, ChatMessagePart, ChatStreamEvent } from '@chatd/protocol';
import { readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';

export const CHAT = '00000000-0000-4000-8000-000000000001';
const CREATED = '2026-01-01T00:00:00Z';

export function msg(id: number, role: ChatMessage['role'], content: ChatMessagePart[], run?: { run_id: string; last_seq: number }): ChatMessage {
  return { id, chat_id: CHAT, created_at: CREATED, role, content, ...(run ?? {}) } as ChatMessage;
}
export const messageEvent = (m: ChatMessage): ChatStreamEvent => ({ type: 'message', chat_id: CHAT, message: m });
export const partEvent = (run_id: string, seq: number, part: ChatMessagePart, role = 'assistant'): ChatStreamEvent => ({
  type: 'message_part',
  chat_id: CHAT,
  message_part: { role, part, seq, run_id },
});
export const statusEvent = (status: string): ChatStreamEvent => ({ type: 'status', chat_id: CHAT, status: { status } }) as ChatStreamEvent;

/** The UIMessage the AI SDK assembles from `chunks` (optionally continuing `message`). */
export async function assemble(chunks: UIMessageChunk[], message?: UIMessage): Promise<UIMessage | undefined> {
  const stream = new ReadableStream<UIMessageChunk>({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
  let last: UIMessage | undefined;
  for await (const m of readUIMessageStream({ stream, ...(message ? { message } : {}), terminateOnError: true })) last = structuredClone(m);
  return last;
}

/** Drops undefined-valued keys, as JSON would, so SDK parts compare with built ones. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
