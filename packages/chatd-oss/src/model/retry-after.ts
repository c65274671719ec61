// Parses the `retry-after` family of HTTP headers into a wait in milliseconds. RFC 9110 allows delay
// seconds or an HTTP date; OpenAI-style servers also send `retry-after-ms`. Dates are read against the
// injected clock's now. It does not wait or decide backoff.

const SECONDS = /^\s*(\d+(?:\.\d+)?)\s*$/;

/** Parses one `retry-after` value (seconds or HTTP date) to milliseconds from `nowMs`; undefined when unusable. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const secs = SECONDS.exec(value);
  if (secs?.[1] !== undefined) return Math.round(Number(secs[1]) * 1000);
  // An HTTP date always names its month; without this, Date.parse would read "-3" as a year.
  if (!/[a-z]{3}/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Reads `retry-after-ms` (preferred, it is exact) or `retry-after` from response headers. */
export function retryAfterFromHeaders(headers: Headers, nowMs: number): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && SECONDS.test(ms)) return Math.round(Number(ms));
  return parseRetryAfterMs(headers.get('retry-after'), nowMs);
}

/** Reads `retry-after-ms` or `retry-after` from a plain header record (as the AI SDK's `APICallError` carries them). */
export function retryAfterFromRecord(headers: Record<string, string | undefined>, nowMs: number): number | undefined {
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) lower[k.toLowerCase()] = v;
  return retryAfterFromHeaders(new Headers(lower), nowMs);
}
