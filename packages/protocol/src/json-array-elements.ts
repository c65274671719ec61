// The source text of each element of a JSON array, sliced out of the array's text: a relay that decoded a peer's
// frame forwards every event as the peer wrote it instead of encoding it again (JSON.stringify per event was the
// largest cost of relaying a multi-event frame). Only for text `JSON.parse` already accepted as an array, so the
// scan need not validate: it skips strings whole (indexOf to the closing quote) and tracks nesting depth.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** JSON's four whitespace characters (space, line feed, carriage return, tab; RFC 8259). */
export const isJsonWhitespace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index of the quote closing the string that opens at `open` (the backslashes before a quote decide whether it is escaped). */
export function closingQuote(text: string, open: number): number {
  let j = open;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) return text.length; // unterminated (not JSON): end the scan rather than loop
    let k = j - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j;
  }
}

/**
 * The text of every element of `text`, a JSON array that `JSON.parse` accepted (anything else gives an
 * unspecified result), without the whitespace around each element; in order, one per element.
 */
export function jsonArrayElements(text: string): string[] {
  const out: string[] = [];
  let i = text.indexOf('[') + 1;
  let depth = 0;
  let start = -1; // first character of the current element, -1 between elements
  let end = -1; // last character of the current element seen so far
  for (const n = text.length; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (start < 0) start = i;
      i = closingQuote(text, i);
      end = i;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (start < 0) start = i;
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth === 0) break; // the array's own closing bracket
      depth--;
      end = i;
    } else if (c === COMMA && depth === 0) {
      out.push(text.slice(start, end + 1));
      start = -1;
    } else if (!isJsonWhitespace(c)) {
      if (start < 0) start = i;
      end = i;
    }
  }
  if (start >= 0) out.push(text.slice(start, end + 1));
  return out;
}
