// Small request/response helpers for the node:http server: a size-limited JSON body reader and JSON
// writers. The body limit is enforced while reading, so an oversize body is refused before it is buffered.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChatdError } from '../chatd-error.js';

/** Largest request body accepted (contract.md#errors: 413 above 1 MiB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads and parses a JSON body; an empty body is `{}`. Throws ChatdError PAYLOAD_TOO_LARGE or INVALID_INPUT. */
export async function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new ChatdError('PAYLOAD_TOO_LARGE', 'Request body too large.', { detail: `The limit is ${limit} bytes.` });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new ChatdError('PAYLOAD_TOO_LARGE', 'Request body too large.', { detail: `The limit is ${limit} bytes.` });
    }
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  const text = Buffer.concat(chunks, size).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ChatdError('INVALID_INPUT', 'Request body must be valid JSON.');
  }
}

/**
 * Reads a raw body of at most `limit` bytes. The declared length is checked first, and the stream stops being
 * kept past the limit (the rest is drained unread), so an oversize upload never sits in memory. Throws
 * ChatdError PAYLOAD_TOO_LARGE.
 */
export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new ChatdError('PAYLOAD_TOO_LARGE', 'Request body too large.', { detail: `The limit is ${limit} bytes.` });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  // Listeners, not for-await: leaving a for-await loop destroys the request, and with it the socket the 413 goes out on.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        chunks.length = 0;
        // Drained unread from here on; the caller's answer closes the connection.
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Writes a JSON response (with `headers` added, e.g. `retry-after`; they cannot replace the content headers). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Writes an empty response. */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'cache-control': 'no-store' });
  res.end();
}
