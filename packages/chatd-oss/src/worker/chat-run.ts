// One generation run of one chat on this replica (contract.md#run-loop): watch the chat's stream channel
// for control, buffer parts live, call the model with retries, persist the reply fenced by run_id, end the
// run (which promotes the queue) and publish what changed. A run that finds itself fenced (another worker
// or an edit took the chat) publishes nothing at all (seed 002 `errChatTakenByOtherWorker`).
// Heartbeats are the worker's job (it calls `cancel` when one updates no row); this module never throws.
import type { Clock } from '@chatd/clock';
import type { Chat, ChatMessagePart, ChatMessagePartOf, ChatMessageUsage, ChatStatus, ChatStreamError, ChatStreamRetry } from '@chatd/protocol';
import {
  chatStreamNotifyChannel,
  decodeChatStreamNotify,
  type ChatStreamNotifyMessage,
  type PubSub,
  type PubSubError,
  type Unsubscribe,
} from '@chatd/pubsub';
import { ChatdError, isChatdError } from '../chatd-error.js';
import type { LiveStreams, RunWriter } from '../live/live-buffer.js';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import { toLanguageModelPrompt, type ModelMessage } from '../model/language-model-prompt.js';
import { internalErrorPayload, ModelProviderError, toChatStreamError } from '../model/model-error.js';
import type { ModelCallOptions, ProviderKind, ProviderOptions } from '../model/model-settings.js';
import { toChatMessageUsage } from '../model/model-usage.js';
import { streamModelStep } from '../model/stream-model-step.js';
import type { Logger } from '../logger.js';
import type { ChatPublisher } from '../publish/chat-publisher.js';
import { DEFAULT_CHAT_TITLE, titleFromText } from '../store/chat-input.js';
import type { AcquiredChat, ChatRunState, ChatStore, FinishRunInput, ModelHistoryMessage } from '../store/chat-store.js';
import { retryDelayMs } from './retry-backoff.js';

/** Tag of the clock timer a run waits on between model retries. */
export const RETRY_BACKOFF_TIMER_TAG = 'retry-backoff';
/** Tag of the clock timer a run waits on before retrying the save of its reply or its end. */
export const SAVE_RETRY_TIMER_TAG = 'chat-run:save-retry';
/**
 * Waits before each retry of a database write that failed for a reason other than a refusal (a dropped
 * connection, a failover). After the last one the run gives up: the chat is then handed back by stale recovery.
 */
export const SAVE_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000];

/** The model a run calls, with its call settings. */
export type ResolvedModel = {
  model: LanguageModelV3;
  /** Provider name carried by errors and retry events (the provider row's name). */
  provider: string;
  kind?: ProviderKind;
  /** Effective call options (`reasoningEffort` already folded into `providerOptions`). */
  callOptions?: ModelCallOptions;
  /** Passed to the call as `providerOptions`. */
  providerOptions?: ProviderOptions | null;
  /** The model always names why it stopped, so a finish without a reason is a cut stream (built-in HTTP kinds). */
  strictFinish?: boolean;
  /** No stream part for this long fails the attempt as a retryable `TIMEOUT`; 0 disables it. @default 0 */
  idleTimeoutMs?: number;
};

/** Picks the model for a chat (e.g. by its `last_model_config_id`); may throw to fail the run. */
export type ModelResolver = (chat: Chat) => ResolvedModel | Promise<ResolvedModel>;

/** Why a run was stopped before its model finished. */
export type RunCancelReason = 'interrupt' | 'taken' | 'shutdown';

/**
 * How a run ended: `finished` (reply saved), `interrupted` (partial reply saved), `requeued` (shutdown:
 * partial saved, chat handed back as pending), `failed` (chat in `error`), `fenced` (the chat was taken:
 * nothing written or published), `abandoned` (a database fault; stale recovery will hand the chat back).
 */
export type ChatRunOutcome = 'finished' | 'interrupted' | 'requeued' | 'failed' | 'fenced' | 'abandoned';

/** The end of one run. */
export type ChatRunResult = {
  chatId: string;
  runId: string;
  outcome: ChatRunOutcome;
  /** Why it was cancelled, if it was. */
  cancelReason?: RunCancelReason;
  /** Ids of the messages it persisted. */
  messageIds: number[];
  /** The chat's status after the run, when the run wrote it. */
  status?: ChatStatus;
  /** The error a failed run ended with. */
  error?: ChatStreamError;
};

