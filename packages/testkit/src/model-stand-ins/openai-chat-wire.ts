// OpenAI chat completions streaming (`POST /v1/chat/completions`, `stream: true`): `chat.completion.chunk`
// SSE events with `delta.content` / `delta.reasoning_content`, a finish chunk, a usage chunk
// (`stream_options.include_usage`), then `data: [DONE]`.
import { sseEvent, type StandInWire } from './stand-in-wire.js';

const FINISH = { stop: 'stop', length: 'length', content_filter: 'content_filter' } as const;

/** The chat completions wire. */
export const openAiChatWire: StandInWire = {
  encoder(model) {
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      sseEvent({ id: 'chatcmpl-standin', object: 'chat.completion.chunk', created: 1_767_225_600, model, choices, ...extra });
    const delta = (d: Record<string, unknown>, finish: string | null = null) => chunk([{ index: 0, delta: d, finish_reason: finish }]);
    return {
      start: () => delta({ role: 'assistant', content: '' }),
      step: (s) => ('text' in s ? delta({ content: s.text }) : delta({ reasoning_content: s.reasoning })),
      finish: (reason, usage) =>
        delta({}, FINISH[reason]) +
        (usage
          ? chunk([], {
              usage: {
                prompt_tokens: usage.inputTokens,
                completion_tokens: usage.outputTokens,
                total_tokens: usage.inputTokens + usage.outputTokens,
                prompt_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
                completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
              },
            })
          : '') +
        sseEvent('[DONE]'),
      malformed: () => 'data: {"choices": [oops\n\n',
    };
  },
  errorBody: (status) => ({ error: { message: `stand-in answered ${status}`, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null, param: null } }),
};
