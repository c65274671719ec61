// Row shapes of the chat tables and their mapping to the wire types (contract.md#chat, contract.md#messages).
// `pg` returns int8 as text and timestamptz as Date; ids become JS numbers here (message ids stay far
// below 2^53) and times RFC 3339 strings. No queries live here.
import type { Chat, ChatMessage, ChatMessagePart, ChatMessageUsage, ChatQueuedMessage, ChatStatus, ChatStreamError } from '@chatd/protocol';
import type { ReasoningEffort } from '../model/model-settings.js';
import type { ChatRun } from './chat-store.js';
import type { RunOutcome } from './chat-tx.js';

/** A `chats` row as read by the stores. */
export type ChatRow = {
  id: string;
  organization_id: string;
  owner_id: string;
  workspace_id: string | null;
  parent_chat_id: string | null;
  root_chat_id: string | null;
  last_model_config_id: string | null;
  title: string;
  status: ChatStatus;
  last_error: ChatStreamError | null;
  worker_id: string | null;
  run_id: string | null;
  started_at: Date | null;
  heartbeat_at: Date | null;
  archived: boolean;
  labels: Record<string, string> | null;
  client_type: string | null;
  /** The turns' requested reasoning effort; null: the model configuration's own. Internal, not on the wire `Chat`. */
  reasoning_effort: ReasoningEffort | null;
  /** Passed over by the acquisition for the owner's concurrency cap (meaningful while pending). */
  queued_for_capacity: boolean;
  created_at: Date;
  updated_at: Date;
};

/** A chat as the worker runs it: the wire `Chat` plus what only the worker needs (contract.md#provider-admin). */
export type RunnableChat = Chat & { reasoning_effort?: ReasoningEffort | null };

/** A `chat_messages` row. */
export type MessageRow = {
  id: string;
  chat_id: string;
  run_id: string | null;
  last_seq: number | null;
  model_config_id: string | null;
  created_by: string | null;
  role: ChatMessage['role'];
  content: ChatMessagePart[];
  visibility: MessageVisibility;
  deleted: boolean;
  usage: ChatMessageUsage | null;
  created_at: Date;
};

/** A `chat_queued_messages` row. */
export type QueuedRow = {
  id: string;
  chat_id: string;
  model_config_id: string | null;
  created_by: string | null;
  content: ChatMessagePart[];
  created_at: Date;
};

/** A `chat_runs` row with the highest `last_seq` of its messages (int8 ids as text). */
export type ChatRunRow = {
  id: string;
  chat_id: string;
  worker_id: string;
  started_at: Date;
  ended_at: Date | null;
  outcome: RunOutcome | null;
  message_ids: string[];
  last_seq: number | null;
  error: ChatStreamError | null;
};

/** Who sees a message: clients (`user`), the model (`model`) or both. */
export type MessageVisibility = 'user' | 'model' | 'both';

/** Columns of `chats` every store query returns. */
export const CHAT_COLUMNS =
  'id, organization_id, owner_id, workspace_id, parent_chat_id, root_chat_id, last_model_config_id, title, status, last_error, worker_id, run_id, started_at, heartbeat_at, archived, labels, client_type, reasoning_effort, queued_for_capacity, created_at, updated_at';

/** The chat the worker runs: the API `Chat` of a row plus its `reasoning_effort` (a new object, never published). */
export function toRunnableChat(row: ChatRow): RunnableChat {
  return { ...toChat(row), reasoning_effort: row.reasoning_effort };
}

/** The API `Chat` of a row. */
export function toChat(row: ChatRow): Chat {
  const chat: Chat = {
    id: row.id,
    organization_id: row.organization_id,
    owner_id: row.owner_id,
    workspace_id: row.workspace_id,
    parent_chat_id: row.parent_chat_id,
    root_chat_id: row.root_chat_id ?? row.parent_chat_id ?? row.id,
    last_model_config_id: row.last_model_config_id,
    title: row.title,
    status: row.status,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    archived: row.archived,
    worker_id: row.worker_id,
    labels: row.labels ?? {},
  };
  if (row.client_type !== null) chat.client_type = row.client_type;
  if (row.status === 'pending' && row.queued_for_capacity) chat.queued_for_capacity = true;
  return chat;
}

/** The API `ChatMessage` of a row (empty content and usage omitted). */
export function toMessage(row: MessageRow): ChatMessage {
  const msg: ChatMessage = { id: Number(row.id), chat_id: row.chat_id, created_at: row.created_at.toISOString(), role: row.role };
  if (row.model_config_id !== null) msg.model_config_id = row.model_config_id;
  if (row.content.length > 0) msg.content = row.content;
  if (row.usage !== null && Object.keys(row.usage).length > 0) msg.usage = row.usage;
  // The run cursor of a run's message (contract.md#steps); both or neither.
  if (row.run_id !== null && row.last_seq !== null) {
    msg.run_id = row.run_id;
    msg.last_seq = row.last_seq;
  }
  return msg;
}

/** The API `ChatQueuedMessage` of a row. */
export function toQueued(row: QueuedRow): ChatQueuedMessage {
  return { id: Number(row.id), chat_id: row.chat_id, content: row.content, created_at: row.created_at.toISOString() };
}

/** The `ChatRun` of a row. */
export function toChatRun(r: ChatRunRow): ChatRun {
  return {
    id: r.id,
    chatId: r.chat_id,
    workerId: r.worker_id,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    outcome: r.outcome,
    messageIds: r.message_ids.map(Number),
    lastSeq: r.last_seq,
    error: r.error,
  };
}
