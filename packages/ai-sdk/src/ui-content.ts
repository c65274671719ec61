// A user UIMessage's parts as chatd message content: text parts as text; a file part whose url is a chatd file's
// download path (as loadUIMessages writes it) by its id; any other file (a data: URL from useChat's attachments)
// is uploaded first (`POST /files`).
import { CHATS_API_PATH, type ChatClient } from '@chatd/client';
import type { ChatInputPart, ChatMessagePart } from '@chatd/protocol';
import type { UIMessage } from 'ai';

const FILE_PATH_PREFIX = `${CHATS_API_PATH}/files/`;

/** The chatd content of a user UIMessage; a TypeError when it has nothing chatd can store. */
export async function userContent(client: ChatClient, message: UIMessage): Promise<ChatInputPart[]> {
  const content: ChatInputPart[] = [];
  for (const p of message.parts) {
    if (p.type === 'text') {
      if (p.text.trim() !== '') content.push({ type: 'text', text: p.text });
    } else if (p.type === 'file') {
      const at = p.url.indexOf(FILE_PATH_PREFIX);
      if (at >= 0 && !p.url.startsWith('data:')) {
        content.push({ type: 'file', file_id: decodeURIComponent(p.url.slice(at + FILE_PATH_PREFIX.length)) });
        continue;
      }
      const res = await globalThis.fetch(p.url);
      const data = new Uint8Array(await res.arrayBuffer());
      const { id } = await client.uploadFile(data, { mediaType: p.mediaType, ...(p.filename !== undefined ? { name: p.filename } : {}) });
      content.push({ type: 'file', file_id: id });
    }
  }
  if (content.length === 0) throw new TypeError('the message has no text or file to send');
  return content;
}

/** Stored user message content as input content again (regenerate resends it as it is). */
export function storedInputContent(parts: readonly ChatMessagePart[]): ChatInputPart[] {
  return parts.flatMap((p): ChatInputPart[] => (p.type === 'text' ? [{ type: 'text', text: p.text }] : p.type === 'file' ? [{ type: 'file', file_id: p.file_id }] : []));
}
