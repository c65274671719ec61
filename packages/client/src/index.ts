// @chatd/client for Node: the chat API client whose streams dial with `ws` and send the token as a header.
// Browsers get ./browser.ts instead (the `browser` export condition), which loads no `ws` and no Node built-in.
export * from './client-exports.js';
export { createChatClient } from './chat-client.js';
export type { ChatClientOptions } from './chat-client.js';
export { MAX_STREAM_FRAME_BYTES, createWsSocketFactory } from './ws-stream-socket.js';
export type { WebSocketClass } from './ws-stream-socket.js';
