// One model step through the AI SDK port: calls `model.doStream` with the run's call options and turns its
// stream parts into a small typed union the run loop maps to message parts (text, reasoning with its
// signature, url sources, tool input and tool calls, and one `finish` with usage). A failure is thrown as a
// classified `ModelProviderError` (`CANCELLED` once `signal` aborts, `TIMEOUT` when the provider stays silent
// for `idleTimeoutMs` on the clock, `CONTENT_FILTER` for a filtered finish, `CONNECTION` for a stream cut
// short), or as itself when nothing recognises it. Whatever ends the step, its request is aborted, so no
// HTTP request outlives it. No retries here.
import type { Clock, Timer } from '@chatd/clock';
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3FinishReason, LanguageModelV3StreamPart, LanguageModelV3Usage } from '@ai-sdk/provider';
import { classifyModelError, STREAM_ENDED_EARLY_MESSAGE } from './classify-model-error.js';
import { ModelProviderError } from './model-error.js';

/**
 * Longest wait for an HTTP provider (for the response, or for the next stream part) before the step fails as
 * a retryable `TIMEOUT`; the resolver applies it to the built-in HTTP kinds. Time the consumer spends on a
 * yielded event does not count. Long because some reasoning models think for minutes without streaming.
 * @default 300000
 */
export const DEFAULT_MODEL_IDLE_TIMEOUT_MS = 300_000;
/** Tag of the idle-timeout timer: armed when a wait for the provider begins and none is running; it outlives the wait. */
export const MODEL_IDLE_TIMER_TAG = 'model-idle';

/** What one step streams, in our terms. */
export type ModelStepEvent =
  | { type: 'text-delta'; text: string }
  | { type: 'reasoning-delta'; text: string; signature?: string }
  | { type: 'source'; sourceId: string; url: string; title?: string }
  | { type: 'tool-input-start'; toolCallId: string; toolName: string }
  | { type: 'tool-input-delta'; toolCallId: string; delta: string }
  | { type: 'tool-call'; toolCallId: string; toolName: string; input: unknown; providerExecuted?: boolean }
  | { type: 'finish'; finishReason: LanguageModelV3FinishReason['unified']; usage: LanguageModelV3Usage | undefined };

/** Options of `streamModelStep`. */
export type ModelStepOptions = {
  model: LanguageModelV3;
  /** Provider name carried by errors. */
  provider: string;
  /** Everything of the call but the abort signal (prompt, settings, providerOptions). */
  call: Omit<LanguageModelV3CallOptions, 'abortSignal'>;
  /** Aborting it ends the step with `CANCELLED` and closes its request. */
  signal: AbortSignal;
  clock: Clock;
  /** Idle timeout (see DEFAULT_MODEL_IDLE_TIMEOUT_MS); 0 disables it. @default 0 */
  idleTimeoutMs?: number;
  /**
   * The model always names why it stopped (the built-in HTTP providers do), so a finish without a reason is a
   * body that ended early and is retried as `CONNECTION`. Off for models an embedder brings. @default false
   */
  strictFinish?: boolean;
};

/** The first `signature` a provider put in a part's metadata (Anthropic signs its thinking blocks). */
function signatureOf(part: { providerMetadata?: Record<string, Record<string, unknown>> }): string | undefined {
  for (const meta of Object.values(part.providerMetadata ?? {})) {
    const sig = meta?.signature;
    if (typeof sig === 'string' && sig !== '') return sig;
  }
  return undefined;
}