/** What a run needs from its worker. */
export type ChatRunDeps = {
  store: ChatStore;
  pubsub: PubSub;
  live: LiveStreams;
  publisher: ChatPublisher;
  clock: Clock;
  logger: Logger;
  workerId: string;
  resolveModel: ModelResolver;
  /** The owner's own system prompt for this chat ('' for none), sent before the history. */
  systemPrompt?: (chat: Chat) => Promise<string>;
  /** Registers a side task the worker waits for on shutdown (title update, control checks). */
  track(task: Promise<unknown>): void;
  /** Asks the worker to acquire again soon (a promoted queue left the chat pending). */
  wake(): void;
};

/** A run in flight. */
export interface ActiveChatRun {
  readonly chatId: string;
  readonly runId: string;
  readonly cancelReason: RunCancelReason | undefined;
  /** Stops the model; the run then saves its partial reply and ends. The first reason wins. */
  cancel(reason: RunCancelReason): void;
  /** Settles (never rejects) when the run has ended and published. */
  readonly done: Promise<ChatRunResult>;
}

type Generation =
  | { kind: 'completed'; content: ChatMessagePart[]; usage: ChatMessageUsage | undefined }
  | { kind: 'cancelled'; content: ChatMessagePart[] }
  | { kind: 'failed'; error: ChatStreamError };

/**
 * Accumulates streamed deltas into message parts: consecutive deltas of one type form one part; a
 * reasoning signature lands on the reasoning part it closes; tool calls are keyed by their id.
 */
function createAccumulator() {
  const parts: ChatMessagePart[] = [];
  const toolCalls = new Map<string, ChatMessagePartOf<'tool-call'>>();
  return {
    add(type: 'text' | 'reasoning', text: string) {
      const last = parts[parts.length - 1];
      if (last && last.type === type && (last.type === 'text' || last.signature === undefined)) last.text += text;
      else parts.push({ type, text });
    },
    sign(signature: string) {
      const last = parts[parts.length - 1];
      if (last && last.type === 'reasoning') last.signature = signature;
      else parts.push({ type: 'reasoning', text: '', signature });
    },
    source(part: ChatMessagePart) {
      parts.push(part);
    },
    /** A tool call's final input: the durable part carries `args`, never the streamed `args_delta`. */
    toolCall(id: string, name: string, args: unknown, providerExecuted?: boolean) {
      const existing = toolCalls.get(id);
      if (existing) {
        existing.tool_name = name;
        existing.args = args;
        if (providerExecuted) existing.provider_executed = true;
        return;
      }
      const part: ChatMessagePartOf<'tool-call'> = { type: 'tool-call', tool_call_id: id, tool_name: name, args, ...(providerExecuted ? { provider_executed: true } : {}) };
      toolCalls.set(id, part);
      parts.push(part);
    },
    toolInputStart(id: string, name: string) {
      if (toolCalls.has(id)) return;
      const part: ChatMessagePartOf<'tool-call'> = { type: 'tool-call', tool_call_id: id, tool_name: name };
      toolCalls.set(id, part);
      parts.push(part);
    },
    toolName: (id: string) => toolCalls.get(id)?.tool_name,
    parts: () => parts.map((p) => ({ ...p })),
  };
}

/** Whether the store reports an interrupt request on a still-running chat (a store may add this flag). */
function interruptRequested(state: ChatRunState): boolean {
  return (state as ChatRunState & { interruptRequested?: boolean }).interruptRequested === true;
}

