// ChatdChatTransport: the AI SDK's ChatTransport on @chatd/client (contract.md#ai-sdk). sendMessages posts the
// user message (or the client tool outputs, or regenerates through the edit route) and follows the turn on the
// chat's stream from the turn's start; reconnectToStream replays the in-flight turn from its first step and goes
// on live. The stream's cursor (after_id, run_id + after_seq) gives each message and part once across reconnects;
// the turn ends at a terminal status, after the messages the stream had not yet delivered are read over REST.
import { createChatClient, type ChatClient } from '@chatd/client';
import type { ChatMessage, ChatStatus, DiscontinuityReason } from '@chatd/protocol';
import type { ChatRequestOptions, ChatTransport, UIMessage, UIMessageChunk } from 'ai';
import { lastUserMessage, readHistoryAfter } from './load-ui-messages.js';
import { createTurnChunkMapper } from './turn-chunk-mapper.js';
import { turnMessageId } from './turn-message-id.js';
import { storedInputContent, userContent } from './ui-content.js';

/** Options of `ChatdChatTransport`. */
export type ChatdChatTransportOptions = {
  /** The chatd client to use. @default one made by @chatd/client's createChatClient from the options below */
  client?: ChatClient;
  /** Server URL (the client's `baseUrl`). @default the page's origin, in a browser */
  baseUrl?: string;
  /** API token (`Coder-Session-Token`). @default none: the session cookie, in a browser */
  token?: string;
  /** How streams travel: Server-Sent Events, or WebSockets (with a socket ticket per attempt when a token is given). @default 'sse' */
  transport?: 'sse' | 'websocket';
  /** Whether aborting a reply's stream (useChat's `stop()`) interrupts the run (`POST /{chat}/interrupt`). @default true */
  interruptOnStop?: boolean;
  /** A run of the turn was lost (`run_lost`, `relay_failed`); the stream stays open and follows the next run. */
  onResync?: (event: { chatId: string; reason: DiscontinuityReason }) => void;
};

/** Whether aborting a reply's stream interrupts the run, unless told otherwise. @default true */
export const DEFAULT_INTERRUPT_ON_STOP = true;

/** Statuses after which a turn's stream ends (the chat waits for a user, failed, or waits for client tool outputs). */
const TERMINAL_STATUSES: ReadonlySet<ChatStatus> = new Set<ChatStatus>(['waiting', 'error', 'requires_action', 'completed', 'paused']);

/** The `errorText` of a failed turn whose `error` event the stream did not carry. */
const DEFAULT_ERROR_TEXT = 'the reply failed';

/** Where a followed turn starts. */
type Follow = {
  chatId: string;
  /** The stream resumes after this message id. */
  afterId: bigint;
  /** The turn's UIMessage id; undefined while its user message is still queued (it is set when that message arrives). */
  messageId: string | undefined;
  abortSignal: AbortSignal | undefined;
  /** Tool calls the UI message already holds. */
  knownToolCalls?: Iterable<string>;
  /** Steps the UI message already holds (a continuation). */
  stepsBefore?: number;
};

/** A useChat transport backed by chatd; see the file header. */
export class ChatdChatTransport implements ChatTransport<UIMessage> {
  /** A resumed stream replays the turn from its first step under the turn's `start` chunk. */
  readonly resumeStreamIsReplay = true;
  /** The chatd client the transport calls. */
  readonly client: ChatClient;
  private readonly interruptOnStop: boolean;
  private readonly onResync: ChatdChatTransportOptions['onResync'];
  /** Per chat, the number of the newest stream asked for: an aborted stream that a newer one replaced never interrupts. */
  private readonly generations = new Map<string, number>();

  constructor(options: ChatdChatTransportOptions = {}) {
    this.client = options.client ?? makeClient(options);
    this.interruptOnStop = options.interruptOnStop ?? DEFAULT_INTERRUPT_ON_STOP;
    this.onResync = options.onResync;
  }

