// The chat client both entries share (contract.md#routes): the REST routes as typed calls that throw
// ChatdClientError on an error answer, `stream` (a reconnecting, exactly-once iterator over the stream socket)
// and `replyText`, which follows a chat until its reply is done (for terminal clients). It knows nothing of
// WebSocket implementations or credentials beyond the headers and socket factory it is given, so it loads in
// browsers and Node alike; it holds no state between calls beyond its options.
import { abortReason, createRealClock, type Clock } from '@chatd/clock';
import type { ActionRequiredToolCall, Chat, ChatInputPart, ChatMessage, ChatMessagePart, ChatQueuedMessage, ChatStreamError, ChatStreamEvent, DiscontinuityReason } from '@chatd/protocol';
import { ChatdClientError, type ChatdClientErrorCode } from './chatd-client-error.js';
import { openChatStream, type ChatStreamOptions, type StreamQueryProvider } from './chat-stream.js';
import { errorFromResponse, UNAVAILABLE_CODE } from './http-error.js';
import type { ReconnectBackoffOptions } from './reconnect-backoff.js';
import type { StreamSocketFactory } from './stream-socket.js';

/** Path of the chat API under the base URL. */
export const CHATS_API_PATH = '/api/experimental/chats';
/** Messages `replyText` reads to find the newest user message when no `afterId` is given. @default 50 */
export const REPLY_LOOKBACK_MESSAGES = 50;

/** What both entries' clients take beyond their transport. */
export type CommonChatClientOptions = {
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Waits between reconnect attempts. @default createRealClock() */
  clock?: Clock;
  /** Reconnect backoff of streams. */
  reconnect?: ReconnectBackoffOptions;
  /** Extra query parameters of each stream connection, asked for before each attempt (the seam for socket tickets). */
  streamQuery?: StreamQueryProvider;
};

/** Options of `createBaseChatClient`: a server, the headers of REST calls, and how to open stream sockets. */
export type BaseChatClientOptions = CommonChatClientOptions & {
  /** Server URL, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  baseUrl: string;
  /** Headers of every REST call (the session token, when there is one). */
  headers: Record<string, string>;
  /** Opens the stream sockets. */
  socket: StreamSocketFactory;
};

/** Message content: a string is one text part. */
export type ChatContent = string | ChatInputPart[];

/** Optional fields of `create`. */
export type CreateChatOptions = {
  organizationId?: string;
  systemPrompt?: string;
  workspaceId?: string;
  modelConfigId?: string;
  labels?: Record<string, string>;
  clientType?: string;
  /** Tools the client runs itself (0.4 client-executed tools): a call of one ends the turn in `requires_action`. */
  unsafeDynamicTools?: DynamicTool[];
};

/** A client-executed tool offered to the model (`unsafe_dynamic_tools`). */
export type DynamicTool = { name: string; description?: string; input_schema: Record<string, unknown> };

/** The client's answer to one pending call (`POST /{chat}/tool-results`); `output` is any JSON value. */
export type ToolResult = { tool_call_id: string; output: unknown; is_error?: boolean };

/** Options of `post`. */
export type PostMessageOptions = {
  /** `queue` (default) waits behind the running reply; `interrupt` stops it first. */
  busyBehavior?: 'queue' | 'interrupt';
  modelConfigId?: string;
};

/** Answer of `post` (`CreateChatMessageResponse`). */
export type PostMessageResult = { queued: boolean; message?: ChatMessage; queued_message?: ChatQueuedMessage };

/** The new content and options of `editMessage` (`PATCH /{chat}/messages/{message}`). */
export type EditMessageOptions = {
  content: ChatContent;
  modelConfigId?: string;
  /** `none|minimal|low|medium|high|max`, or null for the model configuration's; absent keeps the chat's. */
  reasoningEffort?: string | null;
};

/** Answer of `editMessage`: the new user message and the ids of every message the edit hid (the edited one first). */
export type EditMessageResult = { message: ChatMessage; deleted_message_ids: number[] };

/** Options of `list`. */
export type ListChatsOptions = { archived?: boolean; limit?: number; offset?: number };

/** Options of `messages` (ids are int64: number, bigint or decimal string). */
export type ListMessagesOptions = { beforeId?: number | bigint | string; afterId?: number | bigint | string; limit?: number };

