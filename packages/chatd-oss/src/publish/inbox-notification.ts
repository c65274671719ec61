// The inbox notification chatd sends a chat's owner when a run finishes or fails (contract.md#watch).
// Notifications are not stored (no inbox table): each is built fresh with a new id and
// published once on `inbox_notification:owner:<owner>`; an owner who is not watching simply misses it.
import { randomUUID } from 'node:crypto';
import type { Chat, InboxNotification } from '@chatd/protocol';

/** Template of "a chat's reply is ready". */
export const CHAT_RUN_FINISHED_TEMPLATE_ID = '5c0b0d64-8f0e-4e7a-9d4f-1a0c6f3b2e01';
/** Template of "a chat's run failed". */
export const CHAT_RUN_FAILED_TEMPLATE_ID = '5c0b0d64-8f0e-4e7a-9d4f-1a0c6f3b2e02';
/** Icon name of chat notifications. */
export const CHAT_NOTIFICATION_ICON = 'chat';

/** Longest error text quoted in a notification (NOTIFY payloads stay far below 8000 bytes). */
export const MAX_REASON_CHARS = 500;

/** Which run end a notification announces. */
export type RunNotificationKind = 'finished' | 'failed';

/** Builds the owner's notification for a run of `chat` that ended as `kind`, dated `now`. */
export function buildRunInboxNotification(chat: Chat, kind: RunNotificationKind, now: Date): InboxNotification {
  const failed = kind === 'failed';
  const reason = chat.last_error?.message.slice(0, MAX_REASON_CHARS);
  return {
    id: randomUUID(),
    user_id: chat.owner_id,
    template_id: failed ? CHAT_RUN_FAILED_TEMPLATE_ID : CHAT_RUN_FINISHED_TEMPLATE_ID,
    targets: [chat.id],
    title: failed ? `Chat failed: ${chat.title}` : `Reply ready: ${chat.title}`,
    content: failed ? `The reply to "${chat.title}" failed${reason ? `: ${reason}` : '.'}` : `The reply to "${chat.title}" is ready.`,
    icon: CHAT_NOTIFICATION_ICON,
    actions: [{ label: 'View chat', url: `/chats/${chat.id}` }],
    read_at: null,
    created_at: now.toISOString(),
  };
}
