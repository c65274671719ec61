// `file` parts of create, send and edit (contract.md#files): each must name a file the caller uploaded (a 400
// otherwise, the same for a missing file and another user's, so ids are not probed), and is stored with the file's
// media type and name from its row, never the bytes and never what the client claimed. One query for all of them.
import type { ChatInputPart, ChatMessagePart } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import type { FileStore } from '../store/file-store.js';

/** The parts to store: text parts as they are, file parts checked against `files` and filled in. */
export async function resolveFileParts(parts: readonly ChatInputPart[], ownerId: string, files: Pick<FileStore, 'describeOwnedFiles'> | undefined): Promise<ChatMessagePart[]> {
  const ids = parts.flatMap((p) => (p.type === 'file' ? [p.file_id] : []));
  if (ids.length === 0) return parts as ChatMessagePart[];
  const known = files ? await files.describeOwnedFiles(ids, ownerId) : new Map();
  return parts.map((p, i): ChatMessagePart => {
    if (p.type !== 'file') return p;
    const file = known.get(p.file_id.toLowerCase());
    if (!file) {
      const detail = `content[${i}].file_id is not a file you uploaded.`;
      throw new ChatdError('INVALID_INPUT', 'Invalid input part.', { detail, validations: [{ field: `content.${i}.file_id`, detail: 'unknown file' }] });
    }
    return { type: 'file', file_id: file.id, media_type: file.mediaType, ...(file.name ? { name: file.name } : {}) };
  });
}
