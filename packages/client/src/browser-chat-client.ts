// The browser client: REST calls and stream sockets of the page's own origin, authenticated by the same-origin
// session cookie (`coder_session_token`, which the console's sign-in sets), or, with a `token`, by its header on
// REST calls and a socket ticket per WebSocket (contract.md#tickets: a browser socket cannot carry a header; the
// page may be on another origin, contract.md#cors). `transport: 'sse'` streams over Server-Sent Events with fetch,
// which sends the token header itself.
import { SESSION_TOKEN_HEADER } from '@chatd/protocol';
import { createBaseChatClient, type ChatClient, type CommonChatClientOptions } from './base-chat-client.js';
import { CHATS_API_PATH } from './base-chat-client.js';
import { createStandardSocketFactory, type StandardWebSocketClass } from './browser-stream-socket.js';
import { errorFromResponse } from './http-error.js';
import { createSseSocketFactory } from './sse-stream-socket.js';

/** How a browser client streams: WebSockets (with a ticket when it has a token), or SSE over fetch. */
export type BrowserStreamTransport = 'websocket' | 'sse';

/** Options of `createChatClient` (browsers). */
export type BrowserChatClientOptions = CommonChatClientOptions & {
  /** Server URL. @default the page's origin (`location.origin`) */
  baseUrl?: string;
  /**
   * API token (`Coder-Session-Token`) for REST calls and SSE; a WebSocket never carries it but a single-use ticket
   * minted with it. @default none: the session cookie
   */
  token?: string;
  /** @default 'websocket' */
  transport?: BrowserStreamTransport;
  /** @default the global WebSocket */
  WebSocket?: StandardWebSocketClass;
};

/** Creates a client of the page's server (or `options.baseUrl`). */
export function createChatClient(options: BrowserChatClientOptions = {}): ChatClient {
  const baseUrl = options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin;
  if (!baseUrl) throw new TypeError('baseUrl is required outside a page');
  const { token, WebSocket: WebSocketImpl, baseUrl: _baseUrl, transport = 'websocket', ...common } = options;
  const headers: Record<string, string> = token ? { [SESSION_TOKEN_HEADER]: token } : {};
  const fetchFn = common.fetch ?? ((...args: Parameters<typeof globalThis.fetch>) => globalThis.fetch(...args));
  /** Mints the ticket of one WebSocket attempt (`POST /{chat}/stream-ticket`). */
  const ticketQuery = async (chatId: string): Promise<Record<string, string>> => {
    const res = await fetchFn(`${baseUrl.replace(/\/+$/, '')}${CHATS_API_PATH}/${encodeURIComponent(chatId)}/stream-ticket`, { method: 'POST', headers });
    const text = await res.text();
    if (!res.ok) throw errorFromResponse(res.status, text, 'minting a stream ticket', { retryAfter: res.headers.get('retry-after') });
    return { ticket: (JSON.parse(text) as { ticket: string }).ticket };
  };
  const own = common.streamQuery;
  const streamQuery =
    transport === 'websocket' && token
      ? async (chatId: string) => ({ ...(own ? await own(chatId) : {}), ...(await ticketQuery(chatId)) })
      : own;
  return createBaseChatClient({
    ...common,
    baseUrl,
    headers,
    ...(streamQuery ? { streamQuery } : {}),
    socket: transport === 'sse' ? createSseSocketFactory({ headers, ...(common.fetch ? { fetch: common.fetch } : {}) }) : createStandardSocketFactory(WebSocketImpl),
  });
}
