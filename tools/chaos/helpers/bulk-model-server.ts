// A stand-in OpenAI-compatible endpoint that streams one long reply as fast as it can: `chunks` text
// deltas of `chunkBytes` each, then `finish_reason: stop` and `[DONE]`. The slow-client scenario points a
// model configuration at it so a reply is large enough to fill a paused socket's buffers. Nothing else.
import http from 'node:http';
import { listenModelServer, type LocalModelServer } from './local-model-server.js';

/** The running server. */
export type BulkModelServer = LocalModelServer;

/** The text the server streams, for comparison. */
export function bulkText(chunks: number, chunkBytes: number): string {
  return Array.from({ length: chunks }, (_, i) => `${String(i).padStart(6, '0')} `.padEnd(chunkBytes, 'x')).join('');
}

/** Starts the server on 127.0.0.1:0. */
export async function startBulkModelServer(chunks: number, chunkBytes: number): Promise<BulkModelServer> {
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.requests++;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
        `data: ${JSON.stringify({ id: 'bulk', object: 'chat.completion.chunk', created: 1, model: 'bulk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      let i = 0;
      const pump = () => {
        while (i < chunks) {
          const piece = `${String(i).padStart(6, '0')} `.padEnd(chunkBytes, 'x');
          i++;
          if (!res.write(chunk({ content: piece }))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end(`${chunk({}, 'stop')}data: [DONE]\n\n`);
      };
      pump();
    });
  });
  return listenModelServer(server, () => state.requests);
}
