// @chatd/protocol: the chatd wire in one browser-safe place (no Node built-ins; depends on zod only).
export {
  NIL_UUID,
  chatDiffStatusSchema,
  chatSchema,
  chatStatusSchema,
  chatStreamErrorSchema,
  chatStreamRetrySchema,
  inboxNotificationActionSchema,
  inboxNotificationSchema,
  isUuid,
  timestampSchema,
  uuidSchema,
  type Chat,
  type ChatDiffStatus,
  type ChatStatus,
  type ChatStreamError,
  type ChatStreamRetry,
  type InboxNotification,
} from './chat-types.js';
export {
  chatInputContentSchema,
  chatInputPartSchema,
  fileInputPartSchema,
  textInputPartSchema,
  type ChatInputContent,
  type ChatInputPart,
} from './chat-input-part.js';
export {
  chatMessageRoleSchema,
  chatMessageSchema,
  chatMessageUsageSchema,
  chatQueuedMessageSchema,
  type ChatMessage,
  type ChatMessageRole,
  type ChatMessageUsage,
  type ChatQueuedMessage,
} from './chat-message.js';
export { eventJson, hasEventJson, withEventJson, type EncodableEvent } from './encoded-event.js';
export { INT64_MAX, parseInt64Text } from './int64.js';
export {
  CHAT_MESSAGE_PART_TYPES,
  chatMessagePartSchema,
  filePartSchema,
  partText,
  reasoningPartSchema,
  sourcePartSchema,
  textPartSchema,
  toolCallPartSchema,
  toolResultPartSchema,
  type ChatMessagePart,
  type ChatMessagePartOf,
  type ChatMessagePartType,
} from './message-part.js';
export { ProtocolError, type ProtocolErrorCode, type ProtocolErrorOptions, type ProtocolValidation } from './protocol-error.js';
export { RELAY_GIVE_UP_ERROR_KIND, RELAY_SOURCE_HEADER, isRelayGiveUpError, relayGiveUpError } from './relay-marks.js';
export { SESSION_TOKEN_COOKIE, SESSION_TOKEN_HEADER, cookieSessionToken, extractSessionToken, fetchHeaderGetter, type HeaderGetter } from './session-token.js';
export { parseStreamQuery, setStreamQuery, type StreamCursorQuery } from './stream-cursor.js';
export {
  CHAT_STREAM_EVENT_TYPES,
  actionRequiredToolCallSchema,
  chatStreamEventSchema,
  chatStreamMessagePartSchema,
  discontinuityReasonSchema,
  type ActionRequiredToolCall,
  type ChatStreamEvent,
  type ChatStreamEventOf,
  type ChatStreamEventType,
  type ChatStreamMessagePart,
  type DiscontinuityReason,
} from './stream-event.js';
export {
  decodeStreamFrame,
  encodeStreamFrame,
  isStreamEvent,
  streamEventSchema,
  streamMessagePartSchema,
  type DecodeStreamFrameOptions,
  type StreamEvent,
  type StreamFrame,
} from './stream-frame.js';
export {
  apiChatContentSchema,
  apiErrorSchema,
  apiValidationSchema,
  chatCostSchema,
  chatModelConfigSchema,
  chatProviderSchema,
  createChatRequestSchema,
  deploymentConfigPatchSchema,
  deploymentConfigSchema,
  dynamicToolSchema,
  editMessageRequestSchema,
  editMessageResponseSchema,
  gitPushRequestSchema,
  messagesPageSchema,
  modelCallOptionsSchema,
  modelConfigRequestSchema,
  modelPricingSchema,
  patchChatRequestSchema,
  probeStatusSchema,
  proposedTitleSchema,
  providerRequestSchema,
  reasoningEffortSchema,
  replicaSchema,
  sendMessageRequestSchema,
  sendMessageResponseSchema,
  socketTicketSchema,
  spendLimitRequestSchema,
  spendLimitSchema,
  spendPeriodSchema,
  toolResultsRequestSchema,
  uploadedFileSchema,
  type ApiError,
} from './api-schemas.js';
export { inboxFrameSchema, watchEventKindSchema, watchEventSchema, type InboxFrame, type WatchEvent } from './watch-frame.js';
export { API_ROUTES, FILE_UPLOAD_MEDIA_TYPES, type ApiAccess, type ApiParameter, type ApiResponse, type ApiRoute } from './api-routes.js';
export { API_BASE_PATH, API_DESCRIPTION_VERSION, API_SCHEMAS, API_V2_BASE_PATH, buildAsyncApiDocument, buildOpenApiDocument, streamFrameSchema } from './api-description.js';
export {
  REPLICA_LINK_END_REASONS,
  REPLICA_LINK_PATH,
  decodeReplicaLinkControl,
  decodeReplicaLinkFrame,
  encodeReplicaLinkControl,
  encodeReplicaLinkEnd,
  encodeReplicaLinkEvents,
  encodeReplicaLinkFrame,
  replicaLinkControlSchema,
  replicaLinkFrameSchema,
  replicaLinkRecordSchema,
  type ReplicaLinkControl,
  type ReplicaLinkEndReason,
  type ReplicaLinkRecord,
} from './replica-link-frame.js';
