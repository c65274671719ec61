// An in-memory LRU of conditional-request validators (contract.md#conditional-requests): ETag and body per URL and token,
// so a provider can send If-None-Match and answer a 304, which costs no GitHub rate limit, from memory.
// Keys hold a short SHA-256 prefix of the token, never the token; entries are never shared across tokens.
import { createHash } from 'node:crypto';
import { ETAG_CACHE_MAX_BODY_BYTES, ETAG_CACHE_MAX_ENTRIES } from './constants.js';

/** A cached response. */
export type EtagEntry = { etag: string; body: string };

/** The cache port providers use. */
export interface EtagCache {
  /** The entry for `key`, counting as a use. */
  get(key: string): EtagEntry | undefined;
  /** Stores an entry; ignored when the ETag is empty or the body is over the size cap. */
  set(key: string, entry: EtagEntry): void;
  /** Number of entries held. */
  size(): number;
}

/** Options for `createEtagCache`. */
export type EtagCacheOptions = {
  /** @default ETAG_CACHE_MAX_ENTRIES */
  maxEntries?: number;
  /** @default ETAG_CACHE_MAX_BODY_BYTES */
  maxBodyBytes?: number;
};

/** The cache key of a request: URL, NUL, then hex of the first 8 bytes of SHA-256(token). */
export function etagCacheKey(url: string, token: string): string {
  return `${url}\0${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

/** Creates an LRU ETag cache. */
export function createEtagCache(options: EtagCacheOptions = {}): EtagCache {
  const maxEntries = Math.max(1, options.maxEntries ?? ETAG_CACHE_MAX_ENTRIES);
  const maxBodyBytes = options.maxBodyBytes ?? ETAG_CACHE_MAX_BODY_BYTES;
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  const entries = new Map<string, EtagEntry>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry) {
        entries.delete(key);
        entries.set(key, entry);
      }
      return entry;
    },
    set(key, entry) {
      if (entry.etag === '' || Buffer.byteLength(entry.body) > maxBodyBytes) return;
      entries.delete(key);
      entries.set(key, { etag: entry.etag, body: entry.body });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
    },
    size: () => entries.size,
  };
}
