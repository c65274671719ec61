// `POST /files` and `GET /files/{id}` under the chats base path (contract.md#files). An upload is the raw bytes with
// their own Content-Type (one of FILE_MEDIA_TYPES: 415 otherwise), at most MAX_FILE_BYTES (413 one byte above,
// refused while streaming), at most DEFAULT_FILE_UPLOADS_PER_MINUTE a user (429 with Retry-After). A download is
// for the uploader only (404 otherwise) and never rendered by the browser: nosniff and `attachment`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '@chatd/clock';
import { isUuid } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { createPerUserRateLimiter } from './per-user-rate-limiter.js';
import type { IdentityStore } from '../identity/identity-store.js';
import type { FileStore } from '../store/file-store.js';
import { isPrintable } from './chat-body.js';
import { readRawBody, sendJson } from './http-io.js';
import type { RouteHandler } from './chat-routes.js';

/** Largest file an upload may carry. @default 10485760 (10 MiB) */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
/** Uploads a user may make per minute (and at once, from a full bucket). @default 30 */
export const DEFAULT_FILE_UPLOADS_PER_MINUTE = 30;
/** Longest file name kept, in code points. @default 255 */
export const MAX_FILE_NAME_CHARS = 255;
/** The media types an upload may have (contract.md#files). */
export const FILE_MEDIA_TYPES: readonly string[] = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
  'text/markdown',
  'text/csv',
  'application/json',
];

/** What the file routes need. */
export type FileRoutesDeps = {
  files: FileStore;
  identity: Pick<IdentityStore, 'isMember'>;
  clock: Clock;
  /** @default DEFAULT_FILE_UPLOADS_PER_MINUTE */
  uploadsPerMinute?: number;
  /** Counts uploads (`chatd_file_uploads_total` by outcome). */
  onUpload?: (outcome: 'stored' | 'too_large' | 'unsupported_type' | 'rate_limited') => void;
};

/** The bare media type of a Content-Type header (parameters dropped, lower case), or ''. */
export function bareMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The file name of a Content-Disposition header: `filename*=UTF-8''…` (RFC 5987) wins over `filename="…"`;
 * any folder part is dropped. Undefined when there is none; INVALID_INPUT when it is not printable or too long.
 */
export function fileNameFromDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined;
  let name: string | undefined;
  const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (extended) {
    try {
      name = decodeURIComponent(extended[2]!.trim());
    } catch {
      name = undefined;
    }
  }
  if (name === undefined) {
    const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(header);
    if (plain) name = plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2]!.trim();
  }
  if (name === undefined) return undefined;
  name = name.split(/[\\/]/).pop()!.trim();
  if (name === '') return undefined;
  if (!isPrintable(name) || Array.from(name).length > MAX_FILE_NAME_CHARS) {
    const detail = `must be at most ${MAX_FILE_NAME_CHARS} printable characters`;
    throw new ChatdError('INVALID_INPUT', 'Invalid file name.', { detail, validations: [{ field: 'name', detail }] });
  }
  return name;
}

/** `attachment` with the name as an ASCII fallback and, exactly, as RFC 5987 UTF-8: no header injection, no quoting games. */
export function attachmentDisposition(name: string | null): string {
  if (!name) return 'attachment';
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Builds the two file routes (mounted before the chat routes, whose `/{chat}` would read `files` as a chat id). */
export function createFileRoutes(deps: FileRoutesDeps): { method: string; pattern: string[]; handler: RouteHandler }[] {
  const limiter = createPerUserRateLimiter({ clock: deps.clock, perMinute: deps.uploadsPerMinute ?? DEFAULT_FILE_UPLOADS_PER_MINUTE });
  const count = deps.onUpload ?? (() => {});
  return [
    {
      method: 'POST',
      pattern: ['files'],
      handler: async (req: IncomingMessage, res: ServerResponse, who, _params, url) => {
        const organization = url.searchParams.get('organization');
        if (organization !== null && organization !== '') {
          if (!isUuid(organization)) throw new ChatdError('INVALID_INPUT', 'Invalid organization ID.', { validations: [{ field: 'organization', detail: 'must be a UUID' }] });
          if (!(await deps.identity.isMember(organization.toLowerCase(), who.user.id))) throw new ChatdError('FORBIDDEN', 'You are not a member of this organization.');
        }
        const mediaType = bareMediaType(req.headers['content-type']);
        if (!FILE_MEDIA_TYPES.includes(mediaType)) {
          count('unsupported_type');
          res.setHeader('connection', 'close');
          req.resume();
          throw new ChatdError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported file type.', { detail: `Content-Type must be one of ${FILE_MEDIA_TYPES.join(', ')}.` });
        }
        const name = fileNameFromDisposition(req.headers['content-disposition']);
        const allowance = limiter.take(who.user.id);
        if (!allowance.allowed) {
          count('rate_limited');
          res.setHeader('connection', 'close');
          req.resume();
          throw new ChatdError('RATE_LIMITED', 'Too many uploads.', { detail: `At most ${deps.uploadsPerMinute ?? DEFAULT_FILE_UPLOADS_PER_MINUTE} uploads a minute.`, retryAfterMs: allowance.retryAfterMs });
        }
        let data: Buffer;
        try {
          data = await readRawBody(req, MAX_FILE_BYTES);
        } catch (err) {
          count('too_large');
          // The rest of an oversize body is never read: the connection ends with the answer instead of draining it.
          res.setHeader('connection', 'close');
          throw err;
        }
        const file = await deps.files.insertFile({
          ownerId: who.user.id,
          mediaType,
          data,
          ...(name !== undefined ? { name } : {}),
          ...(organization ? { organizationId: organization.toLowerCase() } : {}),
        });
        count('stored');
        sendJson(res, 201, { id: file.id });
      },
    },
    {
      method: 'GET',
      pattern: ['files', '*'],
      handler: async (_req, res, who, [id]) => {
        const file = await deps.files.getFile(id ?? '', who.user.id);
        if (!file) throw new ChatdError('NOT_FOUND', 'file not found');
        res.writeHead(200, {
          'content-type': file.mediaType,
          'content-length': file.size,
          'content-disposition': attachmentDisposition(file.name),
          'x-content-type-options': 'nosniff',
          // The bytes of an id never change; they are private to the uploader.
          'cache-control': 'private, max-age=86400, immutable',
        });
        res.end(Buffer.from(file.data.buffer, file.data.byteOffset, file.data.byteLength));
      },
    },
  ];
}
