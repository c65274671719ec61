// One text request of chatd's own (a compaction summary, a title): a system prompt and one user message sent to a
// resolved model through `streamModelStep`, its text deltas joined. No tools, no retries, nothing streamed to
// clients: a failure is thrown (classified like any model error) and the caller falls back.
import type { Clock } from '@chatd/clock';
import { streamModelStep } from '../model/stream-model-step.js';
import type { ResolvedModel } from './chat-run.js';

/** The answer of a task request and the input tokens the provider reported for it. */
export type TaskText = { text: string; inputTokens: number | undefined };

/** Sends `system` + `user` to `resolved` and returns the text of the answer. Throws like `streamModelStep`. */
export async function generateTaskText(resolved: ResolvedModel, system: string, user: string, options: { clock: Clock; signal: AbortSignal }): Promise<TaskText> {
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
    else if (ev.type === 'finish') inputTokens = ev.usage?.inputTokens.total;
  }
  return { text, inputTokens };
}
