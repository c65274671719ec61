// OpenAI chat completions streaming (`POST /v1/chat/completions`, `stream: true`): `chat.completion.chunk`
// SSE events with `delta.content` / `delta.reasoning_content`, function calls as `delta.tool_calls` (the first
// chunk of a call carries its index, id, type and name, the next ones pieces of `function.arguments`), a finish
// chunk, a usage chunk (`stream_options.include_usage`), then `data: [DONE]`. Tools offered in the request are
// `tools: [{type: 'function', function: {name, description, parameters}}]`.
import { sseEvent, toolInputChunks, type StandInTool, type StandInWire } from './stand-in-wire.js';

const FINISH = { stop: 'stop', length: 'length', content_filter: 'content_filter', tool_calls: 'tool_calls' } as const;

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null;

/** The chat completions wire. */
export const openAiChatWire: StandInWire = {
  encoder(model) {
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      sseEvent({ id: 'chatcmpl-standin', object: 'chat.completion.chunk', created: 1_767_225_600, model, choices, ...extra });
    const delta = (d: Record<string, unknown>, finish: string | null = null) => chunk([{ index: 0, delta: d, finish_reason: finish }]);
    let toolIndex = 0;
    return {
      start: () => delta({ role: 'assistant', content: '' }),
      step: (s) => {
        if ('text' in s) return delta({ content: s.text });
        if ('reasoning' in s) return delta({ reasoning_content: s.reasoning });
        const index = toolIndex++;
        const { id, name } = s.toolCall;
        return (
          delta({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] }) +
          toolInputChunks(s.toolCall)
            .map((piece) => delta({ tool_calls: [{ index, function: { arguments: piece } }] }))
            .join('')
        );
      },
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
  requestTools: (body) =>
    (isObj(body) && Array.isArray(body.tools) ? body.tools : []).flatMap((t: unknown): StandInTool[] =>
      isObj(t) && t.type === 'function' && isObj(t.function)
        ? [{ name: String(t.function.name), ...(t.function.description === undefined ? {} : { description: String(t.function.description) }), inputSchema: t.function.parameters }]
        : [],
    ),
  errorBody: (status) => ({ error: { message: `stand-in answered ${status}`, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null, param: null } }),
};
