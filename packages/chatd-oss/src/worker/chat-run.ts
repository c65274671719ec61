// One generation run of one chat on this replica (contract.md#run-loop, contract.md#steps): watch the chat's
// stream channel for control, buffer parts live, then loop over model steps: call the model with retries,
// persist the step's assistant message (fenced by run_id, with `last_seq`) before any tool runs, run its server
// tools through the registry, persist their results as one `tool` message, and go on until a step calls no tool
// (or the step limit). Before each step it compacts the history when asked (POST /compact) or when the input
// estimate passes the model's threshold (./compaction.ts, contract.md#compaction). A recovered run first settles
// the calls a dead run left without results. Then it ends
// the run (which promotes the queue) and publishes what changed. A run that finds itself fenced (another worker
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
import { newestFileIds, toLanguageModelPrompt, type ModelMessage } from '../model/language-model-prompt.js';
import type { FileStore } from '../store/file-store.js';
import { internalErrorPayload, ModelProviderError, toChatStreamError } from '../model/model-error.js';
import type { ModelCallOptions, ProviderKind, ProviderOptions } from '../model/model-settings.js';
import { toChatMessageUsage } from '../model/model-usage.js';
import { streamModelStep } from '../model/stream-model-step.js';
import { startModelCallSpan, traceStep } from '../telemetry/model-spans.js';
import type { Logger } from '../logger.js';
import type { ChatPublisher } from '../publish/chat-publisher.js';
import type { ServerMetrics } from '../server/server-metrics.js';
import { DEFAULT_CHAT_TITLE, titleFromText } from '../store/chat-input.js';
import type { AcquiredChat, ChatRunState, ChatStore, FinishRunInput, ModelHistoryMessage } from '../store/chat-store.js';
import { retryDelayMs } from './retry-backoff.js';
import { DEFAULT_MAX_STEPS } from '../config.js';
import { createToolRegistry } from '../tools/tool-registry.js';
import { CANCELLED_TOOL_RESULT, INTERRUPTED_TOOL_RESULT, type ToolCallOutcome, type ToolCallRequest, type ToolRegistry } from '../tools/server-tool.js';
import { clientToolDefinitions, DEFAULT_REQUIRES_ACTION_TIMEOUT_MS, type PendingToolCall } from '../tools/client-tools.js';
import type { CompactionStore } from '../store/compaction-store.js';
import type { CostStore } from '../cost/cost-store.js';
import type { DeploymentConfigStore } from '../store/deployment-config-store.js';
import type { ChatTitler } from './chat-title.js';
import { createModelCallCharger } from '../cost/model-call-charger.js';
import { baselineOf, compactHistory, estimateInput, passesThreshold, type CompactableMessage, type CompactionSource, type InputBaseline } from './compaction.js';

/** Tag of the clock timer a run waits on between model retries. */
export const RETRY_BACKOFF_TIMER_TAG = 'retry-backoff';
/** Tag of the clock timer a run waits on before retrying the save of its reply or its end. */
export const SAVE_RETRY_TIMER_TAG = 'chat-run:save-retry';
/**
 * Waits before each retry of a database write that failed for a reason other than a refusal (a dropped
 * connection, a failover). After the last one the run gives up: the chat is then handed back by stale recovery.
 */
export const SAVE_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000];