/** Starts the run of an acquired chat. With `shutdown` set it is cancelled at once and hands the chat back. */
export function startChatRun(deps: ChatRunDeps, acquired: AcquiredChat, shutdown = false): ActiveChatRun {
  const { store, publisher, clock, logger, workerId } = deps;
  const chat = acquired.chat;
  const chatId = chat.id;
  const runId = acquired.runId;
  const controller = new AbortController();
  let cancelReason: RunCancelReason | undefined;
  // Once generation is over, control notifications no longer matter (our own end publishes some).
  let settled = false;
  let checking = false;
  let recheck = false;

  const log = (fields: object) => ({ chatId, runId, workerId, ...fields });

  /**
   * What a failed run reports (`last_error`, the `error` event). A classified model error keeps its kind and
   * the words its provider chose; anything else (a TypeError, a database error) is an unexpected fault whose
   * own text may name hosts or internals: clients get a fixed text, the log gets the error.
   */
  function failure(err: unknown): Generation {
    if (err instanceof ModelProviderError) {
      logger.warn(log({ err, kind: err.kind }), 'model call failed');
      return { kind: 'failed', error: toChatStreamError(err) };
    }
    logger.error(log({ err }), 'chat run failed on an unexpected error');
    return { kind: 'failed', error: internalErrorPayload() };
  }

  function cancel(reason: RunCancelReason): void {
    if (cancelReason !== undefined || settled) return;
    cancelReason = reason;
    logger.debug(log({ reason }), 'cancelling chat run');
    controller.abort(new Error(`chat run cancelled: ${reason}`));
  }

  /** Re-reads the chat's run state and cancels when the run lost the chat or was interrupted. */
  function checkControl(): void {
    if (settled || cancelReason !== undefined) return;
    if (checking) {
      recheck = true;
      return;
    }
    checking = true;
    deps.track(
      (async () => {
        try {
          do {
            recheck = false;
            const state = await store.getChatRunState(chatId);
            if (settled) return;
            if (!state || state.runId !== runId) cancel('taken');
            else if (state.status !== 'running' || interruptRequested(state)) cancel('interrupt');
          } while (recheck && !settled && cancelReason === undefined);
        } catch (err) {
          logger.warn(log({ err }), 'chat run control check failed');
        } finally {
          checking = false;
        }
      })(),
    );
  }

  // Every hint that may mean "stop" is checked against the database, so a late or stale notification
  // (e.g. the `pending` the API published for the very chat we just acquired) never stops a healthy run.
  function onControl(message: Buffer | undefined, error: PubSubError | undefined): void {
    if (error || message === undefined) {
      checkControl(); // messages may have been dropped: catch up from the table
      return;
    }
    let n: ChatStreamNotifyMessage;
    try {
      n = decodeChatStreamNotify(message);
    } catch (err) {
      logger.warn(log({ err }), 'dropping a malformed chat stream notification');
      return;
    }
    const ownRunning = n.status === 'running' && n.worker_id === workerId;
    if ((n.status !== undefined && !ownRunning) || n.queue_update === true || n.full_refresh === true) checkControl();
  }

  function maybeUpdateTitle(history: ModelHistoryMessage[]): void {
    if (chat.title !== DEFAULT_CHAT_TITLE) return;
    const first = history.find((m) => m.role === 'user');
    if (!first) return;
    const text = first.content
      .filter((p) => p.type === 'text')
      .map((p) => p.text ?? '')
      .join(' ');
    const title = titleFromText(text);
    if (title === DEFAULT_CHAT_TITLE) return;
    deps.track(
      (async () => {
        try {
          const res = await store.updateChat({ chatId, title });
          if (res.titleChanged) await publisher.publishChatEvent('title_change', res.change.chat);
        } catch (err) {
          logger.warn(log({ err }), 'chat title update failed');
        }
      })(),
    );
  }

  async function generate(writer: RunWriter): Promise<Generation> {
    const signal = controller.signal;
    let messages: ModelMessage[];
    let resolved: ResolvedModel;
    let systemPrompt = '';
    try {
      const history = await store.modelHistory(chatId);
      maybeUpdateTitle(history);
      messages = history.map((m) => ({ role: m.role, content: m.content }));
      resolved = await deps.resolveModel(chat);
      if (deps.systemPrompt) systemPrompt = await deps.systemPrompt(chat);
    } catch (err) {
      if (cancelReason !== undefined) return { kind: 'cancelled', content: [] };
      return failure(err);
    }
    const { callOptions = {} } = resolved;
    const call = {
      prompt: toLanguageModelPrompt(messages, systemPrompt),
      ...(callOptions.maxOutputTokens === undefined ? {} : { maxOutputTokens: callOptions.maxOutputTokens }),
      ...(callOptions.temperature === undefined ? {} : { temperature: callOptions.temperature }),
      ...(callOptions.topP === undefined ? {} : { topP: callOptions.topP }),
      ...(resolved.providerOptions ? { providerOptions: resolved.providerOptions as NonNullable<Parameters<LanguageModelV3['doStream']>[0]['providerOptions']> } : {}),
    };
    for (let attempt = 0; ; ) {
      if (cancelReason !== undefined) return { kind: 'cancelled', content: [] };
      const acc = createAccumulator();
      let usage: ChatMessageUsage | undefined;
      try {
        const step = streamModelStep({
          model: resolved.model,
          provider: resolved.provider,
          call,
          signal,
          clock,
          ...(resolved.strictFinish ? { strictFinish: true } : {}),
          ...(resolved.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: resolved.idleTimeoutMs }),
        });
        for await (const ev of step) {
          switch (ev.type) {
            case 'text-delta':
            case 'reasoning-delta': {
              const type = ev.type === 'text-delta' ? 'text' : 'reasoning';
              if (ev.text !== '') {
                acc.add(type, ev.text);
                writer.append({ type, text: ev.text }, 'assistant');
              }
              // The signature is kept on the durable part only; a client has no use for it mid-stream.
              if (ev.type === 'reasoning-delta' && ev.signature !== undefined) acc.sign(ev.signature);
              break;
            }
            case 'source': {
              const part: ChatMessagePart = { type: 'source', source_id: ev.sourceId, url: ev.url, ...(ev.title === undefined ? {} : { title: ev.title }) };
              acc.source(part);
              writer.append({ ...part }, 'assistant');
              break;
            }
            case 'tool-input-start':
              acc.toolInputStart(ev.toolCallId, ev.toolName);
              break;
            case 'tool-input-delta':
              writer.append({ type: 'tool-call', tool_call_id: ev.toolCallId, tool_name: acc.toolName(ev.toolCallId) ?? '', args_delta: ev.delta }, 'assistant');
              break;
            case 'tool-call':
              acc.toolCall(ev.toolCallId, ev.toolName, ev.input, ev.providerExecuted);
              writer.append({ type: 'tool-call', tool_call_id: ev.toolCallId, tool_name: ev.toolName, args: ev.input }, 'assistant');
              break;
            case 'finish':
              usage = toChatMessageUsage(ev.usage);
              break;
          }
        }
        return { kind: 'completed', content: acc.parts(), usage };
      } catch (err) {
        if (cancelReason !== undefined) return { kind: 'cancelled', content: acc.parts() };
        if (!(err instanceof ModelProviderError) || !err.retryable) return failure(err);
        attempt++;
        const delayMs = retryDelayMs(attempt, err.retryAfterMs);
        const retry: ChatStreamRetry = {
          attempt,
          delay_ms: delayMs,
          error: err.message,
          retrying_at: new Date(clock.nowMs() + delayMs).toISOString(),
          kind: err.kind,
          provider: err.provider,
        };
        if (err.statusCode !== undefined) retry.status_code = err.statusCode;
        logger.info(log({ attempt, delayMs, err }), 'model call failed; retrying');
        await publisher.publishRetry(chatId, retry);
        try {
          await clock.sleep(delayMs, signal, RETRY_BACKOFF_TIMER_TAG);
        } catch {
          return { kind: 'cancelled', content: [] };
        }
      }
    }
  }

  const result = (outcome: ChatRunOutcome, extra: Partial<ChatRunResult> = {}): ChatRunResult => {
    const r: ChatRunResult = { chatId, runId, outcome, messageIds: [], ...extra };
    if (cancelReason !== undefined) r.cancelReason = cancelReason;
    return r;
  };

  /**
   * The chat was taken (another worker, an edit, stale recovery): nothing is published (seed 002
   * `errChatTakenByOtherWorker`). Whoever took it may have left it pending, so acquisition is nudged.
   */
  function fenced(messageIds: number[]): ChatRunResult {
    logger.info(log({}), 'chat run was fenced: the chat was taken');
    deps.wake();
    return result('fenced', { messageIds });
  }

  /** Runs a store write, retrying faults (not `ChatdError` refusals such as RUN_FENCED) on the clock. */
  async function withSaveRetry<T>(what: string, write: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        const delayMs = SAVE_RETRY_DELAYS_MS[attempt];
        if (err instanceof ChatdError || delayMs === undefined) throw err;
        logger.warn(log({ err, attempt: attempt + 1, delayMs }), `${what} failed; retrying`);
        await clock.sleep(delayMs, undefined, SAVE_RETRY_TIMER_TAG);
      }
    }
  }

  /** Ends the run in the store, then publishes; a fenced end publishes nothing. */
  async function endRun(input: Omit<FinishRunInput, 'chatId' | 'runId'>, messageIds: number[]): Promise<ChatRunResult> {
    let change;
    try {
      change = await withSaveRetry('ending the run', () => store.finishRun({ chatId, runId, ...input }));
    } catch (err) {
      if (isChatdError(err, 'RUN_FENCED')) return fenced(messageIds);
      logger.error(log({ err }), 'ending the chat run failed; stale recovery will hand the chat back');
      return result('abandoned', { messageIds });
    }
    await publisher.publishChange(change);
    if (input.outcome === 'finished' || input.outcome === 'failed') {
      await publisher.publishRunNotification(change.chat, input.outcome === 'failed' ? 'failed' : 'finished');
    }
    if (change.chat.status === 'pending') deps.wake();
    const outcome: ChatRunOutcome = input.outcome === 'failed' ? 'failed' : input.outcome === 'finished' ? 'finished' : input.requeue ? 'requeued' : 'interrupted';
    const extra: Partial<ChatRunResult> = { messageIds, status: change.chat.status };
    if (change.error) extra.error = change.error;
    return result(outcome, extra);
  }

  async function finish(gen: Generation, writer: RunWriter): Promise<ChatRunResult> {
    if (gen.kind === 'failed') {
      // The failed attempt's parts are not saved; an empty run lost nothing.
      writer.end(writer.lastSeq === 0);
      return endRun({ outcome: 'failed', error: gen.error }, []);
    }
    const messageIds: number[] = [];
    if (gen.content.length > 0) {
      try {
        const persisted = await withSaveRetry('saving the reply', () =>
          store.persistMessage({
            chatId,
            runId,
            role: 'assistant',
            content: gen.content,
            ...(gen.kind === 'completed' && gen.usage ? { usage: gen.usage } : {}),
          }),
        );
        messageIds.push(persisted.message.id);
        await publisher.publishChange(persisted.change);
      } catch (err) {
        writer.end(false);
        if (isChatdError(err, 'RUN_FENCED')) return fenced([]);
        logger.error(log({ err }), 'saving the reply failed');
        return endRun({ outcome: 'failed', error: { message: 'chat processing failed: the reply could not be saved' } }, []);
      }
    }
    writer.end(true);
    if (gen.kind === 'completed') return endRun({ outcome: 'finished' }, messageIds);
    return endRun({ outcome: 'interrupted', requeue: cancelReason === 'shutdown' }, messageIds);
  }

  async function execute(): Promise<ChatRunResult> {
    let unsubscribe: Unsubscribe | undefined;
    let writer: RunWriter | undefined;
    try {
      try {
        unsubscribe = await deps.pubsub.subscribe(chatStreamNotifyChannel(chatId), onControl);
      } catch (err) {
        // Heartbeats still notice a lost chat; interrupts are then seen only through them.
        logger.warn(log({ err }), 'cannot watch the chat stream channel');
      }
      // Buffering starts before `running` is published, so a subscriber that sees it misses no part.
      writer = deps.live.begin(chatId, runId);
      await publisher.publishChange(acquired.change);
      if (shutdown) cancel('shutdown');
      checkControl(); // an interrupt may have landed before the subscription was live
      const gen = await generate(writer);
      settled = true;
      unsubscribe?.();
      unsubscribe = undefined;
      return await finish(gen, writer);
    } catch (err) {
      logger.error(log({ err }), 'chat run crashed');
      return result('abandoned');
    } finally {
      settled = true;
      unsubscribe?.();
      if (writer && !writer.ended) writer.end(false);
    }
  }

  const done = execute();
  return {
    chatId,
    runId,
    get cancelReason() {
      return cancelReason;
    },
    cancel,
    done,
  };
}
