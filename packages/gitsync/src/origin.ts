// Small helpers about stored diff statuses and remote origins: the staleness predicate the server's chat
// GET handler uses to decide on an inline refresh, and credential stripping for origins such as
// `https://x-access-token:<token>@github.com/o/r.git`, so a token never reaches the database.
import type { ChatDiffStatusRow } from './store.js';

/** True when the row was never refreshed or its `stale_at` has passed (at or before `nowMs`). */
export function isDiffStatusStale(row: Pick<ChatDiffStatusRow, 'refreshed_at' | 'stale_at'>, nowMs: number): boolean {
  return row.refreshed_at === null || row.stale_at.getTime() <= nowMs;
}

/** Removes `user[:password]@` from an http(s) origin; other forms (ssh, scp-like) are returned unchanged. */
export function stripOriginCredentials(origin: string): string {
  return origin.replace(/^(https?:\/\/)[^/@]*@/i, '$1');
}