  async sendMessages(options: { trigger: 'submit-message' | 'regenerate-message'; chatId: string; messageId: string | undefined; messages: UIMessage[]; abortSignal: AbortSignal | undefined } & ChatRequestOptions): Promise<ReadableStream<UIMessageChunk>> {
    const { chatId, abortSignal } = options;
    const generation = this.begin(chatId);
    if (options.trigger === 'regenerate-message') {
      // Regenerating the last reply is an edit of the last user message with its own content (contract.md#edit).
      const user = await lastUserMessage(this.client, chatId);
      if (!user) throw new TypeError(`chat ${chatId} has no user message to regenerate a reply to`);
      const { message } = await this.client.editMessage(chatId, Number(user.id), { content: storedInputContent(user.content ?? []) });
      return this.follow({ chatId, afterId: BigInt(message.id), messageId: turnMessageId(message.id), abortSignal }, generation);
    }
    const last = options.messages[options.messages.length - 1];
    if (!last) throw new TypeError('sendMessages needs a message');
    if (last.role === 'assistant') return this.submitToolOutputs(chatId, last, abortSignal, generation);
    const content = await userContent(this.client, last);
    const result = await this.client.post(chatId, content);
    if (result.message) return this.follow({ chatId, afterId: BigInt(result.message.id), messageId: turnMessageId(result.message.id), abortSignal }, generation);
    // Queued behind a running reply: the turn starts when the message leaves the queue.
    const newest = await this.client.messages(chatId, { limit: 1 });
    const after = newest.messages[0] ? BigInt(newest.messages[0].id) : 0n;
    return this.follow({ chatId, afterId: after, messageId: undefined, abortSignal }, generation);
  }

  async reconnectToStream(options: { chatId: string; abortSignal?: AbortSignal } & ChatRequestOptions): Promise<ReadableStream<UIMessageChunk> | null> {
    const { chatId, abortSignal } = options;
    const generation = this.begin(chatId);
    const chat = await this.client.get(chatId);
    if (TERMINAL_STATUSES.has(chat.status)) return null;
    const user = await lastUserMessage(this.client, chatId);
    if (!user) return null;
    if (abortSignal?.aborted) return null;
    return this.follow({ chatId, afterId: BigInt(user.id), messageId: turnMessageId(user.id), abortSignal }, generation);
  }

  /** Marks a new stream of `chatId` (synchronously, so an abort of the stream it replaces sees it). */
  private begin(chatId: string): number {
    const n = (this.generations.get(chatId) ?? 0) + 1;
    this.generations.set(chatId, n);
    return n;
  }

  /** Answers the pending client tool calls with the outputs `addToolOutput` put on the last assistant message. */
  private async submitToolOutputs(chatId: string, message: UIMessage, abortSignal: AbortSignal | undefined, generation: number): Promise<ReadableStream<UIMessageChunk>> {
    const user = await lastUserMessage(this.client, chatId);
    const turn = user ? await readHistoryAfter(this.client, chatId, BigInt(user.id)) : [];
    const answered = new Set<string>();
    const calls: string[] = [];
    for (const m of turn) {
      for (const p of m.content ?? []) {
        if (p.type === 'tool-call') calls.push(p.tool_call_id);
        if (p.type === 'tool-result') answered.add(p.tool_call_id);
      }
    }
    const pending = new Set(calls.filter((id) => !answered.has(id)));
    const results: { tool_call_id: string; output: unknown; is_error?: boolean }[] = [];
    const known: string[] = [];
    for (const p of message.parts) {
      if (!('toolCallId' in p) || typeof p.toolCallId !== 'string') continue;
      known.push(p.toolCallId);
      if (!pending.has(p.toolCallId)) continue;
      const part = p as { state?: string; output?: unknown; errorText?: string };
      if (part.state === 'output-available') results.push({ tool_call_id: p.toolCallId, output: part.output ?? null });
      else if (part.state === 'output-error') results.push({ tool_call_id: p.toolCallId, output: part.errorText ?? 'error', is_error: true });
    }
    const newest = turn[turn.length - 1];
    const afterId = newest ? BigInt(newest.id) : user ? BigInt(user.id) : 0n;
    await this.client.submitToolResults(chatId, results);
    const stepsBefore = message.parts.filter((p) => p.type === 'step-start').length;
    return this.follow({ chatId, afterId, messageId: message.id, abortSignal, knownToolCalls: known, stepsBefore }, generation);
  }

