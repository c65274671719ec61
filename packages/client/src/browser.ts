// @chatd/client for browsers: the same client over `fetch` and the global WebSocket, authenticated by the
// same-origin session cookie. No `ws`, no Node built-in: tools/check-packages.mjs bundles this file with esbuild
// --platform=browser and fails if it pulls one in. dist/browser/chatd-client.js is this entry as one module.
export * from './client-exports.js';
export { createChatClient } from './browser-chat-client.js';
export type { BrowserChatClientOptions, BrowserStreamTransport } from './browser-chat-client.js';
