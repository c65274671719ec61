// The browser client: REST calls and stream sockets of the page's own origin, authenticated by the same-origin
// session cookie (`coder_session_token`, which the console's sign-in sets); a browser socket cannot carry a
// header. `streamQuery` is the seam for socket tickets; `token`, when given, goes in the REST calls' header only.
import { SESSION_TOKEN_HEADER } from '@chatd/protocol';
import { createBaseChatClient, type ChatClient, type CommonChatClientOptions } from './base-chat-client.js';
import { createStandardSocketFactory, type StandardWebSocketClass } from './browser-stream-socket.js';

/** Options of `createChatClient` (browsers). */
export type BrowserChatClientOptions = CommonChatClientOptions & {
  /** Server URL. @default the page's origin (`location.origin`) */
  baseUrl?: string;
  /** API token for REST calls (`Coder-Session-Token`); sockets never carry it. @default none: the session cookie */
  token?: string;
  /** @default the global WebSocket */
  WebSocket?: StandardWebSocketClass;
};

/** Creates a client of the page's server (or `options.baseUrl`). */
export function createChatClient(options: BrowserChatClientOptions = {}): ChatClient {
  const baseUrl = options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin;
  if (!baseUrl) throw new TypeError('baseUrl is required outside a page');
  const { token, WebSocket: WebSocketImpl, baseUrl: _baseUrl, ...common } = options;
  return createBaseChatClient({
    ...common,
    baseUrl,
    headers: token ? { [SESSION_TOKEN_HEADER]: token } : {},
    socket: createStandardSocketFactory(WebSocketImpl),
  });
}
