// Maps a chat_diff_statuses row to the API's ChatDiffStatus (contract.md#diff-status), the shape carried by
// diff_status_change events and chat responses. Optional fields are omitted, never null.
import type { ChatDiffStatus } from '@chatd/protocol';
import type { ChatDiffStatusRow } from './store.js';

/** The API view of a diff status row. */
export function toChatDiffStatus(row: ChatDiffStatusRow): ChatDiffStatus {
  const status: ChatDiffStatus = {
    chat_id: row.chat_id,
    changes_requested: row.changes_requested,
    additions: row.additions,
    deletions: row.deletions,
    changed_files: row.changed_files,
  };
  if (row.url !== null) status.url = row.url;
  if (row.pull_request_state !== null) status.pull_request_state = row.pull_request_state;
  if (row.refreshed_at !== null) status.refreshed_at = row.refreshed_at.toISOString();
  status.stale_at = row.stale_at.toISOString();
  return status;
}
