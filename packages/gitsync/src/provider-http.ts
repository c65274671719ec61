// HTTP plumbing shared by the REST providers: GET with bearer auth, rate-limit detection, capped reads,
// zod validation of every JSON body, and optional ETag revalidation (a 304 is answered from the cache).
// Error messages name the provider ("github request failed with status 500: ..."). It never retries.
import type { Clock } from '@chatd/clock';
import type { z } from 'zod';
import { ERROR_BODY_LIMIT_BYTES } from './constants.js';
import { etagCacheKey, type EtagCache } from './etag-cache.js';
import { GitSyncError, errorMessage, wrapError } from './gitsync-error.js';
import { detectRateLimit } from './rate-limit.js';
import { readBodyCapped } from './read-body.js';

/** Largest JSON body a provider reads. */
export const MAX_JSON_BYTES = 16 << 20;

/** Options for `createProviderHttp`. */
export type ProviderHttpOptions = {
  /** Provider name used in error messages, e.g. 'github'. */
  name: string;
  clock: Clock;
  fetch: typeof fetch;
  /** Header holding the rate-limit reset epoch. */
  resetHeader: string;
  /** Conditional-request cache for JSON reads; undefined disables revalidation. */
  etagCache: EtagCache | undefined;
};

/** A validated JSON response. */
export type JsonResponse<T> = { data: T; headers: Headers };

/** GET helpers bound to one provider. */
export interface ProviderHttp {
  /** GETs JSON and validates it with `schema`. */
  getJson<T>(url: string, token: string, schema: z.ZodType<T>, headers: Record<string, string>, signal?: AbortSignal, maxBytes?: number): Promise<JsonResponse<T>>;
  /** GETs a text body of at most `maxBytes`; a larger one fails with DIFF_TOO_LARGE. No revalidation. */
  getText(url: string, token: string, maxBytes: number, headers: Record<string, string>, signal?: AbortSignal): Promise<string>;
}

/** Creates the HTTP helpers of one provider. */
export function createProviderHttp(options: ProviderHttpOptions): ProviderHttp {
  const { name, clock, fetch: doFetch, resetHeader, etagCache: cache } = options;

  async function send(url: string, headers: Record<string, string>, token: string, signal: AbortSignal | undefined): Promise<Response> {
    const all = { ...headers };
    if (token !== '') all['Authorization'] = `Bearer ${token}`;
    try {
      return await doFetch(url, { method: 'GET', headers: all, signal });
    } catch (err) {
      if (signal?.aborted) throw wrapError(`execute ${name} request`, signal.reason, 'ABORTED');
      throw new GitSyncError('TRANSPORT_ERROR', `execute ${name} request: ${errorMessage(err)}`, { cause: err });
    }
  }

  async function read(response: Response, maxBytes: number, signal: AbortSignal | undefined) {
    try {
      return await readBodyCapped(response, maxBytes);
    } catch (err) {
      if (signal?.aborted) throw wrapError(`read ${name} response`, signal.reason, 'ABORTED');
      throw new GitSyncError('TRANSPORT_ERROR', `read ${name} response: ${errorMessage(err)}`, { cause: err });
    }
  }

  async function failure(response: Response, what: string, signal: AbortSignal | undefined): Promise<GitSyncError> {
    const rateLimit = detectRateLimit(response.status, response.headers, clock, resetHeader);
    if (rateLimit) {
      await response.body?.cancel().catch(() => undefined);
      return rateLimit;
    }
    const { text } = await read(response, ERROR_BODY_LIMIT_BYTES, signal);
    return new GitSyncError('HTTP_ERROR', `${what} failed with status ${response.status}: ${text.trim()}`, { status: response.status });
  }

  function decode<T>(text: string, schema: z.ZodType<T>): T {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new GitSyncError('INVALID_RESPONSE', `decode ${name} response: ${errorMessage(err)}`, { cause: err });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new GitSyncError('INVALID_RESPONSE', `decode ${name} response: ${detail}`, { cause: parsed.error });
    }
    return parsed.data;
  }

  return {
    async getJson(url, token, schema, headers, signal, maxBytes = MAX_JSON_BYTES) {
      const key = cache ? etagCacheKey(url, token) : '';
      const cached = cache?.get(key);
      const response = await send(url, cached ? { ...headers, 'If-None-Match': cached.etag } : headers, token, signal);
      if (response.status === 304) {
        await response.body?.cancel().catch(() => undefined);
        // Not modified, and free of rate limit: answer from the cache as if it were a 200.
        if (!cached) throw new GitSyncError('HTTP_ERROR', `${name} request returned 304 without a cached response`, { status: 304 });
        return { data: decode(cached.body, schema), headers: response.headers };
      }
      if (!response.ok) throw await failure(response, `${name} request`, signal);
      const { text, exceeded } = await read(response, maxBytes, signal);
      if (exceeded) throw new GitSyncError('INVALID_RESPONSE', `decode ${name} response: body exceeds ${maxBytes} bytes`);
      const data = decode(text, schema);
      // Stored only once it validated, so a malformed body is never replayed on a later 304.
      const etag = response.headers.get('etag');
      if (cache && etag) cache.set(key, { etag, body: text });
      return { data, headers: response.headers };
    },

    async getText(url, token, maxBytes, headers, signal) {
      const response = await send(url, headers, token, signal);
      if (!response.ok) throw await failure(response, `${name} diff request`, signal);
      const { text, exceeded } = await read(response, maxBytes, signal);
      if (exceeded) throw new GitSyncError('DIFF_TOO_LARGE', `diff exceeds maximum size of ${maxBytes} bytes`);
      return text;
    },
  };
}
