// The benches' models as AI SDK `LanguageModelV3`s: `run({ prompt, signal })` yields the reply's text deltas
// (prompt = the text of the last user message); each becomes a `text-delta` part, read lazily so the model
// keeps its own pace, and a `finish` with usage follows. Only `doStream` is used by chatd.

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
      const it = run({ prompt, signal })[Symbol.asyncIterator]();
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
