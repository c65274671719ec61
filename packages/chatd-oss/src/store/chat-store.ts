// The chat store: every status transition of contract.md#statuses as one transaction with the chat row
// locked, "now" taken from the clock. A run's writes are fenced by its run_id. Each state-changing call
// returns a `ChatChange` saying what the caller must publish; the store publishes nothing itself, except
// that an optional hook may NOTIFY a status inside the transaction so notifications follow commit order.
// Inputs are typed and already validated by the caller (the routes parse bodies with ../server/chat-body.ts):
// content arrives as parsed parts, labels, client_type and system prompt as checked values. The store still
// checks what only it can or what every caller passes: ids (UUIDs, before any SQL), that a model configuration
// exists and the owner's organization membership (in the database), the queue cap, and the size of what a run
// persists (MAX_PERSISTED_CONTENT_BYTES in `persistMessage`: a run's output never passes a route).
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import type { Chat, ChatMessage, ChatMessagePart, ChatMessageUsage, ChatQueuedMessage, ChatStatus, ChatStreamError } from '@chatd/protocol';
import { ChatdError } from '../chatd-error.js';
import { MAX_PERSISTED_CONTENT_BYTES, assertContentSize, requireUuid, titleFromText } from './chat-input.js';
import { CHAT_COLUMNS, toChat, toChatRun, toMessage, toQueued, toRunnableChat, type ChatRow, type ChatRunRow, type MessageRow, type MessageVisibility, type RunnableChat } from './chat-rows.js';
import type { ReasoningEffort } from '../model/model-settings.js';
import { parseReasoningEffort } from './model-config-input.js';
import { CANCELLED_TOOL_RESULT } from '../tools/server-tool.js';
import { NO_RESULT_IN_TIME_RESULT, type ClientToolResult, type DynamicTool, type PendingToolCall } from '../tools/client-tools.js';
import {
  MESSAGE_COLUMNS,
  endRun,
  insertMessage,
  lockChat,
  notFound,
  pendingWrite,
  promoteQueued,
  queueLength,
  readQueue,
  writeStatus,
  type RunOutcome,
} from './chat-tx.js';
import type { CompactionRequest } from './compaction-store.js';
import { inTransaction, retryingDeadlocks, sqlState } from './db.js';
import { activeTraceparent } from '../telemetry/traceparent.js';
import { readMessagePage } from './message-page.js';
import { readSubscriptionSetup, type SubscriptionSetup, type SubscriptionSetupQuery } from './subscription-setup.js';
import { CREATE_CHAT_SQL, splitCreatedRow, type CreatedChatRow } from './create-chat-sql.js';

/** Most messages a chat's queue holds (`MaxQueueSize`). @default 20 */
export const DEFAULT_MAX_QUEUE_SIZE = 20;

/** Chats of one user generating at once across the cluster (`CHATD_MAX_RUNNING_PER_USER`). @default 5 */
export const DEFAULT_MAX_RUNNING_PER_USER = 5;

/** Advisory lock key that serialises acquisitions across replicas (arbitrary, fixed). */
const ACQUIRE_LOCK_KEY = 0x63686174_64; // "chatd"

/** Each pending chat with its place in its owner's line: running chats first, then pending in pending order. */
const RANKED_PENDING_SQL = `SELECT p.id, row_number() OVER (PARTITION BY p.owner_id ORDER BY p.updated_at, p.id) + coalesce(r.n, 0) AS slot
    FROM chats p LEFT JOIN (SELECT owner_id, count(*) AS n FROM chats WHERE status = 'running' GROUP BY owner_id) r ON r.owner_id = p.owner_id
   WHERE p.status = 'pending' AND NOT p.archived`;

/**
 * Names of the worker's statements that run once or more per run (issue 36), prepared once per connection: PostgreSQL
 * planned each of them on every call (the take 1.6 ms, the history 0.4 ms, the probe 0.3 ms per call in
 * peers-s1b, loaded host), more than it spent executing them. Their texts never change within a process.
 */
export const PREPARED = {
  probe: 'chatd_acquisition_probe',
  take: 'chatd_acquisition_take',
  heartbeat: 'chatd_heartbeat_runs',
  runStates: 'chatd_run_states',
  modelHistory: 'chatd_model_history',
} as const;

/** Chats `getChatRunStates` reads at most per call. @default 500 */
export const RUN_STATE_BATCH_SIZE = 500;

/** Chats one acquire call takes at most (`DefaultMaxChatsPerAcquire`). @default 10 */
export const DEFAULT_MAX_CHATS_PER_ACQUIRE = 10;

/** Page size of chat and message lists when none is asked for. @default 50 */
export const DEFAULT_PAGE_LIMIT = 50;
/** Largest page size of chat and message lists. @default 200 */
export const MAX_PAGE_LIMIT = 200;
/**
 * Bytes of message content (`content` as JSON text) above which a `GET /{chat}/messages` page stops early,
 * with `has_more`; a single larger message still comes alone. @default 8 MiB
 */
export const MAX_MESSAGES_PAGE_BYTES = 8 * 1024 * 1024;
/** Messages `messagesAfter` returns at most when the caller gives no limit. @default 10000 */
export const DEFAULT_MESSAGES_AFTER_LIMIT = 10_000;

