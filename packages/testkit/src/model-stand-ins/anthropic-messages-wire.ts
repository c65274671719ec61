// Anthropic messages streaming (`POST /v1/messages`, `stream: true`): `message_start` with the input usage,
// one content block per run of reasoning (`thinking`, closed by a `signature_delta`) or text, and one
// `tool_use` block per function call (its input as `input_json_delta` pieces), then `message_delta` with the
// stop reason and output usage, and `message_stop`. Tools offered in the request are
// `tools: [{name, description, input_schema}]`.
import { sseEvent, toolInputChunks, type StandInTool, type StandInWire } from './stand-in-wire.js';

const STOP = { stop: 'end_turn', length: 'max_tokens', content_filter: 'refusal', tool_calls: 'tool_use' } as const;

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null;
const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

/** Signature the stand-in closes every thinking block with. */
export const STAND_IN_THINKING_SIGNATURE = 'stand-in-signature';

/** The Anthropic messages wire. */
export const anthropicMessagesWire: StandInWire = {
  encoder(model) {
    let index = -1;
    let current: 'thinking' | 'text' | 'tool_use' | undefined;
    const ev = (data: Record<string, unknown>) => sseEvent(data, data.type as string);
    const close = (): string => {
      if (current === undefined) return '';
      const sig = current === 'thinking' ? ev({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: STAND_IN_THINKING_SIGNATURE } }) : '';
      current = undefined;
      return sig + ev({ type: 'content_block_stop', index });
    };
    const open = (kind: 'thinking' | 'text'): string => {
      if (current === kind) return '';
      const closed = close();
      index++;
      current = kind;
      const block = kind === 'thinking' ? { type: 'thinking', thinking: '', signature: '' } : { type: 'text', text: '' };
      return closed + ev({ type: 'content_block_start', index, content_block: block });
    };
    return {
      // Input usage is reported again on message_delta, which the client prefers; 0 here keeps the script simple.
      start: () =>
        ev({
          type: 'message_start',
          message: { id: 'msg_standin', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 1 } },
        }),
      step: (s) => {
        if ('toolCall' in s) {
          const closed = close();
          index++;
          current = 'tool_use';
          const { id, name } = s.toolCall;
          return (
            closed +
            ev({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } }) +
            toolInputChunks(s.toolCall)
              .map((partial_json) => ev({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } }))
              .join('') +
            close()
          );
        }
        if ('text' in s) return open('text') + ev({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: s.text } });
        return open('thinking') + ev({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: s.reasoning } });
      },
      finish: (reason, usage) => {
        return (
          close() +
          ev({
            type: 'message_delta',
            delta: { stop_reason: STOP[reason], stop_sequence: null },
            usage: {
              input_tokens: usage?.inputTokens ?? 0,
              output_tokens: usage?.outputTokens ?? 0,
              ...(usage?.cachedInputTokens !== undefined ? { cache_read_input_tokens: usage.cachedInputTokens } : {}),
            },
          }) +
          ev({ type: 'message_stop' })
        );
      },
      malformed: () => 'event: content_block_delta\ndata: {"type": oops\n\n',
    };
  },
  requestTools: (body) =>
    (isObj(body) && Array.isArray(body.tools) ? body.tools : []).flatMap((t: unknown): StandInTool[] =>
      isObj(t) && typeof t.name === 'string' && 'input_schema' in t
        ? [{ name: t.name, ...(t.description === undefined ? {} : { description: String(t.description) }), inputSchema: t.input_schema }]
        : [],
    ),
  errorBody: (status) => ({ type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message: `stand-in answered ${status}` } }),
};
