// The frames of the watch socket (contract.md#watch) and of the inbox socket (contract.md#inbox-socket), as clients
// receive them: one JSON object per text frame. The watch socket's `ChatEvent` always carries the full chat (a
// truncated pubsub event is completed from the database first, contract.md#oversized-events); `action_required` adds
// the calls the client must answer (contract.md#client-tools).
import { z } from 'zod';
import { chatSchema, chatStatusSchema, inboxNotificationSchema, timestampSchema, uuidSchema } from './chat-types.js';
import { actionRequiredToolCallSchema } from './stream-event.js';

/** The kinds of a watch frame. */
export const watchEventKindSchema = z.enum(['status_change', 'title_change', 'created', 'deleted', 'diff_status_change', 'action_required']);

const fullWatchEventSchema = z.object({
  kind: watchEventKindSchema,
  chat: chatSchema,
  tool_calls: z.array(actionRequiredToolCallSchema).optional(),
});

// Only when the chat could not be read back (contract.md#oversized-events): the reduced chat of the pubsub event.
const truncatedWatchEventSchema = z.object({
  kind: watchEventKindSchema,
  chat: z.object({ id: uuidSchema, owner_id: uuidSchema, status: chatStatusSchema, title: z.string(), updated_at: timestampSchema }),
  truncated: z.literal(true),
});

/** One frame of the watch socket. */
export const watchEventSchema = z.union([fullWatchEventSchema, truncatedWatchEventSchema]);
/** One frame of the watch socket. */
export type WatchEvent = z.infer<typeof watchEventSchema>;

/** One frame of the inbox socket: the notification and how many this socket has carried. */
export const inboxFrameSchema = z.object({ notification: inboxNotificationSchema, unread_count: z.int().nonnegative() });
/** One frame of the inbox socket. */
export type InboxFrame = z.infer<typeof inboxFrameSchema>;
