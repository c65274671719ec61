// The Node client: the base client with the session token in the `Coder-Session-Token` header of every REST
// call and stream upgrade, its streams dialled with the `ws` package (Node 20 has no global WebSocket, and the
// standard one can neither send that header nor read a refused upgrade's status, nor pause reading).
import WebSocket from 'ws';
import { SESSION_TOKEN_HEADER } from '@chatd/protocol';
import { createBaseChatClient, type ChatClient, type CommonChatClientOptions } from './base-chat-client.js';
import { createWsSocketFactory, type WebSocketClass } from './ws-stream-socket.js';
import { createSseSocketFactory } from './sse-stream-socket.js';

/** Options of `createChatClient` (Node). */
export type ChatClientOptions = CommonChatClientOptions & {
  /** Server URL, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  baseUrl: string;
  /** API token, sent as `Coder-Session-Token`. */
  token: string;
  /** @default the `ws` package's WebSocket */
  WebSocket?: WebSocketClass;
  /** Streams over WebSockets (`ws`) or Server-Sent Events with fetch (contract.md#sse). @default 'websocket' */
  transport?: 'websocket' | 'sse';
};

/** Creates a client of the server at `options.baseUrl`, as the user of `options.token`. */
export function createChatClient(options: ChatClientOptions): ChatClient {
  const headers = { [SESSION_TOKEN_HEADER]: options.token };
  const { token: _token, WebSocket: WebSocketImpl, transport, ...common } = options;
  const socket =
    transport === 'sse' ? createSseSocketFactory({ headers, ...(common.fetch ? { fetch: common.fetch } : {}) }) : createWsSocketFactory(WebSocketImpl ?? WebSocket, headers);
  return createBaseChatClient({ ...common, headers, socket });
}
