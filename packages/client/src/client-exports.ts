// What both entries of @chatd/client export (index.ts for Node, browser.ts for browsers): errors, the shared client,
// the stream, the socket port, error mapping and backoff. Each entry adds its own createChatClient and sockets.
export { ChatdClientError, isChatdClientError } from './chatd-client-error.js';
export type { ChatdClientErrorCode, ChatdClientErrorOptions, SpendLimitFigures } from './chatd-client-error.js';
export { CHATS_API_PATH, REPLY_LOOKBACK_MESSAGES, createBaseChatClient } from './base-chat-client.js';
export type {
  BaseChatClientOptions,
  ChatClient,
  ChatContent,
  ChatFile,
  ChatMessagesPage,
  ChatReply,
  CommonChatClientOptions,
  CreateChatOptions,
  DynamicTool,
  EditMessageOptions,
  EditMessageResult,
  ListChatsOptions,
  ListMessagesOptions,
  PostMessageOptions,
  PostMessageResult,
  ReplyTextOptions,
  ToolResult,
  UploadFileOptions,
} from './base-chat-client.js';
export { MAX_BUFFERED_FRAMES, PROBE_AFTER_FAILURES, RECONNECT_TIMER_TAG, openChatStream } from './chat-stream.js';
export type { ChatStreamDeps, ChatStreamOptions, StreamConnectionEnd, StreamQueryProvider } from './chat-stream.js';
export { createStandardSocketFactory, globalWebSocket } from './browser-stream-socket.js';
export { createSseSocketFactory } from './sse-stream-socket.js';
export type { SseSocketFactoryOptions } from './sse-stream-socket.js';
export type { StandardWebSocket, StandardWebSocketClass } from './browser-stream-socket.js';
export type { StreamRefusal, StreamSocket, StreamSocketEvents, StreamSocketFactory } from './stream-socket.js';
export { UNAVAILABLE_CODE, errorCodeForStatus, errorFromResponse, isRetryableStatus, parseRetryAfterMs } from './http-error.js';
export type { ErrorResponseContext } from './http-error.js';
export { DEFAULT_RECONNECT_MAX_DELAY_MS, DEFAULT_RECONNECT_MIN_DELAY_MS, reconnectDelayMs } from './reconnect-backoff.js';
export type { ReconnectBackoffOptions } from './reconnect-backoff.js';
export { REMEMBERED_RUNS, createStreamCursor, toAfterId } from './stream-cursor.js';
export type { StreamCursor, StreamPosition } from './stream-cursor.js';
