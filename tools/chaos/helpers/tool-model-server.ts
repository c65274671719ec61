// A stand-in OpenAI-compatible (chat completions) endpoint that drives a two-step agent turn, for the agent-steps
// scenario: with no tool result in the prompt it calls `fast_tool`; with one result it calls `slow_idem` and
// `slow_once` in one step; with three it streams a short text reply naming the results it was given. Tool-call ids
// are fresh per request, so every call is unique in the chat. It answers by the prompt alone, so any replica (the
// one that dies and the one that takes over) gets the same script.
import http from 'node:http';
import { listenModelServer, type LocalModelServer } from './local-model-server.js';

/** The running server. */
export type ToolModelServer = LocalModelServer;

type Message = { role: string; content?: unknown; tool_call_id?: string };

/** The reply's words, streamed one per chunk. */
export const FINAL_REPLY_WORDS = 24;

/** Starts the server on 127.0.0.1:0. */
export async function startToolModelServer(): Promise<ToolModelServer> {
  const state = { requests: 0 };
  let next = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      state.requests++;
      const messages = ((JSON.parse(body) as { messages?: Message[] }).messages ?? []) as Message[];
      const results = messages.filter((m) => m.role === 'tool').length;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
        `data: ${JSON.stringify({ id: `tm-${state.requests}`, object: 'chat.completion.chunk', created: 1, model: 'tools', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      const usage = `data: ${JSON.stringify({ id: 'tm', object: 'chat.completion.chunk', created: 1, model: 'tools', choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`;
      const call = (index: number, name: string) => {
        const id = `call_${name}_${++next}`;
        // The input in two chunks, as models stream it.
        return (
          chunk({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] }) +
          chunk({ tool_calls: [{ index, function: { arguments: '{"note":' } }] }) +
          chunk({ tool_calls: [{ index, function: { arguments: `"${name}"}` } }] })
        );
      };
      if (results === 0) {
        res.end(`${call(0, 'fast_tool')}${chunk({}, 'tool_calls')}${usage}data: [DONE]\n\n`);
        return;
      }
      if (results === 1) {
        res.end(`${call(0, 'slow_idem')}${call(1, 'slow_once')}${chunk({}, 'tool_calls')}${usage}data: [DONE]\n\n`);
        return;
      }
      // The final reply, paced so followers see it stream.
      const words = Array.from({ length: FINAL_REPLY_WORDS }, (_, i) => `word${i} `);
      let i = 0;
      const timer = setInterval(() => {
        if (i < words.length) {
          res.write(chunk({ content: words[i++] }));
          return;
        }
        clearInterval(timer);
        res.end(`${chunk({}, 'stop')}${usage}data: [DONE]\n\n`);
      }, 25);
      res.on('close', () => clearInterval(timer));
    });
  });
  return listenModelServer(server, () => state.requests);
}
