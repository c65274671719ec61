// A scriptable stand-in for a model provider's HTTP API: a real node:http server on 127.0.0.1 port 0 that
// answers each request with the next scripted reply, encoded in one real wire format (OpenAI chat completions
// SSE, OpenAI Responses SSE, Anthropic messages SSE), text, reasoning and function calls alike. It records every
// request's body, the function tools it offered, and whether the client closed it before the answer ended. It models no provider logic beyond what a script says; no network.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicMessagesWire } from './anthropic-messages-wire.js';
import { openAiChatWire } from './openai-chat-wire.js';
import { openAiResponsesWire } from './openai-responses-wire.js';
import type { StandInReply, StandInTool, StandInWire, StandInWireName, StandInWireStep } from './stand-in-wire.js';

/** A request the stand-in received. */
export type StandInRequest = {
  method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body (the raw text when it is not JSON). */
  body: any;
  /** The function tools the body offered, read from the wire's own shape ([] when none). */
  tools: StandInTool[];
  /** True once the client closed the connection before the stand-in ended its answer (a cancel). */
  readonly closedByClient: boolean;
  /** Resolves when the request's connection has closed, whoever closed it. */
  closed: Promise<void>;
};

/** Options of `startModelStandIn`. */
export type ModelStandInOptions = {
  wire: StandInWireName;
  /** Answer used when the script is empty. @default a short text reply */
  defaultReply?: StandInReply;
};

/** A running stand-in. */
export type ModelStandIn = {
  /** API root for the provider's `baseURL` (ends in `/v1`). */
  readonly baseUrl: string;
  readonly port: number;
  readonly wire: StandInWireName;
  /** Every request received, in order. */
  readonly requests: StandInRequest[];
  /** Queues replies; each request takes the next one (then `defaultReply`). */
  script(...replies: StandInReply[]): void;
  /** Resolves with request `index` (0-based) once it has arrived and its body was read. */
  waitForRequest(index: number): Promise<StandInRequest>;
  /** Destroys every open connection and stops listening. */
  close(): Promise<void>;
};

const DEFAULT_REPLY: StandInReply = { steps: [{ text: 'Hello from the stand-in.' }], usage: { inputTokens: 3, outputTokens: 5 } };

const WIRES: Record<StandInWireName, StandInWire> = {
  'openai-chat': openAiChatWire,
  'openai-responses': openAiResponsesWire,
  'anthropic-messages': anthropicMessagesWire,
};

/** Starts a stand-in speaking `options.wire`. */
export async function startModelStandIn(options: ModelStandInOptions): Promise<ModelStandIn> {
  const wire = WIRES[options.wire];
  const queue: StandInReply[] = [];
  const requests: StandInRequest[] = [];
  const waiters = new Map<number, Array<(r: StandInRequest) => void>>();
  const sockets = new Set<import('node:net').Socket>();
  // Sockets the stand-in itself cut (a scripted `cut`), so their closing is not taken for a cancel.
  const serverCut = new WeakSet<import('node:net').Socket>();
  let closing = false;

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, rec: StandInRequest & { closedByClient: boolean }) {
    const reply = queue.shift() ?? options.defaultReply ?? DEFAULT_REPLY;
    const status = reply.status ?? 200;
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body ?? wire.errorBody(status)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...reply.headers });
    res.flushHeaders();
    const enc = wire.encoder(typeof rec.body?.model === 'string' ? rec.body.model : 'stand-in');
    const write = (s: string) => {
      if (s !== '' && !res.destroyed) res.write(s);
    };
    write(enc.start());
    for (const step of reply.steps ?? []) {
      if ('hold' in step) {
        await step.hold;
        if (res.destroyed) return;
        continue;
      }
      write(enc.step(step as StandInWireStep));
    }
    const end = reply.end ?? 'finish';
    if (end === 'hang') return; // left open until the client (or close()) ends it
    if (end === 'cut') {
      // Let what was written reach the client first, then drop the connection without ending the body.
      serverCut.add(req.socket);
      setImmediate(() => req.socket.destroy());
      return;
    }
    if (end === 'malformed') {
      write(enc.malformed());
      return; // the client is expected to give up and close
    }
    if (end === 'eof') {
      res.end();
      return;
    }
    const calledTools = (reply.steps ?? []).some((s) => 'toolCall' in s);
    res.end(enc.finish(reply.finishReason ?? (calledTools ? 'tool_calls' : 'stop'), reply.usage));
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let ended = false;
    const rec = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: undefined as unknown,
      tools: [] as StandInTool[],
      closedByClient: false,
      closed: new Promise<void>((resolve) => res.once('close', () => resolve())),
    };
    res.once('finish', () => (ended = true));
    res.once('close', () => {
      if (!ended && !serverCut.has(req.socket) && !closing) rec.closedByClient = true;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        rec.body = JSON.parse(text);
      } catch {
        rec.body = text;
      }
      rec.tools = wire.requestTools(rec.body);
      const index = requests.push(rec) - 1;
      for (const w of waiters.get(index) ?? []) w(rec);
      waiters.delete(index);
      void answer(req, res, rec).catch(() => req.socket.destroy());
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    wire: options.wire,
    requests,
    script(...replies) {
      queue.push(...replies);
    },
    waitForRequest(index) {
      const have = requests[index];
      if (have) return Promise.resolve(have);
      return new Promise((resolve) => {
        const list = waiters.get(index) ?? [];
        list.push(resolve);
        waiters.set(index, list);
      });
    },
    async close() {
      closing = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
