// The console's files (contract.md#files): a `file` part of a message shows as a line naming the file and, for an
// image, the image itself. The bytes are fetched with the session cookie (`GET /files/{id}` answers the uploader
// only) and shown through a blob URL, never by pointing <img> at the API: the download answers `attachment` and
// the page's CSP allows `blob:` images only. The composer's chosen files are uploaded before the message is sent.

/** Media types the server takes, by extension, for files the browser gives no type (e.g. `.md` on some systems). */
export const FILE_TYPES_BY_EXTENSION = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  json: 'application/json',
};

/** The media type to upload `file` (a File: name and type) as; '' when the server would not take it. */
export function uploadMediaType(file) {
  const own = String(file.type || '').split(';')[0].trim().toLowerCase();
  if (Object.values(FILE_TYPES_BY_EXTENSION).includes(own)) return own;
  const ext = String(file.name || '').split('.').pop().toLowerCase();
  return FILE_TYPES_BY_EXTENSION[ext] || '';
}

/**
 * A file part's element: `📎 name (type)` and, for an image, an <img> whose source `loadUrl(file_id)` resolves to (a
 * blob URL). Text goes in with textContent only.
 */
export function renderFilePart(doc, part, loadUrl) {
  const div = doc.createElement('div');
  div.className = 'file';
  div.dataset.fileId = String(part.file_id);
  const label = doc.createElement('span');
  label.className = 'file-label';
  label.textContent = `📎 ${part.name || part.file_id} (${part.media_type || 'file'})`;
  div.append(label);
  if (typeof part.media_type === 'string' && part.media_type.startsWith('image/')) {
    const img = doc.createElement('img');
    img.className = 'file-image';
    img.alt = part.name || 'image';
    div.append(img);
    loadUrl(part.file_id).then(
      (url) => {
        img.src = url;
      },
      () => {
        img.remove();
        label.textContent += ' — unavailable';
      },
    );
  }
  return div;
}

/** Blob URLs of downloaded files by id: one download per file for as long as the page lives. */
export function createFileUrlCache(getFile, createObjectURL) {
  const urls = new Map();
  return (id) => {
    let url = urls.get(id);
    if (!url) {
      url = getFile(id).then((f) => createObjectURL(new Blob([f.data], { type: f.mediaType })));
      // A failed download is tried again next time.
      url.catch(() => urls.delete(id));
      urls.set(id, url);
    }
    return url;
  };
}

/**
 * The content of an edit of a user message: the new text and the files the message had (by id, as input parts), so
 * an edit never drops the message's attachments; null when there is neither text nor a file.
 */
export function editedContent(text, original) {
  const files = (original || []).filter((p) => p && p.type === 'file' && typeof p.file_id === 'string').map((p) => ({ type: 'file', file_id: p.file_id }));
  const trimmed = text.trim();
  const content = [...(trimmed ? [{ type: 'text', text: trimmed }] : []), ...files];
  return content.length ? content : null;
}
