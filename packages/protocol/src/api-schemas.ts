// The REST bodies of the chat API (contract.md#routes) as zod schemas: what clients send and what the server
// answers, beside the domain schemas of chat-types.ts and chat-message.ts. They are the source of the API
// description (api-description.ts, contract.md#api-description); servers may parse with them. Requests are described
// as the server accepts them (unknown fields are ignored, so objects are not strict); responses as it writes them.
import { z } from 'zod';
import { timestampSchema, uuidSchema } from './chat-types.js';
import { chatMessageSchema, chatQueuedMessageSchema } from './chat-message.js';
import { chatInputPartSchema } from './chat-input-part.js';

/** One field problem of an error body (contract.md#errors). */
export const apiValidationSchema = z.object({ field: z.string(), detail: z.string() });

/**
 * The error body of every refusal (contract.md#errors, `codersdk.Response`): `message`, an optional `detail` and, for
 * bad fields, `validations`; a spend-limit refusal (409) adds `spent_micros`, `limit_micros` and `resets_at`.
 */
export const apiErrorSchema = z.object({
  message: z.string(),
  detail: z.string().optional(),
  validations: z.array(apiValidationSchema).optional(),
  spent_micros: z.int().nonnegative().optional(),
  limit_micros: z.int().nonnegative().optional(),
  resets_at: timestampSchema.optional(),
});
/** The error body of every refusal (contract.md#errors). */
export type ApiError = z.infer<typeof apiErrorSchema>;

/** Message content on create, send and edit: input parts, or a bare string read as one text part (contract.md#chat-input). */
export const apiChatContentSchema = z.union([z.array(chatInputPartSchema).min(1), z.string()]);

/** A reasoning effort (contract.md#model-configs): `null` on send and edit goes back to the configuration's. */
export const reasoningEffortSchema = z.enum(['none', 'minimal', 'low', 'medium', 'high', 'max']);

/** A client-executed tool offered on create (contract.md#client-tools). */
export const dynamicToolSchema = z.object({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
});

/** `POST /` (contract.md#create-chat). */
export const createChatRequestSchema = z.object({
  content: apiChatContentSchema,
  organization_id: uuidSchema.optional(),
  system_prompt: z.string().max(10_000).optional(),
  workspace_id: uuidSchema.optional(),
  model_config_id: uuidSchema.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  client_type: z.string().max(64).optional(),
  reasoning_effort: reasoningEffortSchema.nullable().optional(),
  unsafe_dynamic_tools: z.array(dynamicToolSchema).max(250).optional(),
});

/** `PATCH /{chat}` (contract.md#patch-chat): at least one of the two. */
export const patchChatRequestSchema = z.object({ title: z.string().optional(), archived: z.boolean().optional() });

/** `GET /{chat}/messages` (contract.md#list-messages). */
export const messagesPageSchema = z.object({
  messages: z.array(chatMessageSchema),
  queued_messages: z.array(chatQueuedMessageSchema),
  has_more: z.boolean(),
});

/** `POST /{chat}/messages` (contract.md#send-message). */
export const sendMessageRequestSchema = z.object({
  content: apiChatContentSchema,
  model_config_id: uuidSchema.optional(),
  busy_behavior: z.enum(['queue', 'interrupt']).optional(),
  reasoning_effort: reasoningEffortSchema.nullable().optional(),
});

/** The answer of a send: the message as stored, or as queued (contract.md#queue). */
export const sendMessageResponseSchema = z.object({
  queued: z.boolean(),
  message: chatMessageSchema.optional(),
  queued_message: chatQueuedMessageSchema.optional(),
});

/** `PATCH /{chat}/messages/{message}` (contract.md#edit). */
export const editMessageRequestSchema = sendMessageRequestSchema.omit({ busy_behavior: true });

/** The answer of an edit: the new user message and the ids it hid, ascending (contract.md#edit). */
export const editMessageResponseSchema = z.object({ message: chatMessageSchema, deleted_message_ids: z.array(z.int().positive()) });

/** `POST /{chat}/tool-results` (contract.md#tool-results): one result per pending call. */
export const toolResultsRequestSchema = z.object({
  results: z.array(
    z.object({
      tool_call_id: z.string().min(1),
      output: z.unknown(),
      is_error: z.boolean().optional(),
    }),
  ),
});

/** `POST /{chat}/stream-ticket` and `POST /watch-ticket` (contract.md#tickets). */
export const socketTicketSchema = z.object({ ticket: z.string().startsWith('chatdt_'), expires_at: timestampSchema });

/** `POST /files` (contract.md#files). */
export const uploadedFileSchema = z.object({ id: uuidSchema });

/** Prices per million tokens in micro-units (contract.md#cost). */
export const modelPricingSchema = z.object({
  input: z.int().min(0).max(1e12),
  output: z.int().min(0).max(1e12),
  cached_input: z.int().min(0).max(1e12).optional(),
  reasoning: z.int().min(0).max(1e12).optional(),
});

