// int64 on the wire (message ids, `after_id`): decimal text carried as bigint, never through a JS number,
// which loses everything above 2^53. This is the one name of the int64 maximum.

/** Largest int64; as `after_id` it means "after everything" (what relays send: no history). */
export const INT64_MAX = 9_223_372_036_854_775_807n;

// Canonical non-negative decimal, no sign, no leading zeros; 19 digits at most, the range is checked after.
const INT64_TEXT_RE = /^(0|[1-9]\d{0,18})$/;

/** `text` as a non-negative int64, or undefined when it is not one (malformed or above INT64_MAX). */
export function parseInt64Text(text: string): bigint | undefined {
  if (!INT64_TEXT_RE.test(text)) return undefined;
  const n = BigInt(text);
  return n > INT64_MAX ? undefined : n;
}
