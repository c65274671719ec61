// One text request of chatd's own (a compaction summary, a title): a system prompt and one user message sent to a
// resolved model through `streamModelStep`, its text deltas joined. No tools, no retries, nothing streamed to
// clients: a failure is thrown (classified like any model error) and the caller falls back.
import type { Clock } from '@chatd/clock';
import type { ChatMessageUsage } from '@chatd/protocol';
import type { TaskCallReport } from '../cost/model-call-charger.js';
import { ModelProviderError } from '../model/model-error.js';
import { toChatMessageUsage } from '../model/model-usage.js';
import { streamModelStep } from '../model/stream-model-step.js';
import type { ResolvedModel } from './chat-run.js';

/** The answer of a task request and the input tokens the provider reported for it. */
export type TaskText = { text: string; inputTokens: number | undefined };

/** Sends `system` + `user` to `resolved` and returns the text of the answer. Throws like `streamModelStep`. */
export async function generateTaskText(
  resolved: ResolvedModel,
  system: string,
  user: string,
  options: { clock: Clock; signal: AbortSignal; /** Told the call's usage once it ended, also after a failure that reported some (to charge it). */ onCall?: TaskCallReport },
): Promise<TaskText> {
  const startMs = options.clock.nowMs();
  let usage: ChatMessageUsage | undefined;
  try {
    return await taskText(resolved, system, user, options, (u) => (usage = u));
  } catch (err) {
    usage ??= err instanceof ModelProviderError ? toChatMessageUsage(err.usage) : undefined;
    throw err;
  } finally {
    if (usage && options.onCall) await options.onCall(usage, options.clock.nowMs() - startMs);
  }
}

async function taskText(resolved: ResolvedModel, system: string, user: string, options: { clock: Clock; signal: AbortSignal }, onUsage: (usage: ChatMessageUsage | undefined) => void): Promise<TaskText> {
  let text = '';
  let inputTokens: number | undefined;
  const { callOptions = {} } = resolved;
  const step = streamModelStep({
    model: resolved.model,
    provider: resolved.provider,
    call: {
      prompt: [
        { role: 'system', content: system },
        { role: 'user', content: [{ type: 'text', text: user }] },
      ],
      ...(callOptions.temperature === undefined ? {} : { temperature: callOptions.temperature }),
      ...(resolved.providerOptions ? { providerOptions: resolved.providerOptions as never } : {}),
    },
    signal: options.signal,
    clock: options.clock,
    ...(resolved.strictFinish ? { strictFinish: true } : {}),
    ...(resolved.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: resolved.idleTimeoutMs }),
  });
  for await (const ev of step) {
    if (ev.type === 'text-delta') text += ev.text;
    else if (ev.type === 'finish') {
      inputTokens = ev.usage?.inputTokens.total;
      onUsage(toChatMessageUsage(ev.usage));
    }
  }
  return { text, inputTokens };
}