/** `kind` of the error a turn ends with when it reaches the step limit (contract.md#steps). */
export const STEP_LIMIT_ERROR_KIND = 'step_limit';
/** `kind` of the error a turn ends with when its owner's spend reached their limit (contract.md#cost). */
export const SPEND_LIMIT_ERROR_KIND = 'spend_limit';

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
  /** The configuration's `context_limit` (tokens); without it a run never compacts on its own (contract.md#compaction). */
  contextLimit?: number;
  /** The configuration's `compression_threshold` (percent of `contextLimit`; 0 turns automatic compaction off). */
  compressionThreshold?: number;
  /** The configuration the calls are charged at (contract.md#cost); the chat's `last_model_config_id` when unset. */
  modelConfigId?: string;
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
export type ChatRunOutcome = 'finished' | 'interrupted' | 'requeued' | 'failed' | 'fenced' | 'abandoned' | 'requires_action';

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
  /** The server tools offered to the model and run between steps; none when unset. */
  tools?: ToolRegistry;
  /** Model steps per turn. @default DEFAULT_MAX_STEPS */
  maxSteps?: number;
  /** How long a chat waits in `requires_action` for client results (contract.md#client-tools). @default DEFAULT_REQUIRES_ACTION_TIMEOUT_MS */
  requiresActionTimeoutMs?: number;
  /** The owner's own system prompt for this chat ('' for none), sent before the history. */
  systemPrompt?: (chat: Chat) => Promise<string>;
  /** Registers a side task the worker waits for on shutdown (title update, control checks). */
  track(task: Promise<unknown>): void;
  /** Reads the chat's run state for the control checks. @default store.getChatRunState, one statement per check */
  readRunState?: (chatId: string) => Promise<ChatRunState | undefined>;
  /** Asks the worker to acquire again soon (a promoted queue left the chat pending). */
  wake(): void;
  /** Compaction (contract.md#compaction): its store and the deployment settings; none when unset. */
  compaction?: { store: CompactionStore; deploymentConfig: DeploymentConfigStore; onCompaction?: (event: CompactionEvent) => void };
  /** Generated titles after the first reply; without it a `New Chat` title gets the title rule at the run's start. */
  titler?: ChatTitler;
  /** Aborted when the worker stops: side tasks (a title request) give up then. */
  sideSignal?: AbortSignal;
  /** Time to first token, part gaps, step and tool durations and retries go here. */
  metrics?: ServerMetrics;
  /** Uploaded files: the bytes of the newest file parts go to the model (contract.md#files); none: mentions only. */
  files?: Pick<FileStore, 'readFileBytes'>;
  /**
   * The cost ledger (contract.md#cost): every model call that reported usage is recorded, and a turn whose owner's
   * spend reached their limit ends before its next step. None: calls are not priced.
   */
  costs?: Pick<CostStore, 'recordModelCall' | 'spendState'>;
};

/** What a run reports of each compaction it attempted (for counters and tests). */
export type CompactionEvent = { chatId: string; runId: string; source: CompactionSource; outcome: 'compacted' | 'nothing' | 'failed' };

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

/** How one model step ended. */
type StepResult =
  | { kind: 'completed'; content: ChatMessagePart[]; usage: ChatMessageUsage | undefined }
  | { kind: 'cancelled'; content: ChatMessagePart[] }
  | { kind: 'failed'; error: ChatStreamError };

/** How a turn (every step of the run) ended; what it persisted is in the run's `messageIds`. */
type TurnEnd =
  | { kind: 'finished' }
  /** A run that only compacted (a manual compaction of a resting chat): ends like a finished one, without a notification. */
  | { kind: 'compacted' }
  /** A step called client tools: the chat waits for their results (contract.md#client-tools). */
  | { kind: 'requires_action'; calls: ToolCallRequest[] }
  | { kind: 'cancelled' }
  | { kind: 'failed'; error: ChatStreamError }
  /** A write was refused: another run owns the chat. */
  | { kind: 'fenced' }
  /** A step could not be saved (a database fault past the retries). */
  | { kind: 'save_failed' };

/** The server-tool calls of a step's content (provider-executed calls ran at the provider). */
function serverCalls(content: readonly ChatMessagePart[]): ToolCallRequest[] {
  return content.flatMap((p) =>
    p.type === 'tool-call' && !p.provider_executed && typeof p.tool_call_id === 'string' ? [{ toolCallId: p.tool_call_id, toolName: p.tool_name ?? '', input: p.args ?? {} }] : [],
  );
}

