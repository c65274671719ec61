// OpenAI Responses streaming (`POST /v1/responses`, `stream: true`): typed SSE events. Reasoning arrives as
// a `reasoning` output item with summary text deltas, text as a `message` item with `output_text` deltas, a
// function call as a `function_call` item (`response.output_item.added`, `response.function_call_arguments.delta`
// and `.done`, `response.output_item.done`), and `response.completed` (or `response.incomplete`) carries the
// usage. Tools offered in the request are `tools: [{type: 'function', name, description, parameters}]`.
import { sseEvent, toolInputChunks, toolInputText, type StandInTool, type StandInWire } from './stand-in-wire.js';

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null;

/** The Responses wire. */
export const openAiResponsesWire: StandInWire = {
  encoder(model) {
    let seq = 0;
    let outputIndex = -1;
    let current: { kind: 'reasoning' | 'message'; id: string } | undefined;
    const ev = (data: Record<string, unknown>) => sseEvent({ ...data, sequence_number: seq++ }, data.type as string);
    const open = (kind: 'reasoning' | 'message'): string => {
      if (current?.kind === kind) return '';
      outputIndex++;
      const id = `${kind === 'reasoning' ? 'rs' : 'msg'}_${outputIndex}`;
      current = { kind, id };
      if (kind === 'reasoning') {
        return (
          ev({ type: 'response.output_item.added', output_index: outputIndex, item: { type: 'reasoning', id, encrypted_content: null, summary: [] } }) +
          ev({ type: 'response.reasoning_summary_part.added', item_id: id, output_index: outputIndex, summary_index: 0, part: { type: 'summary_text', text: '' } })
        );
      }
      return (
        ev({ type: 'response.output_item.added', output_index: outputIndex, item: { type: 'message', id, role: 'assistant', status: 'in_progress', content: [] } }) +
        ev({ type: 'response.content_part.added', item_id: id, output_index: outputIndex, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } })
      );
    };
    /** A function call is a whole output item of its own: it closes whatever item was open. */
    const functionCall = (call: Parameters<typeof toolInputChunks>[0]): string => {
      outputIndex++;
      current = undefined;
      const id = `fc_${outputIndex}`;
      const base = { type: 'function_call', id, call_id: call.id, name: call.name };
      const args = toolInputText(call);
      return (
        ev({ type: 'response.output_item.added', output_index: outputIndex, item: { ...base, arguments: '', status: 'in_progress' } }) +
        toolInputChunks(call)
          .map((delta) => ev({ type: 'response.function_call_arguments.delta', item_id: id, output_index: outputIndex, delta }))
          .join('') +
        ev({ type: 'response.function_call_arguments.done', item_id: id, output_index: outputIndex, arguments: args }) +
        ev({ type: 'response.output_item.done', output_index: outputIndex, item: { ...base, arguments: args, status: 'completed' } })
      );
    };
    return {
      start: () => ev({ type: 'response.created', response: { id: 'resp_standin', object: 'response', created_at: 1_767_225_600, model, status: 'in_progress', output: [] } }),
      step: (s) => {
        if ('toolCall' in s) return functionCall(s.toolCall);
        if ('text' in s) {
          return open('message') + ev({ type: 'response.output_text.delta', item_id: current!.id, output_index: outputIndex, content_index: 0, delta: s.text, logprobs: [] });
        }
        return open('reasoning') + ev({ type: 'response.reasoning_summary_text.delta', item_id: current!.id, output_index: outputIndex, summary_index: 0, delta: s.reasoning });
      },
      finish: (reason, usage) => {
        const incomplete = reason === 'length' ? { reason: 'max_output_tokens' } : reason === 'content_filter' ? { reason: 'content_filter' } : null;
        return ev({
          type: incomplete ? 'response.incomplete' : 'response.completed',
          response: {
            id: 'resp_standin',
            object: 'response',
            created_at: 1_767_225_600,
            model,
            status: incomplete ? 'incomplete' : 'completed',
            incomplete_details: incomplete,
            usage: usage
              ? {
                  input_tokens: usage.inputTokens,
                  input_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
                  output_tokens: usage.outputTokens,
                  output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
                  total_tokens: usage.inputTokens + usage.outputTokens,
                }
              : null,
          },
        });
      },
      malformed: () => 'event: response.output_text.delta\ndata: {"type": oops\n\n',
    };
  },
  requestTools: (body) =>
    (isObj(body) && Array.isArray(body.tools) ? body.tools : []).flatMap((t: unknown): StandInTool[] =>
      isObj(t) && t.type === 'function'
        ? [{ name: String(t.name), ...(t.description === undefined ? {} : { description: String(t.description) }), inputSchema: t.parameters }]
        : [],
    ),
  errorBody: (status) => ({ error: { message: `stand-in answered ${status}`, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null, param: null } }),
};