/** A page of history, newest first (`ChatMessagesResponse`). */
export type ChatMessagesPage = { messages: ChatMessage[]; queued_messages: ChatQueuedMessage[]; has_more: boolean };

/** Options of `replyText`. */
export type ReplyTextOptions = {
  /** The reply is to the messages after this id. @default the newest user message's id */
  afterId?: number | bigint | string;
  signal?: AbortSignal;
  /** Each streamed text delta of the reply, as it arrives. */
  onText?: (delta: string) => void;
  /** Each streamed part of the reply as it arrives (text, reasoning, tool calls and their results). */
  onPart?: (part: ChatMessagePart) => void;
  /** Each durable message of the reply as it arrives (assistant and `tool` messages; a later user message too). */
  onMessage?: (message: ChatMessage) => void;
  /** The text streamed so far is void (the run was lost or the client fell behind); the final messages follow. */
  onDiscontinuity?: (reason: DiscontinuityReason) => void;
  /** The turn ended waiting for the client's results of these calls (status `requires_action`); called before `replyText` resolves. */
  onActionRequired?: (toolCalls: ActionRequiredToolCall[]) => void;
};

/** Options of `uploadFile`. */
export type UploadFileOptions = {
  /** The file's type, one the server takes (contract.md#files: PNG, JPEG, GIF, WebP, PDF, plain text, Markdown, CSV, JSON). */
  mediaType: string;
  /** The file's name, sent as `Content-Disposition`. */
  name?: string;
  /** The organization the file belongs to (`?organization=`). */
  organization?: string;
};

/** A downloaded file (`getFile`). */
export type ChatFile = { data: Uint8Array; mediaType: string; name?: string };

/** A finished reply. */
export type ChatReply = {
  /**
   * `waiting` when the reply finished (or was interrupted), `error` when the run failed, `requires_action` when
   * it waits for the client's results of `toolCalls` (answer them with `submitToolResults`, then call again).
   */
  status: 'waiting' | 'error' | 'requires_action';
  /** Text of the assistant messages after the newest user message. */
  text: string;
  /** Those assistant messages. */
  messages: ChatMessage[];
  /** Why the run failed, when `status` is `error`. */
  error?: ChatStreamError;
  /** The calls the client must answer, when `status` is `requires_action` (`args` is the input as a JSON string). */
  toolCalls?: ActionRequiredToolCall[];
};

/** A client of one chatd server, as one user. */
export interface ChatClient {
  /** Creates a chat with its first message (`POST /`). */
  create(content: ChatContent, options?: CreateChatOptions): Promise<Chat>;
  /** Sends a message (`POST /{chat}/messages`): queued while a reply runs, unless `busyBehavior` is `interrupt`. QUEUE_FULL when the queue is full. */
  post(chatId: string, content: ChatContent, options?: PostMessageOptions): Promise<PostMessageResult>;
  /**
   * Edits a user message (`PATCH /{chat}/messages/{message}`): it and every later message are hidden, the queue is
   * cleared, a running reply is discarded and a new turn starts; streams then send `history_reset` and the history
   * again. Regenerating the last reply is an edit of the last user message with its own content.
   * INVALID_INPUT (400: a malformed id, not a user message, bad content), NOT_FOUND.
   */
  editMessage(chatId: string, messageId: number, edit: EditMessageOptions): Promise<EditMessageResult>;
  /** Stops the running reply (`POST /{chat}/interrupt`); with `wait`, answers once it has stopped. */
  interrupt(chatId: string, options?: { wait?: boolean }): Promise<Chat>;
  /** The caller's chats, most recently updated first (`GET /`). */
  list(options?: ListChatsOptions): Promise<Chat[]>;
  /** One chat (`GET /{chat}`). */
  get(chatId: string): Promise<Chat>;
  /** Renames or (un)archives a chat (`PATCH /{chat}`). */
  update(chatId: string, changes: { title?: string; archived?: boolean }): Promise<void>;
  /** A page of history (`GET /{chat}/messages`). */
  messages(chatId: string, options?: ListMessagesOptions): Promise<ChatMessagesPage>;
  /**
   * Answers every pending client-executed call of a chat in `requires_action` at once (`POST /{chat}/tool-results`,
   * 204). INVALID_INPUT (400, `validations` name missing or unknown ids), CONFLICT (409: not waiting for results,
   * or already answered), NOT_FOUND.
   */
  submitToolResults(chatId: string, results: ToolResult[]): Promise<void>;
  /** The chat's events, each message and part once, across reconnects, until `signal` aborts. */
  stream(chatId: string, options?: ChatStreamOptions): AsyncGenerator<ChatStreamEvent, void, undefined>;
  /**
   * Uploads a file (`POST /files`, raw bytes): answers its id, for a `{type: 'file', file_id}` part. PAYLOAD_TOO_LARGE
   * (over 10 MiB), UNSUPPORTED_MEDIA_TYPE (415), RATE_LIMITED (too many uploads; `retryAfterMs`).
   */
  uploadFile(data: Uint8Array | Blob, options: UploadFileOptions): Promise<{ id: string }>;
  /** Downloads a file the caller uploaded (`GET /files/{id}`); NOT_FOUND for any other. */
  getFile(id: string): Promise<ChatFile>;
  /** Follows the chat until its reply is done (`waiting`, `error`, or `requires_action` with the calls to answer) and returns it. */
  replyText(chatId: string, options?: ReplyTextOptions): Promise<ChatReply>;
}

