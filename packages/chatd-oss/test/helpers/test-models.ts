// Small AI SDK `LanguageModelV3`s for tests: a model whose stream parts come from an async generator (read
// lazily, so a test controls the pace), and builders of the parts tests use most.
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3StreamPart, LanguageModelV3Usage } from '@ai-sdk/provider';

/** A model whose `doStream` streams what `run` yields (a throw from `run` errors the stream). */
export function createTestModel(
  name: string,
  run: (call: LanguageModelV3CallOptions) => AsyncIterable<LanguageModelV3StreamPart>,
): LanguageModelV3 & { calls: LanguageModelV3CallOptions[] } {
  const calls: LanguageModelV3CallOptions[] = [];
  return {
    specificationVersion: 'v3',
    provider: name,
    modelId: name,
    supportedUrls: {},
    calls,
    async doStream(call) {
      calls.push(call);
      const it = run(call)[Symbol.asyncIterator]();
      const stream = new ReadableStream<LanguageModelV3StreamPart>(
        {
          async pull(controller) {
            try {
              const r = await it.next();
              if (r.done) controller.close();
              else controller.enqueue(r.value);
            } catch (err) {
              controller.error(err);
            }
          },
          async cancel() {
            await it.return?.();
          },
        },
        { highWaterMark: 0 },
      );
      return { stream };
    },
    async doGenerate() {
      throw new Error('doGenerate is not used by chatd');
    },
  };
}

/** A text delta part. */
export const textDelta = (delta: string): LanguageModelV3StreamPart => ({ type: 'text-delta', id: 'text-1', delta });

/** Usage of `input` and `output` tokens. */
export function usage(input: number, output: number, reasoning?: number): LanguageModelV3Usage {
  return {
    inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: output, text: output - (reasoning ?? 0), reasoning },
  };
}

/** A finish part. */
export function finishPart(reason: 'stop' | 'length' | 'content-filter' = 'stop', u: LanguageModelV3Usage = usage(0, 0)): LanguageModelV3StreamPart {
  return { type: 'finish', finishReason: { unified: reason, raw: reason }, usage: u };
}

/** The text of the last user message of a call's prompt. */
export function lastUserText(call: LanguageModelV3CallOptions): string {
  for (let i = call.prompt.length - 1; i >= 0; i--) {
    const m = call.prompt[i];
    if (m?.role === 'user') return m.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
  }
  return '';
}

/** A `models` option of startChatdServer that answers every configuration with `model`. */
export const fixedModels = (model: LanguageModelV3) => ({ resolve: () => model });