  /** The UI message chunks of the turn from `from`, until the turn ends or the consumer stops. */
  private follow(from: Follow, generation: number): ReadableStream<UIMessageChunk> {
    const { chatId } = from;
    const stop = new AbortController();
    let done = false;
    let interrupted = false;
    const client = this.client;
    /** An abort before the turn ended: interrupt the run, unless a newer stream of the chat replaced this one. */
    const onAbort = () => {
      if (done) return;
      done = true;
      stop.abort();
      close();
      if (!this.interruptOnStop || interrupted) return;
      interrupted = true;
      // The Chat aborts a replaced resume before it asks for the new one, in the same turn: decide a tick later.
      queueMicrotask(() => {
        if (this.generations.get(chatId) !== generation) return;
        client.interrupt(chatId).catch(() => undefined);
      });
    };
    const onResync = this.onResync;
    let close = () => {};
    return new ReadableStream<UIMessageChunk>({
      start(controller) {
        close = () => {
          try {
            controller.close();
          } catch {
            // already closed or errored
          }
        };
        if (from.abortSignal?.aborted) {
          onAbort();
          controller.close();
          return;
        }
        from.abortSignal?.addEventListener('abort', onAbort, { once: true });
        const emit = (chunk: UIMessageChunk) => {
          if (stop.signal.aborted) return;
          // The turn is over once its end is written: a consumer that cancels after it interrupts nothing.
          if (chunk.type === 'finish' || chunk.type === 'error') done = true;
          controller.enqueue(chunk);
        };
        const mapper = createTurnChunkMapper({
          emit,
          onResync: (reason) => onResync?.({ chatId, reason }),
          ...(from.knownToolCalls ? { knownToolCalls: from.knownToolCalls } : {}),
          ...(from.stepsBefore ? { stepsBefore: from.stepsBefore } : {}),
        });
        void pump(client, from, mapper, stop.signal, emit).then(
          () => {
            if (stop.signal.aborted) return;
            done = true;
            from.abortSignal?.removeEventListener('abort', onAbort);
            controller.close();
          },
          (err: unknown) => {
            if (stop.signal.aborted) return;
            done = true;
            from.abortSignal?.removeEventListener('abort', onAbort);
            controller.error(err);
          },
        );
      },
      cancel() {
        onAbort();
      },
    });
  }
}

/** Follows one turn on the chat's stream and feeds the mapper; resolves once the turn's `finish` is emitted. */
async function pump(
  client: ChatClient,
  from: Follow,
  mapper: ReturnType<typeof createTurnChunkMapper>,
  signal: AbortSignal,
  emit: (chunk: UIMessageChunk) => void,
): Promise<void> {
  let turnUserId: bigint | undefined = from.messageId === undefined ? undefined : from.afterId;
  let startedAt = from.afterId;
  if (from.messageId !== undefined) mapper.start(from.messageId);
  /** A user message: ours when we wait for it (queued), otherwise a later turn. */
  const onUserMessage = (m: ChatMessage): 'ours' | 'later' => {
    const id = BigInt(m.id);
    if (turnUserId === undefined) {
      turnUserId = id;
      startedAt = id;
      mapper.start(turnMessageId(m.id));
      return 'ours';
    }
    return id > turnUserId ? 'later' : 'ours';
  };
  /**
   * Ends the turn: the messages the stream had not delivered yet are read over REST first (a snapshot sends the
   * status before the messages, and a status may overtake a message). A failed turn ends with `error` instead of
   * `finish` (useChat then shows its error).
   */
  const finishTurn = async (errorText: string | undefined) => {
    const after = mapper.highestMessageId > startedAt ? mapper.highestMessageId : startedAt;
    for (const m of await readHistoryAfter(client, from.chatId, after)) {
      if (m.role === 'user' || m.role === 'system') break;
      mapper.message(m);
    }
    if (errorText !== undefined) {
      mapper.close();
      emit({ type: 'error', errorText });
    } else mapper.finish();
  };
  let failure: string | undefined;
  for await (const event of client.stream(from.chatId, { afterId: from.afterId, signal })) {
    switch (event.type) {
      case 'message':
        if (event.message.role === 'user') {
          if (onUserMessage(event.message) === 'later') {
            mapper.finish();
            return;
          }
          continue;
        }
        if (turnUserId === undefined) continue;
        mapper.message(event.message);
        continue;
      case 'history_reset':
        // An edit elsewhere replaced this turn: the turn ends here; the app reloads with loadUIMessages.
        if (turnUserId !== undefined) mapper.finish();
        return;
      case 'error':
        failure = event.error.message;
        continue;
      case 'status':
        if (turnUserId === undefined || !TERMINAL_STATUSES.has(event.status.status)) continue;
        await finishTurn(event.status.status === 'error' ? (failure ?? DEFAULT_ERROR_TEXT) : undefined);
        return;
      default:
        if (turnUserId !== undefined) mapper.event(event);
    }
  }
}

/** The client the options describe (the browser entry of @chatd/client in a browser, the Node one in Node). */
function makeClient(options: ChatdChatTransportOptions): ChatClient {
  const make = createChatClient as (o: Record<string, unknown>) => ChatClient;
  return make({
    ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    transport: options.transport ?? 'sse',
  });
}