/** `filename*=UTF-8''…` (what chatd sends) or `filename="…"` of a Content-Disposition header. */
function dispositionName(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!.trim());
    } catch {
      // Fall back to the plain name.
    }
  }
  return /filename\s*=\s*"([^"]*)"/i.exec(header)?.[1];
}

/** The Content-Disposition of an upload: the name as RFC 5987 UTF-8, so any name survives the header. */
function uploadDisposition(name: string): string {
  return `attachment; filename*=UTF-8''${encodeURIComponent(name)}`;
}

const toParts = (content: ChatContent): ChatInputPart[] => (typeof content === 'string' ? [{ type: 'text', text: content }] : content);

const textOf = (m: ChatMessage): string =>
  (m.content ?? [])
    .map((p) => (p.type === 'text' ? p.text : ''))
    .join('');

/** Creates a client of the server at `options.baseUrl` that opens its stream sockets with `options.socket`. */
export function createBaseChatClient(options: BaseChatClientOptions): ChatClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const apiBase = `${base}${CHATS_API_PATH}`;
  const fetchFn = options.fetch ?? ((...args: Parameters<typeof globalThis.fetch>) => globalThis.fetch(...args));
  const clock = options.clock ?? createRealClock();
  const authHeaders = options.headers;

  /** One REST call; `tooManyCode` is what a 429 without Retry-After means on this route (a rate limit has one). */
  async function request<T>(method: string, path: string, what: string, body?: unknown, tooManyCode: ChatdClientErrorCode = 'RATE_LIMITED'): Promise<T> {
    let res: Response;
    try {
      res = await fetchFn(`${apiBase}${path}`, {
        method,
        headers: body === undefined ? authHeaders : { ...authHeaders, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ChatdClientError(UNAVAILABLE_CODE, `${what} failed: ${base} cannot be reached`, { cause: err });
    }
    const text = await res.text();
    if (!res.ok) throw errorFromResponse(res.status, text, what, { retryAfter: res.headers.get('retry-after'), tooManyCode });
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new ChatdClientError(UNAVAILABLE_CODE, `${what} failed: the answer is not JSON`, { cause: err, detail: text.slice(0, 200), status: res.status });
    }
  }

  const chatPath = (chatId: string) => `/${encodeURIComponent(chatId)}`;

  const client: ChatClient = {
    create(content, o = {}) {
      return request<Chat>('POST', '', 'creating a chat', {
        content: toParts(content),
        ...(o.organizationId !== undefined ? { organization_id: o.organizationId } : {}),
        ...(o.systemPrompt !== undefined ? { system_prompt: o.systemPrompt } : {}),
        ...(o.workspaceId !== undefined ? { workspace_id: o.workspaceId } : {}),
        ...(o.modelConfigId !== undefined ? { model_config_id: o.modelConfigId } : {}),
        ...(o.labels !== undefined ? { labels: o.labels } : {}),
        ...(o.clientType !== undefined ? { client_type: o.clientType } : {}),
        ...(o.unsafeDynamicTools !== undefined ? { unsafe_dynamic_tools: o.unsafeDynamicTools } : {}),
      });
    },
    post(chatId, content, o = {}) {
      return request<PostMessageResult>(
        'POST',
        `${chatPath(chatId)}/messages`,
        'posting a message',
        {
          content: toParts(content),
          ...(o.busyBehavior !== undefined ? { busy_behavior: o.busyBehavior } : {}),
          ...(o.modelConfigId !== undefined ? { model_config_id: o.modelConfigId } : {}),
        },
        'QUEUE_FULL',
      );
    },
    editMessage(chatId, messageId, edit) {
      return request<EditMessageResult>('PATCH', `${chatPath(chatId)}/messages/${encodeURIComponent(String(messageId))}`, 'editing a message', {
        content: toParts(edit.content),
        ...(edit.modelConfigId !== undefined ? { model_config_id: edit.modelConfigId } : {}),
        ...(edit.reasoningEffort !== undefined ? { reasoning_effort: edit.reasoningEffort } : {}),
      });
    },
    interrupt(chatId, o = {}) {
      return request<Chat>('POST', `${chatPath(chatId)}/interrupt${o.wait ? '?wait=true' : ''}`, 'interrupting a chat');
    },
    list(o = {}) {
      const q = new URLSearchParams();
      if (o.archived !== undefined) q.set('archived', String(o.archived));
      if (o.limit !== undefined) q.set('limit', String(o.limit));
      if (o.offset !== undefined) q.set('offset', String(o.offset));
      const s = q.toString();
      return request<Chat[]>('GET', s ? `?${s}` : '', 'listing chats');
    },
    get(chatId) {
      return request<Chat>('GET', chatPath(chatId), 'reading a chat');
    },
    async update(chatId, changes) {
      await request<undefined>('PATCH', chatPath(chatId), 'updating a chat', changes);
    },
    messages(chatId, o = {}) {
      const q = new URLSearchParams();
      if (o.beforeId !== undefined) q.set('before_id', String(o.beforeId));
      if (o.afterId !== undefined) q.set('after_id', String(o.afterId));
      if (o.limit !== undefined) q.set('limit', String(o.limit));
      const s = q.toString();
      return request<ChatMessagesPage>('GET', `${chatPath(chatId)}/messages${s ? `?${s}` : ''}`, 'reading messages');
    },
    async submitToolResults(chatId, results) {
      await request<undefined>('POST', `${chatPath(chatId)}/tool-results`, 'submitting tool results', {
        results: results.map((r) => ({ tool_call_id: r.tool_call_id, output: r.output, ...(r.is_error !== undefined ? { is_error: r.is_error } : {}) })),
      });
    },
    async uploadFile(data, o) {
      const q = o.organization !== undefined ? `?organization=${encodeURIComponent(o.organization)}` : '';
      let res: Response;
      try {
        res = await fetchFn(`${apiBase}/files${q}`, {
          method: 'POST',
          headers: { ...authHeaders, 'content-type': o.mediaType, ...(o.name !== undefined ? { 'content-disposition': uploadDisposition(o.name) } : {}) },
          // A copy as a plain ArrayBuffer-backed view: fetch's BodyInit types refuse views of a SharedArrayBuffer.
          body: data instanceof Uint8Array ? new Uint8Array(data) : data,
        });
      } catch (err) {
        throw new ChatdClientError(UNAVAILABLE_CODE, `uploading a file failed: ${base} cannot be reached`, { cause: err });
      }
      const text = await res.text();
      if (!res.ok) throw errorFromResponse(res.status, text, 'uploading a file', { retryAfter: res.headers.get('retry-after') });
      try {
        return { id: (JSON.parse(text) as { id: string }).id };
      } catch (err) {
        throw new ChatdClientError(UNAVAILABLE_CODE, 'uploading a file failed: the answer is not JSON', { cause: err, detail: text.slice(0, 200), status: res.status });
      }
    },
    async getFile(id) {
      let res: Response;
      try {
        res = await fetchFn(`${apiBase}/files/${encodeURIComponent(id)}`, { method: 'GET', headers: authHeaders });
      } catch (err) {
        throw new ChatdClientError(UNAVAILABLE_CODE, `reading a file failed: ${base} cannot be reached`, { cause: err });
      }
      if (!res.ok) throw errorFromResponse(res.status, await res.text(), 'reading a file', { retryAfter: res.headers.get('retry-after') });
      const name = dispositionName(res.headers.get('content-disposition'));
      return { data: new Uint8Array(await res.arrayBuffer()), mediaType: res.headers.get('content-type') ?? 'application/octet-stream', ...(name !== undefined ? { name } : {}) };
    },
    stream(chatId, o = {}) {
      return openChatStream(
        {
          url: `${apiBase.replace(/^http/, 'ws')}${chatPath(chatId)}/stream`,
          socket: options.socket,
          clock,
          ...(options.reconnect ? { backoff: options.reconnect } : {}),
          ...(options.streamQuery ? { query: () => options.streamQuery!(chatId) } : {}),
          probe: () => client.get(chatId),
        },
        o,
      );
    },
    async replyText(chatId, o = {}) {
      let afterId = o.afterId;
      if (afterId === undefined) {
        const page = await client.messages(chatId, { limit: REPLY_LOOKBACK_MESSAGES });
        afterId = page.messages.find((m) => m.role === 'user')?.id ?? 0;
      }
      const stop = new AbortController();
      const onAbort = () => stop.abort(o.signal?.reason);
      o.signal?.addEventListener('abort', onAbort, { once: true });
      let replies: ChatMessage[] = [];
      let terminal: ChatReply['status'] | undefined;
      let toolCalls: ActionRequiredToolCall[] | undefined;
      let sawBusy = false;
      let error: ChatStreamError | undefined;
      let fromRecord = false;
      try {
        for await (const e of client.stream(chatId, { afterId, signal: stop.signal })) {
          switch (e.type) {
            case 'message_part':
              o.onPart?.(e.message_part.part);
              if (e.message_part.part.type === 'text' && e.message_part.part.text) o.onText?.(e.message_part.part.text);
              break;
            case 'message':
              o.onMessage?.(e.message);
              // A later user message (a queued one promoted) starts a new reply: only the last one counts.
              if (e.message.role === 'user') replies = [];
              else if (e.message.role === 'assistant') replies.push(e.message);
              break;
            case 'discontinuity':
              o.onDiscontinuity?.(e.discontinuity.reason);
              break;
            case 'error':
              error = e.error;
              break;
            case 'action_required':
              // The calls come with (or, in a snapshot, after) status `requires_action`; they alone end the turn,
              // so a status without them yet keeps reading.
              toolCalls = e.action_required.tool_calls;
              terminal = 'requires_action';
              break;
            case 'status': {
              const s = e.status.status;
              if (s === 'waiting' || s === 'error') terminal = s;
              else if (s === 'requires_action') terminal = toolCalls ? s : undefined;
              else {
                toolCalls = undefined;
                terminal = undefined;
                error = undefined;
                sawBusy = true;
              }
              break;
            }
            default:
              break;
          }
          // Done once the chat rests. A resting status before any sign of work is a snapshot of a turn that had
          // already ended (posting a message sets `pending` with it): its reply is read from the record.
          if (terminal !== undefined) {
            fromRecord = !sawBusy;
            break;
          }
        }
      } finally {
        o.signal?.removeEventListener('abort', onAbort);
        stop.abort();
      }
      if (terminal === undefined) {
        if (o.signal?.aborted) throw abortReason(o.signal);
        throw new ChatdClientError(UNAVAILABLE_CODE, 'the reply did not finish: the stream ended');
      }
      if (fromRecord) {
        // after_id alone lists oldest first (contract.md#history-order), while after_id 0 means no bound (newest
        // first): walk the page by id either way.
        const page = await client.messages(chatId, { afterId, limit: 200 });
        replies = [];
        for (const m of [...page.messages].sort((a, b) => a.id - b.id)) {
          if (m.role === 'user') replies = [];
          else if (m.role === 'assistant') replies.push(m);
        }
      }
      if (terminal === 'error' && error === undefined) {
        const chat = await client.get(chatId);
        if (chat.last_error) error = chat.last_error;
      }
      if (terminal === 'requires_action' && toolCalls) o.onActionRequired?.(toolCalls);
      return {
        status: terminal,
        text: replies.map(textOf).join(''),
        messages: replies,
        ...(error !== undefined ? { error } : {}),
        ...(terminal === 'requires_action' && toolCalls ? { toolCalls } : {}),
      };
    },
  };
  return client;
}
