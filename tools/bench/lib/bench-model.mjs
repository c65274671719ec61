// The benches' models as AI SDK `LanguageModelV3`s: `run({ prompt, signal })` yields the reply's text deltas
// (prompt = the text of the last user message); each becomes a `text-delta` part, read lazily so the model
// keeps its own pace, and a `finish` with usage follows. Only `doStream` is used by chatd.
//
// chatd's own task requests (the title after a chat's first reply, a compaction summary) are answered with one short
// text delta: their user message is the chat's first message (the load spec), so without this every chat would
// replay its whole load once more in the worker after its reply, which the peers never do.
import { COMPACTION_SYSTEM_PROMPT, TITLE_SYSTEM_PROMPT } from '@chatd/oss';

const TASK_ANSWERS = new Map([
  [TITLE_SYSTEM_PROMPT, 'Bench chat'],
  [COMPACTION_SYSTEM_PROMPT, 'Bench summary'],
]);

/** The short answer of a task request (by its system prompt), or undefined for a chat turn. */
function taskAnswer(prompt) {
  for (const m of prompt) if (m.role === 'system' && TASK_ANSWERS.has(m.content)) return TASK_ANSWERS.get(m.content);
  return undefined;
}

/** Wraps a text generator as a language model. */
export function benchLanguageModel(name, run) {
  return {
    specificationVersion: 'v3',
    provider: name,
    modelId: name,
    supportedUrls: {},
    async doGenerate() {
      throw new Error('doGenerate is not used by chatd');
    },
    async doStream(call) {
      const last = [...call.prompt].reverse().find((m) => m.role === 'user');
      const prompt = (last?.content ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');
      const signal = call.abortSignal ?? new AbortController().signal;
      const task = taskAnswer(call.prompt);
      const it = (task === undefined ? run({ prompt, signal }) : (async function* () { yield task; })())[Symbol.asyncIterator]();
      let count = 0;
      let done = false;
      const stream = new ReadableStream(
        {
          async pull(controller) {
            if (done) return;
            try {
              const r = await it.next();
              if (!r.done) {
                count++;
                controller.enqueue({ type: 'text-delta', id: 'bench', delta: r.value });
                return;
              }
              done = true;
              controller.enqueue({
                type: 'finish',
                finishReason: { unified: 'stop', raw: 'stop' },
                usage: { inputTokens: { total: 1, noCache: 1 }, outputTokens: { total: count, text: count } },
              });
              controller.close();
            } catch (err) {
              controller.error(err);
            }
          },
          cancel: () => it.return?.(),
        },
        { highWaterMark: 0 },
      );
      return { stream };
    },
  };
}
