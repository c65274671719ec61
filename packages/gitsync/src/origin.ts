// Small helpers about stored diff statuses and remote origins: the staleness predicate the server's chat
// GET handler uses to decide on an inline refresh, and credential stripping for origins such as
// `https://x-access-token:<token>@github.com/o/r.git`, so a token never reaches the database, and the input
// checks that refuse `.`/`..` (plain or percent-encoded) as owner, repo or branch components before any request.
import type { ChatDiffStatusRow } from './store.js';

/** True when the row was never refreshed or its `stale_at` has passed (at or before `nowMs`). */
export function isDiffStatusStale(row: Pick<ChatDiffStatusRow, 'refreshed_at' | 'stale_at'>, nowMs: number): boolean {
  return row.refreshed_at === null || row.stale_at.getTime() <= nowMs;
}

/** Removes `user[:password]@` from an http(s) origin; other forms (ssh, scp-like) are returned unchanged. */
export function stripOriginCredentials(origin: string): string {
  return origin.replace(/^(https?:\/\/)[^/@]*@/i, '$1');
}

// Percent-decoding is repeated up to this many times: `%252e` is `%2e` after one round and `.` after two.
const MAX_DECODE_ROUNDS = 4;

function decodeRepeatedly(segment: string): string {
  let current = segment;
  for (let i = 0; i < MAX_DECODE_ROUNDS; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return current;
    }
    if (next === current) break;
    current = next;
  }
  return current;
}

/** The path part of an origin as typed: after `scheme://authority`, after `host:` (scp-like), or the whole string. */
function originPath(origin: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(.*)$/i.exec(origin);
  if (withScheme) return withScheme[1]!.replace(/[?#].*$/, '');
  const scpLike = /^(?:[^/@:]+@)?[^/:]+:(.*)$/.exec(origin);
  return scpLike ? scpLike[1]! : origin;
}

/**
 * The first path segment of a remote origin that must not name an owner, group or repository: empty, `.`,
 * `..`, or one that becomes so (or holds a slash) once percent-decoded; undefined when every segment is a name.
 * Checked on the raw text because URL parsing would already have resolved the dots away.
 */
export function unsafeOriginSegment(origin: string): string | undefined {
  const segments = originPath(origin.trim()).split(/[/\\]/);
  if (segments[0] === '') segments.shift();
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  const last = segments.length - 1;
  if (last >= 0) segments[last] = segments[last]!.replace(/\.git$/i, '');
  for (const raw of segments) {
    const decoded = decodeRepeatedly(raw);
    if (decoded.trim() === '' || decoded === '.' || decoded === '..' || /[/\\]/.test(decoded)) return raw;
  }
  return undefined;
}

/**
 * The first component of a branch name that git itself refuses and that would climb out of a URL path
 * (empty, starting with `.`, or holding `..` or a backslash); undefined for a usable name.
 */
export function unsafeBranchComponent(branch: string): string | undefined {
  return branch.split('/').find((c) => c === '' || c.startsWith('.') || c.includes('..') || c.includes('\\'));
}