/** Longest chat title, in code points. @default 200 */
export const MAX_TITLE_CODE_POINTS = 200;

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** What a caller must publish after a state change (contract.md#publishing). */
export type ChatChange = {
  /** The chat after the change (its `status` and `worker_id` are what a `status` event carries). */
  chat: Chat;
  /** The status was written: publish a `status` event and a `status_change` ChatEvent. */
  statusChanged: boolean;
  /** The status was already NOTIFYed inside the transaction (see `notifyStatusInTransaction`). */
  statusNotified: boolean;
  /** Durable messages inserted, ascending: publish each as a `message` event. */
  messages: ChatMessage[];
  /** Set when the queue changed: the whole queue for a `queue_update` event. */
  queue?: ChatQueuedMessage[];
  /** History was rewritten (edit, delete): publish `full_refresh`. */
  fullRefresh: boolean;
  /** A run failed: publish this as an `error` event before the status. */
  error?: ChatStreamError;
  /** The chat's run after the change (a `running` status names it: `run_id` of the stream notification). */
  runId?: string;
};

/**
 * A chat taken by `acquireChats`, running under a fresh run id. `chat` also carries its `reasoning_effort`
 * (for the model resolver); `change.chat` is the wire chat to publish.
 */
/** A chat a worker took: `pendingSinceMs` is when it became pending (where time to first token starts). */
export type AcquiredChat = {
  chat: RunnableChat;
  runId: string;
  change: ChatChange;
  pendingSinceMs?: number;
  /**
   * The chat's client tools and manual compaction request as the acquisition read them (issue 36: the run's first
   * step uses them instead of two more round trips). Absent: the run reads them.
   */
  startReads?: { dynamicTools: DynamicTool[]; compactRequest: CompactionRequest | undefined };
};

/** Outcome of `sendMessage` (the `CreateChatMessageResponse` plus what to publish). */
export type SendMessageResult = {
  queued: boolean;
  message?: ChatMessage;
  queued_message?: ChatQueuedMessage;
  change: ChatChange;
};

/**
 * Input of `listMessages`, already parsed and checked by the caller (the route parses the query string):
 * ids are int64 as bigint (0n or absent: no bound), `afterId` < `beforeId` when both are set.
 */
export type ListMessagesInput = { chatId: string; ownerId?: string; beforeId?: bigint; afterId?: bigint; limit?: number };

/** A page of `listMessages` (`ChatMessagesResponse`). */
export type MessagePage = { messages: ChatMessage[]; queued_messages: ChatQueuedMessage[]; has_more: boolean };

/** A page of `messagesAfter`: ascending, and whether more messages follow it. */
export type MessagesAfterPage = { messages: ChatMessage[]; hasMore: boolean };

/** What the worker needs to know about a chat's run (the `SubscribeFnStore` read). */
export type ChatRunState = { status: ChatStatus; workerId: string | null; runId: string | null };

/** A recorded generation run. */
export type ChatRun = {
  id: string;
  chatId: string;
  workerId: string;
  startedAt: Date;
  endedAt: Date | null;
  outcome: RunOutcome | null;
  /** Ids of the messages it persisted, in order. */
  messageIds: number[];
  /** The highest `last_seq` of those messages (contract.md#steps); null when none carries one. */
  lastSeq: number | null;
  error: ChatStreamError | null;
};

/**
 * A message as the model sees it (hidden system rows included, deleted rows not); `usage` as its step reported it,
 * `summary` on the hidden summary of a compaction (contract.md#compaction).
 */
export type ModelHistoryMessage = {
  id: number;
  role: ChatMessage['role'];
  content: ChatMessagePart[];
  visibility: MessageVisibility;
  usage?: ChatMessageUsage;
  summary?: boolean;
};

/**
 * Input of `createChat` (`CreateChatRequest`), parsed and validated by the caller (the routes use
 * ../server/chat-body.ts): `content` as `validateInputContent` returns it, `systemPrompt`, `labels` and `clientType`
 * within their bounds. The title is taken from the content's text parts by the title rule.
 */
export type CreateChatInput = {
  ownerId: string;
  content: ChatMessagePart[];
  organizationId?: string;
  systemPrompt?: string;
  workspaceId?: string;
  modelConfigId?: string;
  labels?: Record<string, string>;
  clientType?: string;
  /** The reasoning effort of this chat's turns (`none|minimal|low|medium|high|max`). @default the model configuration's */
  reasoningEffort?: ReasoningEffort;
  /** Client-executed tools (`unsafe_dynamic_tools`), already checked by `parseDynamicTools`. */
  dynamicTools?: DynamicTool[];
};

/** Input of `sendMessage` (`CreateChatMessageRequest`); `content` parsed and validated by the caller (`validateInputContent`). */
export type SendMessageInput = {
  chatId: string;
  content: ChatMessagePart[];
  /** When set, a chat owned by someone else is NOT_FOUND. */
  ownerId?: string;
  modelConfigId?: string;
  /** `queue` (default) or `interrupt`: queue it, stop the run, which then promotes it. */
  busyBehavior?: 'queue' | 'interrupt';
  createdBy?: string;
  /**
   * The reasoning effort of the turn this message starts and of later ones (stored on the chat at once, also
   * when the message is queued); null goes back to the model configuration's. Absent: unchanged.
   */
  reasoningEffort?: ReasoningEffort | null;
};

/** Input of `editMessage`; `content` parsed and validated by the caller (`validateInputContent`). */
export type EditMessageInput = {
  chatId: string;
  messageId: number;
  content: ChatMessagePart[];
  /** When set, a chat owned by someone else is NOT_FOUND. */
  ownerId?: string;
  /** The model configuration of the new turn (and of later ones). Absent: the edited message's. */
  modelConfigId?: string;
  /** As `SendMessageInput.reasoningEffort`: stored on the chat; null goes back to the configuration's. Absent: unchanged. */
  reasoningEffort?: ReasoningEffort | null;
};

/** Outcome of `editMessage`. */
export type EditMessageResult = {
  /** The new user message. */
  message: ChatMessage;
  /** Ids of the visible messages the edit hid, ascending (the edited one first). */
  deletedMessageIds: number[];
  change: ChatChange;
};

/** Input of `persistMessage`: one durable message of a run. */
export type PersistMessageInput = {
  chatId: string;
  runId: string;
  role: 'assistant' | 'tool' | 'system';
  content: ChatMessagePart[];
  visibility?: MessageVisibility;
  usage?: ChatMessageUsage;
  modelConfigId?: string;
  /** The `seq` of the last streamed part the message covers (contract.md#steps); 0 when it covers none. */
  lastSeq?: number;
};

/** Input of `finishRun`. */
export type FinishRunInput = {
  chatId: string;
  runId: string;
  /**
   * `finished` and `interrupted` end as `waiting` (or `pending` when a message is queued); `failed` as `error`;
   * `requires_action` as `requires_action` waiting for `pendingToolCalls` until `deadline`, the queue untouched.
   */
  outcome: 'finished' | 'interrupted' | 'failed' | 'requires_action';
  /** The client calls the chat waits for (outcome `requires_action`). */
  pendingToolCalls?: PendingToolCall[];
  /** When the client calls are answered "no result from the client in time" (outcome `requires_action`). */
  deadline?: Date;
  /** The error of a failed run (`last_error`). */
  error?: ChatStreamError;
  /** Hand the chat back as `pending` (clean shutdown) instead of `waiting`. */
  requeue?: boolean;
};

/** Hook called inside a transaction that changed a chat's status (wire it to `notifyInTransaction`); `runId` is the chat's run after it. */
export type StatusNotifier = (client: pg.PoolClient, chat: Chat, runId?: string) => Promise<void>;

/** Options of `createChatStore`. */
export type ChatStoreOptions = {
  pool: pg.Pool;
  clock: Clock;
  /** @default DEFAULT_MAX_QUEUE_SIZE */
  maxQueueSize?: number;
  /** Chats of one owner running at once (contract.md#cost). @default DEFAULT_MAX_RUNNING_PER_USER */
  maxRunningPerUser?: number;
  /** When set, every status write also calls this inside its transaction and reports `statusNotified`. */
  notifyStatusInTransaction?: StatusNotifier;
  /**
   * Where `subscriptionSetup` runs: a pool whose sessions force generic plans (`createPool(..., { genericPlans:
   * true })`), so its statement is planned once per connection instead of on every stream open. @default pool
   */
  setupPool?: pg.Pool;
};

/**
 * Runs whose heartbeats one statement refreshes at most (the worker splits its tick into statements of this size, so
 * the array parameters stay small). @default 1000
 */
export const HEARTBEAT_BATCH_SIZE = 1000;

/** The chat tables. Every method rejects with `ChatdError` on bad input (nothing is written then). */
export interface ChatStore {
  /** Creates a chat (inserted `waiting`, first message, then `pending`, in one transaction). */
  createChat(input: CreateChatInput): Promise<{ chat: Chat; message: ChatMessage; change: ChatChange }>;
  /** Posts a user message: queued while busy (QUEUE_FULL past the cap), otherwise inserted and the chat set pending. */
  sendMessage(input: SendMessageInput): Promise<SendMessageResult>;
  /**
   * Whether an acquisition pass has anything to do, in one round trip (issue 36): a pending chat (`acquireChats`), a
   * client-tool deadline that passed (`expireRequiredActions`). A pass that finds neither skips both.
   */
  acquisitionWork(): Promise<{ pending: boolean; expired: boolean }>;
  /** Takes up to `limit` pending chats (FOR UPDATE SKIP LOCKED), each starting a new run for `workerId`. */
  acquireChats(workerId: string, limit?: number): Promise<AcquiredChat[]>;
  /** Refreshes a running chat's heartbeat; false when the run no longer owns the chat. */
  heartbeat(chatId: string, runId: string): Promise<boolean>;
  /**
   * Refreshes the heartbeats of many runs in one statement (the worker's tick); resolves with the chat ids whose
   * run still owns its chat. Up to HEARTBEAT_BATCH_SIZE runs per statement.
   */
  heartbeatRuns(runs: ReadonlyArray<{ chatId: string; runId: string }>): Promise<Set<string>>;
  /** Hands chats whose run missed heartbeats since `staleAfterMs` back (their runs `lost`). */
  recoverStaleChats(staleAfterMs: number): Promise<ChatChange[]>;
  /** Persists a message of run `runId` (RUN_FENCED when it is not the chat's current run). */
  persistMessage(input: PersistMessageInput): Promise<{ message: ChatMessage; change: ChatChange }>;
  /** Ends run `runId` (RUN_FENCED when it is not the chat's current run) and promotes the next queued message. */
  finishRun(input: FinishRunInput): Promise<ChatChange>;
  /** `POST /interrupt`: the chat becomes `waiting`, its worker cleared; a running run may still persist its partial reply and end. */
  interruptChat(chatId: string, ownerId?: string): Promise<ChatChange>;
  /** The chat, or undefined (also when `ownerId` is given and differs). */
  getChat(chatId: string, ownerId?: string): Promise<Chat | undefined>;
  /** The owner's chats, most recently updated first. */
  listChats(input: { ownerId: string; archived?: boolean; limit?: number; offset?: number }): Promise<Chat[]>;
  /** A page of visible messages, newest first. */
  listMessages(input: ListMessagesInput): Promise<MessagePage>;
  /**
   * A page of visible messages with id > `afterId`, ascending (stream snapshot and catch-up): at most `limit`
   * (default DEFAULT_MESSAGES_AFTER_LIMIT) and, when `maxBytes` is given, at most that many bytes of content
   * (at least one message).
   */
  messagesAfter(chatId: string, afterId: bigint, options?: { limit?: number; maxBytes?: number }): Promise<MessagesAfterPage>;
  /**
   * Whether the chat's newest message with id <= `afterId` is hidden: an edit rewrote the history after a client
   * read up to `afterId` (an edit hides every row from the edited one up to the new message), so a resume from
   * there would leave the client holding hidden messages. One index lookup.
   */
  cursorHidden(chatId: string, afterId: bigint): Promise<boolean>;
  /** The model-visible history, ascending. */
  modelHistory(chatId: string): Promise<ModelHistoryMessage[]>;
  /** The chat's queue, oldest first. */
  getQueue(chatId: string): Promise<ChatQueuedMessage[]>;
  /** `PATCH /{chat}`: title and/or archived. */
  updateChat(input: { chatId: string; ownerId?: string; title?: string; archived?: boolean }): Promise<{ change: ChatChange; titleChanged: boolean; archivedChanged: boolean }>;
  /**
   * `PATCH /{chat}/messages/{message}` (contract.md#edit): the user message and every later row are soft-deleted,
   * the new content inserted as a new message, the queue cleared, pending client calls dropped with the hidden
   * messages that made them, the running run fenced (its later writes are RUN_FENCED) and the chat set pending.
   * NOT_FOUND for another user's chat or a message not visible in this chat; INVALID_INPUT for a message that is
   * not a user message.
   */
  editMessage(input: EditMessageInput): Promise<EditMessageResult>;
  /** Soft-deletes one message (hidden from history; the caller publishes `full_refresh`). */
  deleteMessage(input: { chatId: string; messageId: number; ownerId?: string }): Promise<ChatChange>;
  /** Removes a queued message (no error when absent, so any int64 id will do). */
  deleteQueuedMessage(input: { chatId: string; queuedMessageId: bigint; ownerId?: string }): Promise<ChatChange>;
  /** Moves a queued message into history and sets the chat pending (NOT_FOUND when absent). */
  promoteQueuedMessage(input: { chatId: string; queuedMessageId: number; ownerId?: string }): Promise<{ message: ChatMessage; change: ChatChange }>;
  /** Status, worker and current run of the chat. */
  getChatRunState(chatId: string, signal?: AbortSignal): Promise<ChatRunState | undefined>;
  /** `getChatRunState` of several chats in one statement (at most RUN_STATE_BATCH_SIZE); unknown chats are absent. */
  getChatRunStates(chatIds: readonly string[]): Promise<Map<string, ChatRunState>>;
  /** A run by id. */
  getRun(runId: string): Promise<ChatRun | undefined>;
  /** A stream subscription's first reads in one statement (subscription-setup.ts); undefined for an unknown chat. */
  subscriptionSetup(query: SubscriptionSetupQuery): Promise<SubscriptionSetup | undefined>;
  /** The chat's client-executed tools ([] when none). */
  chatTools(chatId: string): Promise<DynamicTool[]>;
  /** The calls a chat in `requires_action` waits for; undefined in any other status. */
  pendingToolCalls(chatId: string): Promise<PendingToolCall[] | undefined>;
  /**
   * `POST /{chat}/tool-results`: answers every pending call exactly once with one `tool` message and sets the
   * chat `pending`. NOT_FOUND for another user's chat, CONFLICT unless `requires_action`, INVALID_INPUT (with
   * validations naming the ids) for missing, unknown or repeated ids. Nothing is written on a refusal.
   */
  submitToolResults(input: { chatId: string; ownerId?: string; results: ClientToolResult[] }): Promise<{ message: ChatMessage; change: ChatChange }>;
  /** Answers the pending calls of chats whose deadline passed with NO_RESULT_IN_TIME_RESULT and sets them `pending`. */
  expireRequiredActions(): Promise<ChatChange[]>;
}

/** Creates the PostgreSQL chat store. */
export function createChatStore(options: ChatStoreOptions): ChatStore {
  const { pool, clock } = options;
  const maxQueueSize = options.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE;
  const maxRunningPerUser = options.maxRunningPerUser ?? DEFAULT_MAX_RUNNING_PER_USER;
  if (!Number.isInteger(maxRunningPerUser) || maxRunningPerUser < 1) throw new ChatdError('CONFIG', 'maxRunningPerUser must be a positive integer.');
  const notifier = options.notifyStatusInTransaction;

  /** Builds the change, calling the in-transaction notifier when the status was written. */
  async function change(
    client: pg.PoolClient | undefined,
    row: ChatRow,
    parts: { statusChanged?: boolean; messages?: MessageRow[]; queueChanged?: boolean; fullRefresh?: boolean; error?: ChatStreamError },
  ): Promise<ChatChange> {
    const chat = toChat(row);
    const statusChanged = parts.statusChanged ?? false;
    let statusNotified = false;
    const runId = row.run_id ?? undefined;
    if (statusChanged && notifier && client) {
      await notifier(client, chat, runId);
      statusNotified = true;
    }
    const out: ChatChange = {
      chat,
      statusChanged,
      statusNotified,
      messages: (parts.messages ?? []).filter((m) => m.visibility !== 'model').map(toMessage),
      fullRefresh: parts.fullRefresh ?? false,
    };
    if (parts.queueChanged) out.queue = (await readQueue(client ?? pool, row.id)).map(toQueued);
    if (parts.error) out.error = parts.error;
    if (runId && chat.status === 'running') out.runId = runId;
    return out;
  }

  async function requireModelConfig(client: pg.PoolClient, id: string | undefined): Promise<string | undefined> {
    if (id === undefined) return undefined;
    const checked = checkModelConfigId(id);
    const { rows } = await client.query('SELECT 1 FROM chat_model_configs WHERE id = $1', [checked]);
    if (rows.length === 0) throw invalidModelConfig();
    return checked;
  }

  /** Promotes the head of the queue when nothing else will: no live run and not already pending/running. */
  async function promoteIfIdle(client: pg.PoolClient, row: ChatRow, now: Date): Promise<{ chat: ChatRow; message: MessageRow } | undefined> {
    if (row.run_id !== null || row.status === 'pending' || row.status === 'running' || row.status === 'requires_action') return undefined;
    return promoteQueued(client, row, now);
  }

  /** Ends the chat's current run (someone else took the chat); its later writes are then fenced. */
  async function takeOver(client: pg.PoolClient, row: ChatRow, now: Date): Promise<void> {
    if (row.run_id !== null) await endRun(client, row.run_id, 'interrupted', now);
  }

  /**
   * Answers every pending call of a chat in `requires_action` with `result` (is_error) as one `tool` message and
   * clears them; the caller writes the next status. Undefined when the chat does not wait.
   */
  async function answerPending(client: pg.PoolClient, row: ChatRow, result: unknown, now: Date): Promise<MessageRow | undefined> {
    if (row.status !== 'requires_action') return undefined;
    const calls = await readPending(client, row.id);
    await client.query('UPDATE chats SET pending_tool_calls = NULL, requires_action_deadline = NULL WHERE id = $1', [row.id]);
    if (calls.length === 0) return undefined;
    const content: ChatMessagePart[] = calls.map((c) => ({ type: 'tool-result', tool_call_id: c.tool_call_id, tool_name: c.tool_name, result: structuredClone(result), is_error: true }));
    return insertMessage(client, { chatId: row.id, role: 'tool', content, modelConfigId: row.last_model_config_id }, now);
  }

  function ownerOpt(ownerId: string | undefined): string | undefined {
    return ownerId === undefined ? undefined : requireUuid(ownerId, 'user ID');
  }

  const store: ChatStore = {
    async createChat(input) {
      const ownerId = requireUuid(input.ownerId, 'user ID');
      const parts = input.content;
      // The title source as the route's parse gives it: the text parts' (trimmed) texts joined by a space.
      const titleSource = parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(' ');
      const orgId = input.organizationId === undefined ? undefined : requireUuid(input.organizationId, 'organization ID');
      const workspaceId = input.workspaceId === undefined ? null : requireUuid(input.workspaceId, 'workspace ID');
      const labels = input.labels ?? {};
      const clientType = input.clientType;
      const reasoningEffort = input.reasoningEffort === undefined ? null : parseReasoningEffort(input.reasoningEffort);
      const systemPrompt = input.systemPrompt !== undefined && input.systemPrompt.trim() !== '' ? input.systemPrompt : undefined;
      // Checked before any SQL, as requireModelConfig does (the statement then only looks the id up).
      const explicitConfig = input.modelConfigId === undefined ? null : checkModelConfigId(input.modelConfigId);
      const now = clock.now();
      const args = [
        ownerId,
        orgId ?? null,
        explicitConfig,
        workspaceId,
        titleFromText(titleSource),
        JSON.stringify(labels),
        clientType ?? null,
        reasoningEffort,
        input.dynamicTools && input.dynamicTools.length > 0 ? JSON.stringify(input.dynamicTools) : null,
        now,
        systemPrompt === undefined ? null : JSON.stringify([{ type: 'text', text: systemPrompt }]),
        JSON.stringify(parts),
        // Without a transaction of ours there is no BEGIN to set it at (db.ts): the statement takes it directly.
        activeTraceparent() ?? null,
      ];
      /** The one statement, on a client in a transaction (to NOTIFY the status inside it) or on the pool. */
      const create = async (client: pg.PoolClient | undefined) => {
        let result: pg.QueryResult<CreatedChatRow>;
        try {
          result = await (client ?? pool).query<CreatedChatRow>(CREATE_CHAT_SQL, args);
        } catch (err) {
          if (sqlState(err) === '23503') throw new ChatdError('INVALID_INPUT', 'Invalid model config ID.', { cause: err });
          throw err;
        }
        const r = result.rows[0]!;
        // Reported in the order they used to be checked (organization, then model configuration).
        if (!r.org_found) {
          if (orgId === undefined) throw new ChatdError('FORBIDDEN', 'You are not a member of the default organization.');
          throw new ChatdError('FORBIDDEN', 'You are not a member of this organization.');
        }
        if (!r.config_found) {
          if (explicitConfig !== null) throw invalidModelConfig();
          throw new ChatdError('INVALID_INPUT', 'No default chat model config is configured.');
        }
        const { row, message } = splitCreatedRow(r);
        const ch = await change(client, row, { statusChanged: true, messages: [message] });
        return { chat: ch.chat, message: toMessage(message), change: ch };
      };
      // One round trip (issue 36): a single statement is its own transaction. The in-transaction status notifier
      // needs a transaction to NOTIFY in, so only with it does the create pay for BEGIN and COMMIT.
      return notifier ? inTransaction(pool, create) : retryingDeadlocks(() => create(undefined));
    },

    async sendMessage(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const ownerId = ownerOpt(input.ownerId);
      const parts = input.content;
      const busyBehavior = input.busyBehavior ?? 'queue';
      if (busyBehavior !== 'queue' && busyBehavior !== 'interrupt') {
        throw new ChatdError('INVALID_INPUT', 'Invalid busy_behavior.', { detail: 'busy_behavior must be "queue" or "interrupt".' });
      }
      const createdBy = input.createdBy === undefined ? (ownerId ?? null) : requireUuid(input.createdBy, 'user ID');
      const reasoningEffort = input.reasoningEffort === undefined || input.reasoningEffort === null ? input.reasoningEffort : parseReasoningEffort(input.reasoningEffort);
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        let row = await lockChat(client, chatId, ownerId);
        const modelConfigId = await requireModelConfig(client, input.modelConfigId);
        if (reasoningEffort !== undefined) {
          // Not `updated_at`: the status write below (or the queue) says what changed for clients.
          const { rows: set } = await client.query<ChatRow>(`UPDATE chats SET reasoning_effort = $2 WHERE id = $1 RETURNING ${CHAT_COLUMNS}`, [chatId, reasoningEffort]);
          row = set[0]!;
        }
        const inserted: MessageRow[] = [];
        let statusChanged = false;
        // A chat waiting for client results is not busy: the pending calls are answered "cancelled" and this
        // message starts the next turn; messages queued before stay queued (contract.md#client-tools).
        const cancelledCalls = await answerPending(client, row, CANCELLED_TOOL_RESULT, now);
        if (row.status === 'requires_action') {
          const lastModel = modelConfigId ?? row.last_model_config_id;
          const message = await insertMessage(client, { chatId, role: 'user', content: parts, modelConfigId: lastModel, createdBy }, now);
          row = await writeStatus(client, chatId, pendingWrite(modelConfigId), now);
          const ch = await change(client, row, { statusChanged: true, messages: [...(cancelledCalls ? [cancelledCalls] : []), message] });
          return { queued: false, message: toMessage(message), change: ch };
        }
        // An idle chat with a leftover queue (a failed run leaves it): the head goes first, keeping FIFO.
        const promotedFirst = await promoteIfIdle(client, row, now);
        if (promotedFirst) {
          row = promotedFirst.chat;
          inserted.push(promotedFirst.message);
          statusChanged = true;
        }
        const busy = row.status === 'running' || row.status === 'pending' || row.run_id !== null || (await queueLength(client, chatId)) > 0;
        if (!busy) {
          const lastModel = modelConfigId ?? row.last_model_config_id;
          const message = await insertMessage(client, { chatId, role: 'user', content: parts, modelConfigId: lastModel, createdBy }, now);
          row = await writeStatus(client, chatId, pendingWrite(modelConfigId), now);
          const ch = await change(client, row, { statusChanged: true, messages: [...inserted, message] });
          return { queued: false, message: toMessage(message), change: ch };
        }
        if ((await queueLength(client, chatId)) >= maxQueueSize) {
          throw new ChatdError('QUEUE_FULL', 'Message queue is full.', { detail: `Maximum ${maxQueueSize} messages can be queued.` });
        }
        const { rows: qrows } = await client.query(
          `INSERT INTO chat_queued_messages (chat_id, model_config_id, created_by, content, created_at) VALUES ($1, $2, $3, $4, $5)
           RETURNING id, chat_id, model_config_id, created_by, content, created_at`,
          [chatId, modelConfigId ?? null, createdBy, JSON.stringify(parts), now],
        );
        // Interrupt: stop the run (the chat turns `waiting`, its run keeps its token so it can persist the
        // partial reply); when the run ends it promotes the queue, so nothing is left behind. All of this
        // happens under the row lock, so a run finishing at the same moment either sees the queued message
        // (and promotes it) or has already ended (and the message went in directly above).
        if (busyBehavior === 'interrupt' && row.status === 'running') {
          row = await writeStatus(client, chatId, { status: 'waiting', workerId: null, lastError: null }, now);
          statusChanged = true;
        }
        const ch = await change(client, row, { statusChanged, messages: inserted, queueChanged: true });
        return { queued: true, queued_message: toQueued(qrows[0]), change: ch };
      });
    },

    async acquisitionWork() {
      // Both read partial indexes (chats_pending, chats_requires_action_deadline).
      const { rows } = await pool.query<{ pending: boolean; expired: boolean }>({
        name: PREPARED.probe,
        text: `SELECT EXISTS (SELECT 1 FROM chats WHERE status = 'pending' AND NOT archived) AS pending,
                EXISTS (SELECT 1 FROM chats WHERE status = 'requires_action' AND requires_action_deadline <= $1) AS expired`,
        values: [clock.now()],
      });
      return { pending: rows[0]?.pending === true, expired: rows[0]?.expired === true };
    },

    async acquireChats(workerId, limit = DEFAULT_MAX_CHATS_PER_ACQUIRE) {
      if (typeof workerId !== 'string' || workerId === '' || workerId.length > 128) throw new ChatdError('INVALID_INPUT', 'Invalid worker ID.');
      if (!Number.isInteger(limit) || limit < 1) throw new ChatdError('INVALID_INPUT', 'Invalid acquire limit.');
      const now = clock.now();
      // One acquisition at a time across the cluster: the per-user cap (contract.md#cost) counts running chats,
      // and two replicas counting at once would each see room for the same slot. Acquisitions are short. The lock
      // is taken with BEGIN, in its round trip, before the statement below takes its snapshot.
      return inTransaction(pool, async (client) => {
        // A pending chat's updated_at is when it became pending: returned as pending_since before it moves. Each
        // owner's pending chats are ranked in that order after the owner's running ones; only ranks within the cap
        // may start, so a user's chats start in the order they became pending.
        const { rows } = await client.query<ChatRow & { pending_since: Date; dynamic_tools: DynamicTool[] | null; compact_request: CompactionRequest | null }>({
          name: PREPARED.take,
          text: `WITH ranked AS (${RANKED_PENDING_SQL}),
           picked AS (
             SELECT id, updated_at AS pending_since FROM chats
              WHERE id IN (SELECT id FROM ranked WHERE slot <= $4) AND status = 'pending' AND NOT archived
              ORDER BY updated_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
           ),
           started AS (
             UPDATE chats c SET status = 'running', worker_id = $1, run_id = gen_random_uuid(), started_at = $3,
               heartbeat_at = $3, updated_at = $3, last_error = NULL, queued_for_capacity = false
             FROM picked WHERE c.id = picked.id
             RETURNING ${CHAT_COLUMNS.split(', ').map((c) => `c.${c}`).join(', ')}, picked.pending_since, c.dynamic_tools, c.compact_request
           ),
           -- Every run of the pass recorded by the same statement (issue 36): one round trip, not one per chat.
           runs AS (INSERT INTO chat_runs (id, chat_id, worker_id, started_at) SELECT run_id, id, $1, $3 FROM started),
           -- The chats left waiting for their owner's slot say so (read on GET and in their next event), from the
           -- same ranking (issue 36: it was a second statement ranking again). The started ones are cleared above;
           -- a pending chat keeps the place it had in its owner's line before the started ones left it.
           flags AS (
             UPDATE chats c SET queued_for_capacity = x.slot > $4 FROM ranked x
              WHERE c.id = x.id AND c.queued_for_capacity <> (x.slot > $4) AND c.id NOT IN (SELECT id FROM picked)
           )
           SELECT * FROM started`,
          values: [workerId, limit, now, maxRunningPerUser],
        });
        const out: AcquiredChat[] = [];
        for (const row of rows) {
          const ch = await change(client, row, { statusChanged: true });
          out.push({
            chat: toRunnableChat(row),
            runId: row.run_id!,
            change: ch,
            pendingSinceMs: new Date(row.pending_since).getTime(),
            startReads: { dynamicTools: row.dynamic_tools ?? [], compactRequest: row.compact_request ?? undefined },
          });
        }
        out.sort((a, b) => a.chat.updated_at.localeCompare(b.chat.updated_at));
        return out;
      }, { withBegin: `SELECT pg_advisory_xact_lock(${ACQUIRE_LOCK_KEY})` });
    },

    async heartbeat(chatId, runId) {
      return (await store.heartbeatRuns([{ chatId, runId }])).has(requireUuid(chatId, 'chat ID'));
    },

    async heartbeatRuns(runs) {
      if (runs.length > HEARTBEAT_BATCH_SIZE) throw new ChatdError('INVALID_INPUT', `At most ${HEARTBEAT_BATCH_SIZE} heartbeats per call.`);
      const ids = runs.map((r) => requireUuid(r.chatId, 'chat ID'));
      const runIds = runs.map((r) => requireUuid(r.runId, 'run ID'));
      if (ids.length === 0) return new Set();
      const res = await pool.query<{ id: string }>({
        name: PREPARED.heartbeat,
        text: `UPDATE chats c SET heartbeat_at = $3 FROM unnest($1::uuid[], $2::uuid[]) AS r (chat_id, run_id)
          WHERE c.id = r.chat_id AND c.run_id = r.run_id AND c.status = 'running' RETURNING c.id`,
        values: [ids, runIds, clock.now()],
      });
      return new Set(res.rows.map((r) => r.id));
    },

    async recoverStaleChats(staleAfterMs) {
      if (!Number.isFinite(staleAfterMs) || staleAfterMs <= 0) throw new ChatdError('INVALID_INPUT', 'staleAfterMs must be positive.');
      const now = clock.now();
      const threshold = new Date(now.getTime() - staleAfterMs);
      // Runs that stopped heartbeating, and (as the newest original does) waiting chats whose queue
      // nobody will promote. The second half is driven from the small queue table, not a scan of chats.
      const { rows: candidates } = await pool.query<{ id: string }>(
        `SELECT id FROM chats WHERE run_id IS NOT NULL AND heartbeat_at < $1
         UNION
         SELECT c.id FROM chats c WHERE c.id IN (SELECT DISTINCT chat_id FROM chat_queued_messages)
           AND c.run_id IS NULL AND c.status = 'waiting' AND c.updated_at < $1`,
        [threshold],
      );
      const out: ChatChange[] = [];
      for (const { id } of candidates) {
        const ch = await inTransaction(pool, async (client) => {
          const { rows } = await client.query<ChatRow>(`SELECT ${CHAT_COLUMNS} FROM chats WHERE id = $1 FOR UPDATE SKIP LOCKED`, [id]);
          let row = rows[0];
          if (!row) return undefined;
          const staleRun = row.run_id !== null && row.heartbeat_at !== null && row.heartbeat_at < threshold;
          const strandedQueue = row.run_id === null && row.status === 'waiting' && row.updated_at < threshold;
          if (!staleRun && !strandedQueue) return undefined; // changed since the scan
          if (staleRun) {
            await endRun(client, row.run_id!, 'lost', now);
            const wasRunning = row.status === 'running';
            row = await writeStatus(
              client,
              id,
              wasRunning ? pendingWrite() : { status: row.status, workerId: null, runId: null, startedAt: null, heartbeatAt: null },
              now,
            );
          }
          const promoted = await promoteIfIdle(client, row, now);
          if (promoted) row = promoted.chat;
          return change(client, row, { statusChanged: true, messages: promoted ? [promoted.message] : [], queueChanged: promoted !== undefined });
        });
        if (ch) out.push(ch);
      }
      return out;
    },

    async persistMessage(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const runId = requireUuid(input.runId, 'run ID');
      if (!['assistant', 'tool', 'system'].includes(input.role)) throw new ChatdError('INVALID_INPUT', 'Invalid message role.');
      if (!Array.isArray(input.content)) throw new ChatdError('INVALID_INPUT', 'Invalid message content.');
      if (input.lastSeq !== undefined && !(Number.isSafeInteger(input.lastSeq) && input.lastSeq >= 0 && input.lastSeq <= 2 ** 31 - 1)) {
        throw new ChatdError('INVALID_INPUT', 'Invalid last_seq.');
      }
      assertContentSize(input.content, MAX_PERSISTED_CONTENT_BYTES);
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        const row = await lockChat(client, chatId);
        if (row.run_id !== runId) throw fenced(runId);
        const modelConfigId = input.modelConfigId === undefined ? row.last_model_config_id : await requireModelConfig(client, input.modelConfigId);
        const message = await insertMessage(
          client,
          {
            chatId,
            role: input.role,
            content: input.content,
            visibility: input.visibility ?? (input.role === 'system' ? 'model' : 'both'),
            modelConfigId: modelConfigId ?? null,
            runId,
            lastSeq: input.lastSeq ?? null,
            usage: input.usage ?? null,
          },
          now,
        );
        await client.query('UPDATE chat_runs SET message_ids = array_append(message_ids, $2::bigint) WHERE id = $1', [runId, message.id]);
        const { rows } = await client.query<ChatRow>(`UPDATE chats SET updated_at = $2 WHERE id = $1 RETURNING ${CHAT_COLUMNS}`, [chatId, now]);
        const ch = await change(client, rows[0]!, { messages: [message] });
        return { message: toMessage(message), change: ch };
      });
    },

    async finishRun(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const runId = requireUuid(input.runId, 'run ID');
      if (!['finished', 'interrupted', 'failed', 'requires_action'].includes(input.outcome)) throw new ChatdError('INVALID_INPUT', 'Invalid run outcome.');
      const error = input.outcome === 'failed' ? (input.error ?? { message: 'chat processing failed' }) : undefined;
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        let row = await lockChat(client, chatId);
        if (row.run_id !== runId) throw fenced(runId);
        await endRun(client, runId, input.outcome === 'requires_action' ? 'finished' : input.outcome, now, error);
        const cleared = { workerId: null, runId: null, startedAt: null, heartbeatAt: null } as const;
        // Waiting for the client (unless the user interrupted meanwhile): the queue stays as it is.
        if (input.outcome === 'requires_action' && row.status === 'running') {
          await client.query('UPDATE chats SET pending_tool_calls = $2, requires_action_deadline = $3 WHERE id = $1', [
            chatId,
            JSON.stringify(input.pendingToolCalls ?? []),
            input.deadline ?? now,
          ]);
          row = await writeStatus(client, chatId, { status: 'requires_action', ...cleared, lastError: null }, now);
          return change(client, row, { statusChanged: true });
        }
        // Interrupted before it could wait: its client calls are answered "cancelled", so none is left open.
        const cancelledCalls =
          input.outcome === 'requires_action' && (input.pendingToolCalls ?? []).length > 0
            ? await insertMessage(
                client,
                {
                  chatId,
                  role: 'tool',
                  runId,
                  modelConfigId: row.last_model_config_id,
                  content: (input.pendingToolCalls ?? []).map((c) => ({ type: 'tool-result', tool_call_id: c.tool_call_id, tool_name: c.tool_name, result: { ...CANCELLED_TOOL_RESULT }, is_error: true })),
                },
                now,
              )
            : undefined;
        if (error) {
          row = await writeStatus(client, chatId, { status: 'error', ...cleared, lastError: error }, now);
          return change(client, row, { statusChanged: true, error });
        }
        // A shutdown hands a running chat back; one the user interrupted stays interrupted.
        const handBack = input.requeue === true && row.status === 'running';
        row = await writeStatus(client, chatId, { status: handBack ? 'pending' : 'waiting', ...cleared, lastError: null }, now);
        // A queued message goes straight to pending, never through a visible `waiting` (contract.md#status-rule).
        const promoted = handBack ? undefined : await promoteQueued(client, row, now);
        if (promoted) row = promoted.chat;
        const messages = [...(cancelledCalls ? [cancelledCalls] : []), ...(promoted ? [promoted.message] : [])];
        return change(client, row, { statusChanged: true, messages, queueChanged: promoted !== undefined });
      });
    },

    async interruptChat(chatId, ownerId) {
      const id = requireUuid(chatId, 'chat ID');
      const owner = ownerOpt(ownerId);
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        let row = await lockChat(client, id, owner);
        // Waiting for client results: they are answered "cancelled" and the chat rests (contract.md#client-tools).
        const cancelledCalls = await answerPending(client, row, CANCELLED_TOOL_RESULT, now);
        // The run keeps its token (and heartbeat_at, so stale recovery still sees it if its worker dies):
        // it persists its partial reply and ends, then promotes any queue.
        row = await writeStatus(client, id, { status: 'waiting', workerId: null, lastError: null }, now);
        const promoted = await promoteIfIdle(client, row, now);
        if (promoted) row = promoted.chat;
        const messages = [...(cancelledCalls ? [cancelledCalls] : []), ...(promoted ? [promoted.message] : [])];
        return change(client, row, { statusChanged: true, messages, queueChanged: promoted !== undefined });
      });
    },

    async getChat(chatId, ownerId) {
      const id = requireUuid(chatId, 'chat ID');
      const owner = ownerOpt(ownerId);
      const { rows } = await pool.query<ChatRow>(`SELECT ${CHAT_COLUMNS} FROM chats WHERE id = $1`, [id]);
      const row = rows[0];
      if (!row || (owner !== undefined && row.owner_id !== owner)) return undefined;
      return toChat(row);
    },

    async listChats(input) {
      const ownerId = requireUuid(input.ownerId, 'user ID');
      const limit = pageLimit(input.limit);
      const offset = input.offset ?? 0;
      if (!Number.isSafeInteger(offset) || offset < 0) throw new ChatdError('INVALID_INPUT', 'Invalid offset parameter.');
      const { rows } = await pool.query<ChatRow>(
        `SELECT ${CHAT_COLUMNS} FROM chats WHERE owner_id = $1 AND archived = $2 ORDER BY updated_at DESC, id DESC LIMIT $3 OFFSET $4`,
        [ownerId, input.archived ?? false, limit, offset],
      );
      return rows.map(toChat);
    },

    async listMessages(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const owner = ownerOpt(input.ownerId);
      const before = input.beforeId ?? 0n;
      const after = input.afterId ?? 0n;
      const limit = pageLimit(input.limit);
      const chat = await store.getChat(chatId, owner);
      if (!chat) throw notFound();
      // With after_id the page is the oldest `limit` rows after it (read ascending); with after_id alone it is
      // returned ascending as the newest original does (contract.md#history-order), with both bounds newest first.
      const order = after > 0n ? 'asc' : 'desc';
      const { rows, hasMore } = await readMessagePage(pool, {
        chatId,
        order,
        limit,
        maxBytes: MAX_MESSAGES_PAGE_BYTES,
        ...(before > 0n ? { beforeId: before.toString() } : {}),
        ...(after > 0n ? { afterId: after.toString() } : {}),
      });
      const page = rows.map(toMessage);
      if (order === 'asc' && before > 0n) page.reverse();
      const queued = before > 0n ? [] : (await readQueue(pool, chatId)).map(toQueued);
      return { messages: page, queued_messages: queued, has_more: hasMore };
    },

    async messagesAfter(chatId, afterId, options = {}) {
      const id = requireUuid(chatId, 'chat ID');
      const limit = options.limit ?? DEFAULT_MESSAGES_AFTER_LIMIT;
      const maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
      const { rows, hasMore } = await readMessagePage(pool, { chatId: id, afterId: afterId.toString(), order: 'asc', limit, maxBytes });
      return { messages: rows.map(toMessage), hasMore };
    },

    async cursorHidden(chatId, afterId) {
      const id = requireUuid(chatId, 'chat ID');
      const { rows } = await pool.query<{ deleted: boolean }>('SELECT deleted FROM chat_messages WHERE chat_id = $1 AND id <= $2::bigint ORDER BY id DESC LIMIT 1', [
        id,
        afterId.toString(),
      ]);
      return rows[0]?.deleted ?? false;
    },

    async modelHistory(chatId) {
      const id = requireUuid(chatId, 'chat ID');
      // After a compaction the model sees the chat's system messages, then the newest summary and what follows it
      // (contract.md#compaction); a summary whose rows an edit deleted no longer counts.
      // The summary takes the place of what it replaced: just before the oldest message it kept.
      const { rows } = await pool.query<MessageRow & { summary: boolean }>({
        name: PREPARED.modelHistory,
        text: `WITH s AS (
           SELECT id, COALESCE(summary_kept_from, id) AS kept_from FROM chat_messages
            WHERE chat_id = $1 AND summary AND NOT deleted ORDER BY id DESC LIMIT 1
         )
         SELECT ${MESSAGE_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')}, m.summary
           FROM chat_messages m LEFT JOIN s ON true
          WHERE m.chat_id = $1 AND NOT m.deleted AND m.visibility IN ('model', 'both')
            AND (s.id IS NULL OR m.role = 'system' OR m.id = s.id OR (m.id >= s.kept_from AND NOT m.summary))
          ORDER BY CASE WHEN m.id = s.id THEN s.kept_from ELSE m.id END, m.summary DESC`,
        values: [id],
      });
      return rows.map((r) => ({
        id: Number(r.id),
        role: r.role,
        content: r.content,
        visibility: r.visibility,
        ...(r.usage ? { usage: r.usage } : {}),
        ...(r.summary ? { summary: true } : {}),
      }));
    },

    async getQueue(chatId) {
      const id = requireUuid(chatId, 'chat ID');
      return (await readQueue(pool, id)).map(toQueued);
    },

    async updateChat(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const owner = ownerOpt(input.ownerId);
      let title: string | undefined;
      if (input.title !== undefined) {
        if (typeof input.title !== 'string') throw new ChatdError('INVALID_INPUT', 'Invalid title.', { detail: 'title must be a string.' });
        title = input.title.trim();
        const len = Array.from(title).length;
        if (len === 0 || len > MAX_TITLE_CODE_POINTS) {
          throw new ChatdError('INVALID_INPUT', 'Invalid title.', { detail: `title must be 1-${MAX_TITLE_CODE_POINTS} characters.` });
        }
      }
      if (input.archived !== undefined && typeof input.archived !== 'boolean') throw new ChatdError('INVALID_INPUT', 'Invalid archived value.');
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        const row = await lockChat(client, chatId, owner);
        const titleChanged = title !== undefined && title !== row.title;
        const archivedChanged = input.archived !== undefined && input.archived !== row.archived;
        let next = row;
        if (titleChanged || archivedChanged) {
          const { rows } = await client.query<ChatRow>(
            // A title given here is the user's: no generated title replaces it (contract.md#compaction).
            `UPDATE chats SET title = $2, archived = $3, updated_at = $4, title_source = CASE WHEN $5 THEN 'manual' ELSE title_source END
              WHERE id = $1 RETURNING ${CHAT_COLUMNS}`,
            [chatId, title ?? row.title, input.archived ?? row.archived, now, title !== undefined],
          );
          next = rows[0]!;
        } else if (title !== undefined) {
          // The same title given again is still the user's choice.
          await client.query(`UPDATE chats SET title_source = 'manual' WHERE id = $1`, [chatId]);
        }
        return { change: await change(client, next, {}), titleChanged, archivedChanged };
      });
    },

    async editMessage(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const owner = ownerOpt(input.ownerId);
      const messageId = input.messageId;
      if (!Number.isSafeInteger(messageId) || messageId <= 0) throw new ChatdError('INVALID_INPUT', 'Invalid message ID.', { validations: [{ field: 'message', detail: 'must be a positive integer' }] });
      const parts = input.content;
      const reasoningEffort = input.reasoningEffort === undefined || input.reasoningEffort === null ? input.reasoningEffort : parseReasoningEffort(input.reasoningEffort);
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        const row = await lockChat(client, chatId, owner);
        const modelConfigId = await requireModelConfig(client, input.modelConfigId);
        // Only a message the user can see can be edited: a hidden (deleted) or model-only row is unknown to them.
        const { rows } = await client.query<MessageRow>(
          `SELECT ${MESSAGE_COLUMNS} FROM chat_messages WHERE id = $1 AND chat_id = $2 AND NOT deleted AND visibility IN ('user', 'both')`,
          [messageId, chatId],
        );
        const original = rows[0];
        if (!original) throw new ChatdError('NOT_FOUND', 'Chat message not found.');
        if (original.role !== 'user') {
          throw new ChatdError('INVALID_INPUT', 'Only user messages can be edited.', { validations: [{ field: 'message', detail: `message ${messageId} is a ${original.role} message` }] });
        }
        const { rows: hidden } = await client.query<{ id: string; visibility: MessageVisibility }>(
          'UPDATE chat_messages SET deleted = true WHERE chat_id = $1 AND id >= $2 AND NOT deleted RETURNING id, visibility',
          [chatId, messageId],
        );
        await client.query('DELETE FROM chat_queued_messages WHERE chat_id = $1', [chatId]);
        // Pending client calls sit in an assistant message after the last user message, so they were hidden
        // just above with the reply that made them: the model history keeps neither the calls nor results.
        await client.query('UPDATE chats SET pending_tool_calls = NULL, requires_action_deadline = NULL WHERE id = $1', [chatId]);
        if (reasoningEffort !== undefined) await client.query('UPDATE chats SET reasoning_effort = $2 WHERE id = $1', [chatId, reasoningEffort]);
        // The running run is ended here and the chat's run id cleared below: every later write of it is fenced.
        await takeOver(client, row, now);
        const message = await insertMessage(
          client,
          {
            chatId,
            role: 'user',
            content: parts,
            visibility: original.visibility,
            modelConfigId: modelConfigId ?? original.model_config_id,
            createdBy: original.created_by,
          },
          now,
        );
        const next = await writeStatus(client, chatId, pendingWrite(modelConfigId), now);
        const ch = await change(client, next, { statusChanged: true, queueChanged: true, fullRefresh: true });
        const deletedMessageIds = hidden
          .filter((h) => h.visibility !== 'model')
          .map((h) => Number(h.id))
          .sort((a, b) => a - b);
        return { message: toMessage(message), deletedMessageIds, change: ch };
      });
    },

    async deleteMessage(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const owner = ownerOpt(input.ownerId);
      const messageId = input.messageId;
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        await lockChat(client, chatId, owner);
        const res = await client.query('UPDATE chat_messages SET deleted = true WHERE id = $1 AND chat_id = $2 AND NOT deleted', [messageId, chatId]);
        if ((res.rowCount ?? 0) === 0) throw new ChatdError('NOT_FOUND', 'Chat message not found.');
        const { rows } = await client.query<ChatRow>(`UPDATE chats SET updated_at = $2 WHERE id = $1 RETURNING ${CHAT_COLUMNS}`, [chatId, now]);
        return change(client, rows[0]!, { fullRefresh: true });
      });
    },

    async deleteQueuedMessage(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const owner = ownerOpt(input.ownerId);
      const queuedId = input.queuedMessageId;
      return inTransaction(pool, async (client) => {
        const row = await lockChat(client, chatId, owner);
        await client.query('DELETE FROM chat_queued_messages WHERE chat_id = $1 AND id = $2::bigint', [chatId, queuedId.toString()]);
        return change(client, row, { queueChanged: true });
      });
    },

    async promoteQueuedMessage(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const owner = ownerOpt(input.ownerId);
      const queuedId = input.queuedMessageId;
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        const row = await lockChat(client, chatId, owner);
        await takeOver(client, row, now);
        const promoted = await promoteQueued(client, row, now, queuedId);
        if (!promoted) throw new ChatdError('NOT_FOUND', 'Queued message not found.');
        const ch = await change(client, promoted.chat, { statusChanged: true, messages: [promoted.message], queueChanged: true });
        return { message: toMessage(promoted.message), change: ch };
      });
    },

    async getChatRunState(chatId, signal) {
      signal?.throwIfAborted();
      const id = requireUuid(chatId, 'chat ID');
      const { rows } = await pool.query<{ status: ChatStatus; worker_id: string | null; run_id: string | null }>(
        'SELECT status, worker_id, run_id FROM chats WHERE id = $1',
        [id],
      );
      const row = rows[0];
      return row ? { status: row.status, workerId: row.worker_id, runId: row.run_id } : undefined;
    },

    async getChatRunStates(chatIds) {
      if (chatIds.length > RUN_STATE_BATCH_SIZE) throw new ChatdError('INVALID_INPUT', `At most ${RUN_STATE_BATCH_SIZE} chats per call.`);
      const ids = chatIds.map((id) => requireUuid(id, 'chat ID'));
      const out = new Map<string, ChatRunState>();
      if (ids.length === 0) return out;
      const { rows } = await pool.query<{ id: string; status: ChatStatus; worker_id: string | null; run_id: string | null }>({
        name: PREPARED.runStates,
        text: 'SELECT id, status, worker_id, run_id FROM chats WHERE id = ANY ($1::uuid[])',
        values: [ids],
      });
      for (const row of rows) out.set(row.id, { status: row.status, workerId: row.worker_id, runId: row.run_id });
      return out;
    },

    async getRun(runId) {
      const id = requireUuid(runId, 'run ID');
      const { rows } = await pool.query<ChatRunRow>(
        `SELECT r.id, r.chat_id, r.worker_id, r.started_at, r.ended_at, r.outcome, r.message_ids, r.error,
                (SELECT max(m.last_seq) FROM chat_messages m WHERE m.id = ANY (r.message_ids)) AS last_seq
           FROM chat_runs r WHERE r.id = $1`,
        [id],
      );
      const r = rows[0];
      return r ? toChatRun(r) : undefined;
    },

    async subscriptionSetup(query) {
      const chatId = requireUuid(query.chatId, 'chat ID');
      const runIds = query.runIds.map((runId) => requireUuid(runId, 'run ID'));
      return readSubscriptionSetup(options.setupPool ?? pool, { ...query, chatId, runIds });
    },

    async chatTools(chatId) {
      const id = requireUuid(chatId, 'chat ID');
      const { rows } = await pool.query<{ dynamic_tools: DynamicTool[] | null }>('SELECT dynamic_tools FROM chats WHERE id = $1', [id]);
      return rows[0]?.dynamic_tools ?? [];
    },

    async pendingToolCalls(chatId) {
      const id = requireUuid(chatId, 'chat ID');
      const { rows } = await pool.query<{ status: ChatStatus; pending_tool_calls: PendingToolCall[] | null }>('SELECT status, pending_tool_calls FROM chats WHERE id = $1', [id]);
      const row = rows[0];
      return row?.status === 'requires_action' ? (row.pending_tool_calls ?? []) : undefined;
    },

    async submitToolResults(input) {
      const chatId = requireUuid(input.chatId, 'chat ID');
      const owner = ownerOpt(input.ownerId);
      const now = clock.now();
      return inTransaction(pool, async (client) => {
        const row = await lockChat(client, chatId, owner);
        if (row.status !== 'requires_action') {
          throw new ChatdError('CONFLICT', 'The chat is not waiting for tool results.', { detail: `Its status is ${row.status}.` });
        }
        const pending = await readPending(client, chatId);
        const byId = new Map(pending.map((c) => [c.tool_call_id, c]));
        const validations: { field: string; detail: string }[] = [];
        const answered = new Set<string>();
        input.results.forEach((r, i) => {
          if (!byId.has(r.tool_call_id)) validations.push({ field: `results.${i}.tool_call_id`, detail: `unknown tool call id ${r.tool_call_id}` });
          else if (answered.has(r.tool_call_id)) validations.push({ field: `results.${i}.tool_call_id`, detail: `tool call id ${r.tool_call_id} is answered twice` });
          answered.add(r.tool_call_id);
        });
        const missing = pending.filter((c) => !answered.has(c.tool_call_id)).map((c) => c.tool_call_id);
        if (missing.length > 0) validations.push({ field: 'results', detail: `missing results for tool call ids ${missing.join(', ')}` });
        if (validations.length > 0) throw new ChatdError('INVALID_INPUT', 'Invalid tool results.', { validations });
        // In the order of the calls, as a server step's results are.
        const resultOf = new Map(input.results.map((r) => [r.tool_call_id, r]));
        const content: ChatMessagePart[] = pending.map((c) => {
          const r = resultOf.get(c.tool_call_id)!;
          return { type: 'tool-result', tool_call_id: c.tool_call_id, tool_name: c.tool_name, result: r.output ?? null, ...(r.is_error ? { is_error: true } : {}) };
        });
        assertContentSize(content, MAX_PERSISTED_CONTENT_BYTES);
        const message = await insertMessage(client, { chatId, role: 'tool', content, modelConfigId: row.last_model_config_id, createdBy: owner ?? null }, now);
        await client.query('UPDATE chats SET pending_tool_calls = NULL, requires_action_deadline = NULL WHERE id = $1', [chatId]);
        const next = await writeStatus(client, chatId, pendingWrite(), now);
        return { message: toMessage(message), change: await change(client, next, { statusChanged: true, messages: [message] }) };
      });
    },

    async expireRequiredActions() {
      const now = clock.now();
      const { rows: due } = await pool.query<{ id: string }>(
        `SELECT id FROM chats WHERE status = 'requires_action' AND requires_action_deadline <= $1 ORDER BY requires_action_deadline LIMIT $2`,
        [now, DEFAULT_MAX_CHATS_PER_ACQUIRE],
      );
      const out: ChatChange[] = [];
      for (const { id } of due) {
        const ch = await inTransaction(pool, async (client) => {
          const { rows } = await client.query<ChatRow & { requires_action_deadline: Date | null }>(
            `SELECT ${CHAT_COLUMNS}, requires_action_deadline FROM chats WHERE id = $1 FOR UPDATE SKIP LOCKED`,
            [id],
          );
          const row = rows[0];
          // Answered, or taken by another replica, since the scan.
          if (!row || row.status !== 'requires_action' || row.requires_action_deadline === null || row.requires_action_deadline > now) return undefined;
          const message = await answerPending(client, row, NO_RESULT_IN_TIME_RESULT, now);
          const next = await writeStatus(client, id, pendingWrite(), now);
          return change(client, next, { statusChanged: true, messages: message ? [message] : [] });
        });
        if (ch) out.push(ch);
      }
      return out;
    },
  };
  return store;
}

/** The pending calls of a locked chat row. */
async function readPending(client: pg.PoolClient, chatId: string): Promise<PendingToolCall[]> {
  const { rows } = await client.query<{ pending_tool_calls: PendingToolCall[] | null }>('SELECT pending_tool_calls FROM chats WHERE id = $1', [chatId]);
  return rows[0]?.pending_tool_calls ?? [];
}

function invalidModelConfig(): ChatdError {
  return new ChatdError('INVALID_INPUT', 'Invalid model config ID.');
}

/** A model configuration id as callers give it, checked before any SQL (the nil UUID names none). */
function checkModelConfigId(id: string): string {
  if (typeof id !== 'string' || id === NIL_UUID) throw invalidModelConfig();
  return requireUuid(id, 'model config ID');
}

function fenced(runId: string): ChatdError {
  return new ChatdError('RUN_FENCED', `run ${runId} is not the chat's current run`);
}

/** The page size; a typed number still out of range (an embedder's bug) is INVALID_INPUT rather than odd SQL. */
function pageLimit(n: number | undefined): number {
  if (n === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_LIMIT) {
    throw new ChatdError('INVALID_INPUT', `Invalid limit parameter (1-${MAX_PAGE_LIMIT}).`);
  }
  return n;
}