/** Call options of a model configuration, in their wire names. */
export const modelCallOptionsSchema = z.object({
  max_output_tokens: z.int().positive().optional(),
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  reasoning_effort: reasoningEffortSchema.optional(),
});

/** `ChatModelConfig` (contract.md#model-configs); `provider_options` is shown to administrators only. */
export const chatModelConfigSchema = z.object({
  id: uuidSchema,
  provider: z.string(),
  model: z.string(),
  display_name: z.string(),
  enabled: z.boolean(),
  is_default: z.boolean(),
  context_limit: z.int(),
  compression_threshold: z.int(),
  pricing: modelPricingSchema.nullable(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  call_options: modelCallOptionsSchema,
  provider_options: z.record(z.string(), z.unknown()).nullable().optional(),
});

/** `POST /model-configs` (admin); `PATCH /model-configs/{id}` takes any subset. */
export const modelConfigRequestSchema = z.object({
  provider: z.string(),
  model: z.string(),
  display_name: z.string().optional(),
  enabled: z.boolean().optional(),
  is_default: z.boolean().optional(),
  context_limit: z.int().positive(),
  compression_threshold: z.int().min(0).max(100).optional(),
  call_options: modelCallOptionsSchema.optional(),
  provider_options: z.record(z.string(), z.unknown()).nullable().optional(),
  pricing: modelPricingSchema.nullable().optional(),
});

/** A model provider as administrators see it (contract.md#models): its key is never answered. */
export const chatProviderSchema = z.object({
  id: uuidSchema,
  provider: z.string(),
  kind: z.enum(['demo', 'openai', 'anthropic', 'openai-compatible']),
  display_name: z.string(),
  base_url: z.string().nullable(),
  api_key_env: z.string().nullable(),
  has_api_key: z.boolean(),
  enabled: z.boolean(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
});

/** `POST /providers` (admin); `PATCH /providers/{id}` takes any subset but `provider`. */
export const providerRequestSchema = z.object({
  provider: z.string(),
  kind: z.enum(['demo', 'openai', 'anthropic', 'openai-compatible', 'openai-compat']).optional(),
  display_name: z.string().optional(),
  base_url: z.string().nullable().optional(),
  api_key: z.string().nullable().optional(),
  api_key_env: z.string().nullable().optional(),
  enabled: z.boolean().optional(),
});

/** `GET|PATCH /config` (contract.md#deployment-settings): null is the chat's own model. */
export const deploymentConfigSchema = z.object({ title_model_config_id: uuidSchema.nullable(), compaction_model_config_id: uuidSchema.nullable() });

/** `PATCH /config`: either field; null unsets it. */
export const deploymentConfigPatchSchema = z.object({ title_model_config_id: uuidSchema.nullable().optional(), compaction_model_config_id: uuidSchema.nullable().optional() });

/** `POST /{chat}/title/propose` (contract.md#generated-titles). */
export const proposedTitleSchema = z.object({ title: z.string() });

/** `GET /{chat}/cost` (contract.md#cost). */
export const chatCostSchema = z.object({
  chat_id: uuidSchema,
  total_cost_micros: z.int().nonnegative(),
  request_count: z.int().nonnegative(),
  unpriced_request_count: z.int().nonnegative(),
});

/** A spend-limit period (contract.md#spend-limits): calendar periods in UTC. */
export const spendPeriodSchema = z.enum(['day', 'week', 'month']);

/** `PUT /users/{user}/spend-limit` (contract.md#spend-limits). */
export const spendLimitRequestSchema = z.object({ period: spendPeriodSchema, limit_micros: z.int().nonnegative() });

/** A user's spend limit as `PUT` answers it; `GET` adds `spent_micros` and `resets_at`. */
export const spendLimitSchema = z.object({
  user_id: uuidSchema,
  period: spendPeriodSchema,
  limit_micros: z.int().nonnegative(),
  updated_at: timestampSchema,
  spent_micros: z.int().nonnegative().optional(),
  resets_at: timestampSchema.nullable().optional(),
});

/** `PUT /{chat}/git` (contract.md#git-routes). */
export const gitPushRequestSchema = z.object({ origin: z.string().max(2048), branch: z.string().max(255) });

/** One live replica of `GET /replicas` (contract.md#replicas-route); `relay_address` for administrators only. */
export const replicaSchema = z.object({
  id: z.string(),
  worker: z.boolean(),
  started_at: timestampSchema,
  heartbeat_at: timestampSchema,
  running_chats: z.int().nonnegative(),
  relay_address: z.string().optional(),
});

/** `GET /healthz` and `GET /readyz` (contract.md#operations). */
export const probeStatusSchema = z.object({ status: z.string() });