function parseInput(input: string): unknown {
  if (input.trim() === '') return {};
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

/** Streams one step. See the module comment for the errors it throws. */
export async function* streamModelStep(options: ModelStepOptions): AsyncGenerator<ModelStepEvent> {
  const { model, provider, signal, clock } = options;
  const idleTimeoutMs = options.idleTimeoutMs ?? 0;
  const cancelled = (cause?: unknown) => new ModelProviderError('CANCELLED', 'the model call was cancelled', { provider, cause: cause ?? signal.reason });
  if (signal.aborted) throw cancelled();

  // Our own controller: aborted by the caller's signal, by the idle timer, or by our cleanup.
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  let idle: Timer | undefined;
  // A model that ignores its abort signal must still never hang the run. Waiting for the response: the abort
  // rejects that wait. Waiting for a stream part: the abort cancels our reader, which settles its pending read at once
  // (done), and the loop sees the abort. (Each read used to race an abort promise in an async function: three more
  // promises per part, and a reaction left on that never-settling promise per part until the step ended.)
  let reader: ReadableStreamDefaultReader<LanguageModelV3StreamPart> | undefined;
  let rejectWait: ((err: unknown) => void) | undefined;
  controller.signal.addEventListener(
    'abort',
    () => {
      idle?.cancel();
      rejectWait?.(controller.signal.reason);
      if (reader) void reader.cancel(controller.signal.reason).catch(() => {});
    },
    { once: true },
  );

  // The idle timer is armed once and left running across chunks: each wait only records when it began, and the
  // timer, when it fires, checks whether the current wait is really idleTimeoutMs old (and re-arms for the rest if
  // not). Re-arming it per chunk cost a timer-list removal and insertion per streamed part.
  /** When the current wait for the provider began; undefined while the consumer holds an event (that time does not count). */
  let waitingSinceMs: number | undefined;
  const onIdle = () => {
    idle = undefined;
    if (waitingSinceMs === undefined) return; // the next wait arms it again
    const waitedMs = clock.nowMs() - waitingSinceMs;
    if (waitedMs < idleTimeoutMs) {
      idle = clock.setTimeout(onIdle, idleTimeoutMs - waitedMs, MODEL_IDLE_TIMER_TAG);
      return;
    }
    timedOut = true;
    controller.abort(new Error(`no data from the model for ${idleTimeoutMs} ms`));
  };
  /** A wait for the provider begins: arms the idle timer unless it is running. */
  const startWait = () => {
    if (!(idleTimeoutMs > 0)) return;
    waitingSinceMs = clock.nowMs();
    idle ??= clock.setTimeout(onIdle, idleTimeoutMs, MODEL_IDLE_TIMER_TAG);
  };
  /** The wait ended: the timer stays armed, and finds no wait if it fires before the next one. */
  const endWait = () => {
    waitingSinceMs = undefined;
  };

  /** The one wait for the response (`doStream`), rejected by the abort even if the model ignores it. */
  const waitForResponse = <T>(work: PromiseLike<T>): Promise<T> => {
    if (controller.signal.aborted) return Promise.reject(controller.signal.reason);
    startWait();
    return new Promise<T>((resolve, reject) => {
      rejectWait = reject;
      work.then(resolve, reject);
    }).finally(() => {
      rejectWait = undefined;
      endWait();
    });
  };

  // What a failure is thrown as. An error nothing recognises is thrown as it is: the run loop reports it as an
  // internal fault (fixed text to clients, the error to the log) rather than as a provider's answer.
  const failure = (err: unknown): unknown => {
    if (signal.aborted) return cancelled(err);
    if (timedOut) return new ModelProviderError('TIMEOUT', `the model sent nothing for ${idleTimeoutMs} ms`, { provider, cause: err });
    const classified = classifyModelError(err, provider, clock.nowMs());
    return classified.code === 'UNKNOWN' && classified !== err ? err : classified;
  };

  try {
    let result;
    try {
      result = await waitForResponse(model.doStream({ ...options.call, abortSignal: controller.signal }));
    } catch (err) {
      throw failure(err);
    }
    reader = result.stream.getReader();
    // Aborted while the response was on its way (the listener found no reader to cancel).
    if (controller.signal.aborted) throw failure(controller.signal.reason);
    let finish: Extract<LanguageModelV3StreamPart, { type: 'finish' }> | undefined;
    while (!finish) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      startWait();
      try {
        chunk = await reader.read();
      } catch (err) {
        throw failure(err);
      } finally {
        endWait();
      }
      // A read the abort settled (it cancelled the reader): the step ends as the abort says, not as a short stream.
      if (controller.signal.aborted) throw failure(controller.signal.reason);
      if (chunk.done) break;
      const part = chunk.value;
      switch (part.type) {
        case 'text-delta':
          if (part.delta !== '') yield { type: 'text-delta', text: part.delta };
          break;
        case 'reasoning-delta': {
          const signature = signatureOf(part);
          if (part.delta !== '' || signature !== undefined) yield signature === undefined ? { type: 'reasoning-delta', text: part.delta } : { type: 'reasoning-delta', text: part.delta, signature };
          break;
        }
        case 'source':
          if (part.sourceType === 'url') yield part.title === undefined ? { type: 'source', sourceId: part.id, url: part.url } : { type: 'source', sourceId: part.id, url: part.url, title: part.title };
          break;
        case 'tool-input-start':
          yield { type: 'tool-input-start', toolCallId: part.id, toolName: part.toolName };
          break;
        case 'tool-input-delta':
          if (part.delta !== '') yield { type: 'tool-input-delta', toolCallId: part.id, delta: part.delta };
          break;
        case 'tool-call':
          yield {
            type: 'tool-call',
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            input: parseInput(part.input),
            ...(part.providerExecuted ? { providerExecuted: true } : {}),
          };
          break;
        case 'error':
          // The first error part ends the step: the providers would go on reading a broken stream.
          throw failure(part.error);
        case 'finish':
          finish = part;
          break;
        default:
          break; // stream-start, text/reasoning start and end, metadata, raw, files and results: nothing to keep
      }
      if (signal.aborted) throw cancelled();
    }
    const reason = finish?.finishReason;
    if (!finish || (options.strictFinish && reason?.unified === 'other' && reason.raw === undefined)) {
      throw new ModelProviderError('CONNECTION', STREAM_ENDED_EARLY_MESSAGE, { provider, ...(finish?.usage ? { usage: finish.usage } : {}) });
    }
    // A refused finish still carries what the provider billed (contract.md#cost).
    const billed = finish.usage ? { usage: finish.usage } : {};
    if (reason?.unified === 'content-filter') throw new ModelProviderError('CONTENT_FILTER', 'the model provider filtered the reply', { provider, ...billed });
    if (reason?.unified === 'error') throw new ModelProviderError('UNKNOWN', 'the model provider reported an error', { provider, ...billed });
    yield { type: 'finish', finishReason: finish.finishReason.unified, usage: finish.usage };
  } finally {
    idle?.cancel();
    signal.removeEventListener('abort', onAbort);
    // Whatever ended the step (error, cancel, a consumer that stopped iterating), the request is closed.
    if (reader) void reader.cancel().catch(() => {});
    controller.abort(new Error('model step finished'));
  }
}
