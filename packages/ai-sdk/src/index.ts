// @chatd/ai-sdk: chatd behind the Vercel AI SDK's useChat (contract.md#ai-sdk).
export { ChatdChatTransport, DEFAULT_INTERRUPT_ON_STOP } from './chatd-chat-transport.js';
export type { ChatdChatTransportOptions } from './chatd-chat-transport.js';
export { createChat } from './create-chat.js';
export type { CreateChatInput } from './create-chat.js';
export { HISTORY_PAGE_SIZE, loadUIMessages } from './load-ui-messages.js';
export { historyToUIMessages } from './history-to-ui-messages.js';
export { createTurnChunkMapper } from './turn-chunk-mapper.js';
export type { TurnChunkMapper, TurnChunkMapperOptions } from './turn-chunk-mapper.js';
export { TURN_MESSAGE_ID_PREFIX, turnMessageId, userMessageIdOfTurn } from './turn-message-id.js';