/**
 * The calls of the turn in progress that have no result yet: tool calls of assistant messages after the last
 * user message without a `tool-result` in a later `tool` message. Only a run that died between persisting a
 * step and persisting its results leaves any (every other path records a result, cancelled ones included).
 */
export function openToolCalls(history: readonly { role: string; content: readonly ChatMessagePart[] }[]): ToolCallRequest[] {
  const open = new Map<string, ToolCallRequest>();
  for (const m of history) {
    if (m.role === 'user') open.clear();
    else if (m.role === 'assistant') for (const c of serverCalls(m.content)) open.set(c.toolCallId, c);
    else if (m.role === 'tool') for (const p of m.content) if (p.type === 'tool-result' && typeof p.tool_call_id === 'string') open.delete(p.tool_call_id);
  }
  return [...open.values()];
}

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
    toolCallPart: (id: string) => toolCalls.get(id),
    // A call cut off while the model wrote its input is kept with `{}`, so that it can get its cancelled result.
    parts: () => parts.map((p) => (p.type === 'tool-call' && p.args === undefined ? { ...p, args: {} } : { ...p })),
  };
}

/** Whether the store reports an interrupt request on a still-running chat (a store may add this flag). */
function interruptRequested(state: ChatRunState): boolean {
  return (state as ChatRunState & { interruptRequested?: boolean }).interruptRequested === true;
}

