import { describe, expect, it } from 'vitest';
import { createEtagCache, ETAG_CACHE_MAX_BODY_BYTES, etagCacheKey } from '../src/index.js';

describe('createEtagCache', () => {
  it('evicts the least recently used entry, counting a lookup as a use', () => {
    const cache = createEtagCache({ maxEntries: 2 });
    cache.set('a', { etag: '"1"', body: 'A' });
    cache.set('b', { etag: '"2"', body: 'B' });
    expect(cache.get('a')?.body).toBe('A');
    cache.set('c', { etag: '"3"', body: 'C' });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.body).toBe('A');
    expect(cache.get('c')?.body).toBe('C');
    expect(cache.size()).toBe(2);
  });

  it('ignores entries with an empty ETag or an oversized body', () => {
    const cache = createEtagCache();
    cache.set('a', { etag: '', body: 'A' });
    cache.set('b', { etag: '"x"', body: 'x'.repeat(ETAG_CACHE_MAX_BODY_BYTES + 1) });
    cache.set('c', { etag: '"y"', body: 'y'.repeat(ETAG_CACHE_MAX_BODY_BYTES) });
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')?.etag).toBe('"y"');
  });

  it('keys by URL and a token hash, never the raw token', () => {
    const key = etagCacheKey('https://api.github.com/x', 'secret-token');
    expect(key).toMatch(/^https:\/\/api\.github\.com\/x\0[0-9a-f]{16}$/);
    expect(key).not.toContain('secret-token');
    expect(etagCacheKey('https://api.github.com/x', 'other')).not.toBe(key);
  });
});