/** Starts the run of an acquired chat. With `shutdown` set it is cancelled at once and hands the chat back. */
export function startChatRun(deps: ChatRunDeps, acquired: AcquiredChat, shutdown = false): ActiveChatRun {
  const { store, publisher, clock, logger, workerId } = deps;
  const chargeCall = deps.costs ? createModelCallCharger({ costs: deps.costs, ...(deps.metrics ? { metrics: deps.metrics } : {}), logger }) : undefined;
  const chat = acquired.chat;
  const chatId = chat.id;
  const runId = acquired.runId;
  const controller = new AbortController();
  const tools = deps.tools ?? createToolRegistry([], { clock });
  const maxSteps = deps.maxSteps ?? DEFAULT_MAX_STEPS;
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
  function failure(err: unknown): Extract<StepResult, { kind: 'failed' }> {
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
            const state = await (deps.readRunState ? deps.readRunState(chatId) : store.getChatRunState(chatId));
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
  async function endRun(input: Omit<FinishRunInput, 'chatId' | 'runId'>, messageIds: number[], notify = true): Promise<ChatRunResult> {
    let change;
    try {
      change = await withSaveRetry('ending the run', () => store.finishRun({ chatId, runId, ...input }));
    } catch (err) {
      if (isChatdError(err, 'RUN_FENCED')) return fenced(messageIds);
      logger.error(log({ err }), 'ending the chat run failed; stale recovery will hand the chat back');
      return result('abandoned', { messageIds });
    }
    await publisher.publishChange(change);
    if (notify && (input.outcome === 'finished' || input.outcome === 'failed')) {
      await publisher.publishRunNotification(change.chat, input.outcome === 'failed' ? 'failed' : 'finished');
    }
    if (change.chat.status === 'pending') deps.wake();
    const outcome: ChatRunOutcome =
      input.outcome === 'failed' || input.outcome === 'finished' || input.outcome === 'requires_action' ? input.outcome : input.requeue ? 'requeued' : 'interrupted';
    const extra: Partial<ChatRunResult> = { messageIds, status: change.chat.status };
    if (change.error) extra.error = change.error;
    return result(outcome, extra);
  }

  /** Messages this run persisted, and the highest `seq` they cover. */
  const persistedIds: number[] = [];
  let persistedSeq = 0;
  /** Whether the run persisted a reply (a generated title follows the first one). */
  let replied = false;

  /**
   * Persists one message of the run covering every part streamed so far (`last_seq`), publishes it and releases
   * those parts from the live buffer (a new subscriber gets them as this message). Throws like the store.
   */
  async function persistStep(writer: RunWriter, role: 'assistant' | 'tool', content: ChatMessagePart[], usage?: ChatMessageUsage): Promise<number> {
    const lastSeq = writer.lastSeq;
    const persisted = await withSaveRetry('saving a step', () =>
      store.persistMessage({ chatId, runId, role, content, lastSeq, ...(usage ? { usage } : {}) }),
    );
    persistedIds.push(persisted.message.id);
    persistedSeq = lastSeq;
    if (role === 'assistant') replied = true;
    writer.release(lastSeq);
    await publisher.publishChange(persisted.change);
    return persisted.message.id;
  }

  /**
   * One compaction (contract.md#compaction) with the deployment's compaction model, else the chat's: the new model
   * history, `nothing` to summarize, `failed` (logged; the step goes on with the full history) or `cancelled`. A
   * manual request is cleared whatever happens, so it is never retried forever. Throws RUN_FENCED.
   */
  async function runCompaction(
    writer: RunWriter,
    chatModel: ResolvedModel,
    messages: CompactableMessage[],
    systemPrompt: string,
    source: CompactionSource,
    keepNothing: boolean,
    estimate: number,
  ): Promise<CompactableMessage[] | 'nothing' | 'failed' | 'cancelled'> {
    const c = deps.compaction!;
    const report = (outcome: CompactionEvent['outcome']) => {
      try {
        c.onCompaction?.({ chatId, runId, source, outcome });
      } catch (err) {
        logger.warn(log({ err }), 'onCompaction threw');
      }
    };
    const clearManual = async () => {
      if (source === 'manual') await withSaveRetry('clearing a compaction request', () => c.store.clearRequest(chatId, runId));
    };
    try {
      const { compaction_model_config_id: configId } = await c.deploymentConfig.get();
      const summarizer = configId ? await deps.resolveModel({ ...chat, last_model_config_id: configId }) : chatModel;
      const out = await compactHistory({
        chatId,
        runId,
        writer,
        messages,
        systemPrompt,
        resolved: chatModel,
        summarizer,
        source,
        keepNothing,
        contextTokens: estimate,
        clock,
        signal: controller.signal,
        // The summary request is charged like a step of the run (contract.md#cost).
        ...(chargeCall ? { onCall: (usage: ChatMessageUsage, runtimeMs: number) => chargeCall({ chatId, runId, modelConfigId: summarizer.modelConfigId ?? configId ?? chat.last_model_config_id ?? null, usage, runtimeMs }) } : {}),
        save: async (input) => {
          const saved = await withSaveRetry('saving a compaction', () => c.store.persistCompaction(input));
          for (const m of saved.messages) persistedIds.push(m.id);
          persistedSeq = input.resultLastSeq;
          writer.release(input.resultLastSeq);
          await publisher.publishChange(saved.change);
          return saved.summaryId;
        },
      });
      if (out.kind === 'nothing') {
        await clearManual();
        report('nothing');
        return 'nothing';
      }
      logger.info(log({ source, estimate, kept: out.messages.length }), 'compacted the chat history');
      report('compacted');
      return out.messages;
    } catch (err) {
      if (isChatdError(err, 'RUN_FENCED')) throw err;
      if (cancelReason !== undefined) return 'cancelled';
      logger.warn(log({ err, source }), 'compaction failed; the step goes on with the full history');
      report('failed');
      await clearManual();
      return 'failed';
    }
  }

  /** Streams each outcome as a `tool-result` part and returns the `tool` message's content. */
  function resultParts(writer: RunWriter, outcomes: readonly ToolCallOutcome[]): ChatMessagePart[] {
    return outcomes.map((o) => {
      const part: ChatMessagePartOf<'tool-result'> = { type: 'tool-result', tool_call_id: o.toolCallId, tool_name: o.toolName, result: o.result, ...(o.isError ? { is_error: true } : {}) };
      writer.append({ ...part }, 'tool');
      return part;
    });
  }

  const cancelledOutcome = (c: ToolCallRequest): ToolCallOutcome => ({ toolCallId: c.toolCallId, toolName: c.toolName, result: { ...CANCELLED_TOOL_RESULT }, isError: true });

  /** Runs one step's calls (they get the cancelled result at once when the run is already cancelled). */
  async function runTools(writer: RunWriter, calls: readonly ToolCallRequest[]): Promise<ToolCallOutcome[]> {
    if (controller.signal.aborted) return calls.map(cancelledOutcome);
    const metrics = deps.metrics;
    return tools.runCalls(calls, {
      chatId,
      runId,
      signal: controller.signal,
      // A name the model made up is no label value (it would grow the series without bound).
      ...(metrics ? { onCallEnd: (name: string, ms: number) => metrics.observe('chatd_tool_duration_seconds', ms / 1000, { tool: tools.has(name) ? name : 'unknown' }) } : {}),
      onDelta: (toolCallId, toolName, delta) => {
        writer.append({ type: 'tool-result', tool_call_id: toolCallId, tool_name: toolName, result_delta: delta }, 'tool');
      },
    });
  }

  /**
   * One model step with retries; a retry repeats this step only (earlier steps are persisted). The failed
   * attempt's parts stay in the live buffer; the step's message covers them by `last_seq`.
   */
  async function modelStep(writer: RunWriter, resolved: ResolvedModel, call: Omit<Parameters<LanguageModelV3['doStream']>[0], 'abortSignal'>): Promise<StepResult> {
    const signal = controller.signal;
    // Every attempt that reported usage is charged (contract.md#cost); the step's message carries the sum.
    const charged = { costMicros: 0, priced: false, runtimeMs: 0 };
    const charge = async (usage: ChatMessageUsage | undefined, startMs: number) => {
      const runtimeMs = clock.nowMs() - startMs;
      charged.runtimeMs += runtimeMs;
      if (!usage || !chargeCall) return;
      const costMicros = await chargeCall({ chatId, runId, modelConfigId: resolved.modelConfigId ?? chat.last_model_config_id ?? null, usage, runtimeMs });
      if (typeof costMicros === 'number') {
        charged.costMicros += costMicros;
        charged.priced = true;
      }
    };
    for (let attempt = 0; ; ) {
      if (cancelReason !== undefined) return { kind: 'cancelled', content: [] };
      const acc = createAccumulator();
      let usage: ChatMessageUsage | undefined;
      const attemptStartMs = clock.nowMs();
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
        // The call's span is driven here rather than by wrapping the events in another generator (a hop per part).
        const span = startModelCallSpan(resolved);
        try {
          for await (const ev of step) {
            span.observe(ev);
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
                writer.append(
                  { type: 'tool-call', tool_call_id: ev.toolCallId, tool_name: ev.toolName, args: ev.input, ...(ev.providerExecuted ? { provider_executed: true } : {}) },
                  'assistant',
                );
                break;
              case 'finish':
                usage = toChatMessageUsage(ev.usage);
                break;
            }
          }
        } catch (err) {
          span.fail(err);
          throw err;
        } finally {
          span.end();
        }
        await charge(usage, attemptStartMs);
        if (usage && charged.priced) usage = { ...usage, total_cost_micros: charged.costMicros, total_runtime_ms: charged.runtimeMs };
        return { kind: 'completed', content: acc.parts(), usage };
      } catch (err) {
        await charge(usage ?? (err instanceof ModelProviderError ? toChatMessageUsage(err.usage) : undefined), attemptStartMs);
        if (cancelReason !== undefined) return { kind: 'cancelled', content: acc.parts() };
        if (!(err instanceof ModelProviderError) || !err.retryable) return failure(err);
        attempt++;
        deps.metrics?.inc('chatd_retries_total', 1, { kind: err.kind });
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

  /** The spend-limit error when the owner's spend reached their limit (contract.md#cost); a read fault lets the step go on. */
  async function spendLimitReached(): Promise<ChatStreamError | undefined> {
    if (!deps.costs) return undefined;
    try {
      const state = await deps.costs.spendState(chat.owner_id);
      if (!state?.exceeded) return undefined;
      return {
        message: `the spend limit of ${state.limit_micros} micro-units is reached (${state.spent_micros} spent); it resets at ${state.resets_at}`,
        kind: SPEND_LIMIT_ERROR_KIND,
        retryable: false,
      };
    } catch (err) {
      logger.warn(log({ err }), 'reading the spend limit failed');
      return undefined;
    }
  }

  /** The step loop of one turn (contract.md#steps). Writes go through `persistStep`; a refusal ends the turn. */
  async function turn(writer: RunWriter): Promise<TurnEnd> {
    let messages: CompactableMessage[];
    let resolved: ResolvedModel;
    let systemPrompt = '';
    let history: ModelHistoryMessage[];
    try {
      history = await store.modelHistory(chatId);
      if (!deps.titler) maybeUpdateTitle(history);
      messages = history.map((m): CompactableMessage => ({ id: m.id, role: m.role, content: m.content, ...(m.summary ? { summary: true } : {}) }));
      resolved = await deps.resolveModel(chat);
      if (deps.systemPrompt) systemPrompt = await deps.systemPrompt(chat);
    } catch (err) {
      if (cancelReason !== undefined) return { kind: 'cancelled' };
      return failure(err) as TurnEnd;
    }
    try {
      // Recovery (contract.md#server-tools): calls a dead run left without results run again with the same
      // toolCallId, unless their tool is not idempotent; persisted results are never computed again.
      // Client calls are never run here: a recovered run that finds some open waits for them again.
      // The acquisition read the chat's client tools with it (issue 36: one round trip less per run).
      const clientTools = (acquired.startReads?.dynamicTools ?? (await store.chatTools(chatId))).filter((t) => !tools.has(t.name));
      const clientNames = new Set(clientTools.map((t) => t.name));
      const isClientCall = (c: ToolCallRequest) => clientNames.has(c.toolName);
      const openAll = openToolCalls(history);
      const openClient = openAll.filter(isClientCall);
      const open = openAll.filter((c) => !isClientCall(c));
      if (open.length > 0) {
        const rerun = open.filter((c) => !tools.has(c.toolName) || tools.isIdempotent(c.toolName));
        const ran = await runTools(writer, rerun);
        const outcomes = open.map(
          (c) => ran[rerun.indexOf(c)] ?? { toolCallId: c.toolCallId, toolName: c.toolName, result: { ...INTERRUPTED_TOOL_RESULT }, isError: true },
        );
        logger.info(log({ calls: open.length, rerun: rerun.length }), 'recovered tool calls left without results');
        const content = resultParts(writer, outcomes);
        const id = await persistStep(writer, 'tool', content);
        messages.push({ id, role: 'tool', content });
        if (cancelReason !== undefined) return { kind: 'cancelled' };
      }
      if (openClient.length > 0) return { kind: 'requires_action', calls: openClient };

      const { callOptions = {} } = resolved;
      const definitions = [...tools.definitions(), ...clientToolDefinitions(clientTools)];
      // The newest reported input and the first message it did not cover (contract.md#compaction).
      let baseline: InputBaseline | undefined = baselineOf(history);
      let automaticFailed = false;
      const model = resolved;
      /** Compacts when asked (POST /compact) or when the estimate passes the threshold; `only` ends a compaction-only run. */
      // The first step takes the request the acquisition read (issue 36); later steps read it again.
      let acquiredRequest = acquired.startReads ? { request: acquired.startReads.compactRequest } : undefined;
      const compactIfDue = async (): Promise<'go' | 'only' | 'cancelled'> => {
        if (!deps.compaction) return 'go';
        let request: Awaited<ReturnType<CompactionStore['pendingRequest']>>;
        const known = acquiredRequest;
        acquiredRequest = undefined;
        try {
          request = known ? known.request : await deps.compaction.store.pendingRequest(chatId);
        } catch (err) {
          // A failed read only postpones a manual request to the next step; it never fails the turn.
          logger.warn(log({ err }), 'reading the compaction request failed');
          request = undefined;
        }
        const estimate = estimateInput(messages, systemPrompt, baseline, model.kind);
        const due = request !== undefined || (!automaticFailed && passesThreshold(estimate, model.contextLimit, model.compressionThreshold));
        if (!due) return 'go';
        const source: CompactionSource = request !== undefined ? 'manual' : 'automatic';
        const outcome = await runCompaction(writer, model, messages, systemPrompt, source, request === 'only', estimate);
        if (outcome === 'cancelled') return 'cancelled';
        if (outcome === 'failed' && source === 'automatic') automaticFailed = true;
        if (Array.isArray(outcome)) {
          messages = outcome;
          baseline = undefined;
        }
        return request === 'only' ? 'only' : 'go';
      };
      for (let step = 1; ; step++) {
        if (cancelReason !== undefined) return { kind: 'cancelled' };
        if (step > maxSteps) {
          return { kind: 'failed', error: { message: `the turn reached the limit of ${maxSteps} model steps`, kind: STEP_LIMIT_ERROR_KIND, retryable: false } };
        }
        const overLimit = await spendLimitReached();
        if (overLimit) return { kind: 'failed', error: overLimit };
        const compacted = await compactIfDue();
        if (compacted === 'cancelled') return { kind: 'cancelled' };
        if (compacted === 'only') return { kind: 'compacted' };
        // One query a step for the bytes of the newest file parts; the rest are mentioned (contract.md#files).
        const fileIds = deps.files ? newestFileIds(messages) : [];
        const fileBytes = fileIds.length > 0 ? await deps.files!.readFileBytes(fileIds) : undefined;
        const call = {
          prompt: toLanguageModelPrompt(messages, systemPrompt, fileBytes),
          ...(definitions.length > 0 ? { tools: definitions } : {}),
          ...(callOptions.maxOutputTokens === undefined ? {} : { maxOutputTokens: callOptions.maxOutputTokens }),
          ...(callOptions.temperature === undefined ? {} : { temperature: callOptions.temperature }),
          ...(callOptions.topP === undefined ? {} : { topP: callOptions.topP }),
          ...(resolved.providerOptions ? { providerOptions: resolved.providerOptions as NonNullable<Parameters<LanguageModelV3['doStream']>[0]['providerOptions']> } : {}),
        };
        const stepStartMs = clock.nowMs();
        const result = await traceStep(step, () => modelStep(writer, resolved, call));
        deps.metrics?.observe('chatd_step_duration_seconds', (clock.nowMs() - stepStartMs) / 1000);
        if (result.kind === 'failed') return result;
        const content = result.content;
        const calls = serverCalls(content);
        // The step's message is durable before any of its tools runs.
        const stepId = content.length > 0 ? await persistStep(writer, 'assistant', content, result.kind === 'completed' ? result.usage : undefined) : undefined;
        if (result.kind === 'cancelled') {
          // No call is left without a result: providers refuse such a history.
          if (calls.length > 0) await persistStep(writer, 'tool', resultParts(writer, calls.map(cancelledOutcome)));
          return { kind: 'cancelled' };
        }
        if (calls.length === 0) return { kind: 'finished' };
        const reported = result.kind === 'completed' ? result.usage?.input_tokens : undefined;
        baseline = reported === undefined ? undefined : { inputTokens: reported, fromIndex: messages.length };
        messages.push({ ...(stepId === undefined ? {} : { id: stepId }), role: 'assistant', content });
        // The step's server tools run first; its client calls then make the chat wait (contract.md#client-tools).
        const clientCalls = calls.filter(isClientCall);
        const server = calls.filter((c) => !isClientCall(c));
        if (server.length > 0) {
          const outcomes = await runTools(writer, server);
          const resultContent = resultParts(writer, outcomes);
          // Fenced here (the chat was taken while the tools ran): the late results are refused and dropped.
          const id = await persistStep(writer, 'tool', resultContent);
          messages.push({ id, role: 'tool', content: resultContent });
        }
        if (clientCalls.length > 0) {
          if (cancelReason !== undefined) {
            await persistStep(writer, 'tool', resultParts(writer, clientCalls.map(cancelledOutcome)));
            return { kind: 'cancelled' };
          }
          return { kind: 'requires_action', calls: clientCalls };
        }
      }
    } catch (err) {
      if (isChatdError(err, 'RUN_FENCED')) return { kind: 'fenced' };
      logger.error(log({ err }), 'saving a step failed');
      return { kind: 'save_failed' };
    }
  }

  async function finish(end: TurnEnd, writer: RunWriter): Promise<ChatRunResult> {
    const messageIds = [...persistedIds];
    // The parts after the last persisted step are lost unless nothing followed it.
    writer.end(end.kind !== 'fenced' && writer.lastSeq === persistedSeq);
    switch (end.kind) {
      case 'fenced':
        return fenced(messageIds);
      case 'failed':
        return endRun({ outcome: 'failed', error: end.error }, messageIds);
      case 'save_failed':
        return endRun({ outcome: 'failed', error: { message: 'chat processing failed: the reply could not be saved' } }, messageIds);
      case 'finished':
        return endRun({ outcome: 'finished' }, messageIds);
      case 'compacted':
        return endRun({ outcome: 'finished' }, messageIds, false);
      case 'requires_action': {
        const pendingToolCalls: PendingToolCall[] = end.calls.map((c) => ({ tool_call_id: c.toolCallId, tool_name: c.toolName, args: c.input }));
        const deadline = new Date(clock.nowMs() + (deps.requiresActionTimeoutMs ?? DEFAULT_REQUIRES_ACTION_TIMEOUT_MS));
        return endRun({ outcome: 'requires_action', pendingToolCalls, deadline }, messageIds);
      }
      case 'cancelled':
        return endRun({ outcome: 'interrupted', requeue: cancelReason === 'shutdown' }, messageIds);
    }
  }

  /**
   * The run's writer, timing what it publishes: the first part from the moment the chat became pending (time to
   * first token), each later one from the part before it.
   */
  function measured(w: RunWriter): RunWriter {
    const metrics = deps.metrics;
    if (!metrics) return w;
    let lastMs: number | undefined;
    // Inherits every other member of the writer (its getters read the buffer's own state).
    const m: RunWriter = Object.create(w);
    Object.defineProperty(m, 'append', {
      value: (part: ChatMessagePart, role?: string) => {
        const live = w.append(part, role);
        if (!live) return live;
        const nowMs = clock.nowMs();
        if (lastMs !== undefined) metrics.observe('chatd_part_gap_seconds', (nowMs - lastMs) / 1000);
        else if (acquired.pendingSinceMs !== undefined) metrics.observe('chatd_time_to_first_token_seconds', (nowMs - acquired.pendingSinceMs) / 1000);
        lastMs = nowMs;
        return live;
      },
    });
    return m;
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
      writer = measured(deps.live.begin(chatId, runId));
      await publisher.publishChange(acquired.change);
      if (shutdown) cancel('shutdown');
      checkControl(); // an interrupt may have landed before the subscription was live
      const end = await turn(writer);
      settled = true;
      unsubscribe?.();
      unsubscribe = undefined;
      const ended = await finish(end, writer);
      // The first reply of a chat gets a generated title (the titler checks it is still the rule's).
      if (deps.titler && replied && ended.outcome !== 'fenced' && ended.outcome !== 'abandoned') {
        const titler = deps.titler;
        deps.track(titler.generateAfterReply(chat, deps.sideSignal));
      }
      return ended;
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
