// The REST routes under /api/experimental/chats (contract.md#routes): request
// validation with zod and ./chat-body.ts (the store takes typed, checked values), per-user authorisation (another user's chat is a 404, indistinguishable from a
// missing one), the store call, then publishing what changed. Sockets live in chat-sockets.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Clock } from '@chatd/clock';
import { isUuid, type ChatMessagePart } from '@chatd/protocol';
import { chatStreamNotifyChannel, handleChatStreamNotify, type PubSub } from '@chatd/pubsub';
import { ChatdError } from '../chatd-error.js';
import type { Identity, IdentityStore } from '../identity/identity-store.js';
import type { ChatGitSync } from '../gitsync/chat-git-sync.js';
import type { ChatPublisher } from '../publish/chat-publisher.js';
import type { ChatStore } from '../store/chat-store.js';
import { parseCallOptions, parseProviderKind, parseProviderOptions, parseReasoningEffort } from '../store/model-config-input.js';
import { toWireModelConfig, type ModelConfigStore } from '../store/model-config-store.js';
import { validateClientType, validateInputContent, validateLabels, validateSystemPrompt } from './chat-body.js';
import { resolveFileParts } from './file-parts.js';
import type { FileStore } from '../store/file-store.js';
import { parseListChatsQuery, parseMessagesQuery, parseQueuedIdToDelete, parseQueuedIdToPromote } from './chat-query.js';
import { parseMessageId } from '../store/chat-input.js';
import { validationError } from './error-response.js';
import { parseDynamicTools } from '../tools/client-tools.js';
import { readJsonBody, sendEmpty, sendJson } from './http-io.js';
import { parseModelPricing } from '../cost/model-pricing.js';
import type { CostStore } from '../cost/cost-store.js';

/** How long `POST /interrupt?wait=true` waits for the run to stop. @default 30000 */
export const INTERRUPT_WAIT_TIMEOUT_MS = 30_000;

/** What the routes need. */
export type ChatRoutesDeps = {
  chats: ChatStore;
  identity: IdentityStore;
  modelConfigs: ModelConfigStore;
  publisher: ChatPublisher;
  pubsub: PubSub;
  clock: Clock;
  /** Attaches `diff_status` to the chats of GET / and GET /{chat} (issue 13); absent: no diff status. */
  gitsync?: Pick<ChatGitSync, 'withDiffStatus' | 'withDiffStatuses'>;
  /** Names of the server tools: `unsafe_dynamic_tools` may not reuse them (contract.md#client-tools). */
  serverToolNames?: ReadonlySet<string>;
  /** Uploaded files, for `file` parts in content (contract.md#files); absent: every file id is unknown (400). */
  files?: Pick<FileStore, 'describeOwnedFiles'>;
  /** Spend limits (contract.md#cost): create, send, edit and tool results are refused with 409 past the limit. */
  costs?: Pick<CostStore, 'assertWithinLimit'>;
};

/** One matched route. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, who: Identity, params: string[], url: URL) => Promise<void>;

const inputPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();
const content = z.union([z.array(inputPart), z.string()]);

/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const createChatBody = z
  .object({
    content,
    organization_id: z.string().optional(),
    system_prompt: z.string().optional(),
    workspace_id: z.string().optional(),
    model_config_id: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    client_type: z.string().optional(),
    // Checked by parseReasoningEffort (400 with a `reasoning_effort` validation).
    reasoning_effort: z.unknown().optional(),
    // Checked by parseDynamicTools (400 with validations).
    unsafe_dynamic_tools: z.unknown().optional(),
  })
  .passthrough();

/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const toolResultsBody = z.object({
  results: z.array(
    z.object({
      tool_call_id: z.string().min(1),
      output: z.unknown().refine((v) => v !== undefined, 'output is required'),
      is_error: z.boolean().optional(),
    }),
  ),
});

/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const postMessageBody = z
  .object({
    content,
    model_config_id: z.string().optional(),
    busy_behavior: z.enum(['queue', 'interrupt']).optional(),
    // null: back to the model configuration's effort.
    reasoning_effort: z.unknown().optional(),
  })
  .passthrough();

// Edit takes send's content and options (contract.md#edit); `busy_behavior` means nothing here.
/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const editMessageBody = postMessageBody.omit({ busy_behavior: true });

/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const patchChatBody = z.object({ title: z.string().optional(), archived: z.boolean().optional() }).passthrough();

/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const modelConfigBody = z
  .object({
    provider: z.string(),
    model: z.string(),
    display_name: z.string().optional(),
    enabled: z.boolean().optional(),
    is_default: z.boolean().optional(),
    context_limit: z.number().int(),
    compression_threshold: z.number().int().optional(),
    // Checked field by field by parseCallOptions / parseProviderOptions (400 with validations).
    call_options: z.unknown().optional(),
    provider_options: z.unknown().optional(),
    // Checked by parseModelPricing (400 with validations); null clears the prices (contract.md#cost).
    pricing: z.unknown().optional(),
  })
  .passthrough();

/** The route's own parse of its body; contract.md#api-description takes @chatd/protocol's, and a test checks they agree. */
export const providerBody = z
  .object({
    provider: z.string(),
    kind: z.string().optional(),
    display_name: z.string().optional(),
    base_url: z.string().nullable().optional(),
    // Write-only: answered as `has_api_key`.
    api_key: z.string().nullable().optional(),
    api_key_env: z.string().nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .passthrough();

/** The store input of a provider body's optional fields. */
function providerChanges(b: Partial<z.infer<typeof providerBody>>) {
  return {
    ...(b.kind !== undefined ? { kind: parseProviderKind(b.kind) } : {}),
    ...(b.display_name !== undefined ? { displayName: b.display_name } : {}),
    ...(b.base_url !== undefined ? { baseUrl: b.base_url } : {}),
    ...(b.api_key !== undefined ? { apiKey: b.api_key } : {}),
    ...(b.api_key_env !== undefined ? { apiKeyEnv: b.api_key_env } : {}),
    ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
  };
}

/** The store input of a model configuration body's optional fields (call options in their wire form). */
function modelConfigChanges(b: Partial<z.infer<typeof modelConfigBody>>) {
  return {
    ...(b.display_name !== undefined ? { displayName: b.display_name } : {}),
    ...(b.enabled !== undefined ? { enabled: b.enabled } : {}),
    ...(b.is_default !== undefined ? { isDefault: b.is_default } : {}),
    ...(b.compression_threshold !== undefined ? { compressionThreshold: b.compression_threshold } : {}),
    ...(b.call_options !== undefined ? { callOptions: parseCallOptions(b.call_options) } : {}),
    ...(b.provider_options !== undefined ? { providerOptions: parseProviderOptions(b.provider_options) } : {}),
    ...(b.pricing !== undefined ? { pricing: parseModelPricing(b.pricing) } : {}),
  };
}

function parse<T>(schema: z.ZodType<T>, value: unknown, message = 'Invalid request.'): T {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(message, r.error);
  return r.data;
}

/** The body's content as parsed parts (a bare string is one text part); the original's 400s otherwise. */
function parseContent(c: z.infer<typeof content>) {
  return validateInputContent(typeof c === 'string' ? [{ type: 'text', text: c }] : c).parts;
}

const notFound = () => new ChatdError('NOT_FOUND', 'chat not found');

function chatIdParam(raw: string | undefined): string {
  if (!raw || !isUuid(raw)) throw new ChatdError('INVALID_INPUT', 'Invalid chat ID.', { validations: [{ field: 'chat', detail: 'must be a UUID' }] });
  return raw.toLowerCase();
}

/** The `{message}` path id: a positive int64 that fits a JS number (ids of stored messages). */
function messageIdParam(raw: string | undefined): number {
  try {
    return parseMessageId(raw, 'message ID');
  } catch (err) {
    if (err instanceof ChatdError) throw new ChatdError('INVALID_INPUT', 'Invalid message ID.', { detail: err.detail, validations: [{ field: 'message', detail: 'must be a positive integer' }] });
    throw err;
  }
}

function requireAdmin(who: Identity): void {
  if (!who.user.admin) throw new ChatdError('FORBIDDEN', 'Only administrators may change model configurations.');
}

/** Builds the route table: [method, path pattern segments ('*' = a parameter), handler]. */
export function createChatRoutes(deps: ChatRoutesDeps): { method: string; pattern: string[]; handler: RouteHandler }[] {
  const { chats, publisher } = deps;
  /** Content with its `file` parts checked to be the caller's and filled from their rows (contract.md#files). */
  const contentOf = (c: z.infer<typeof content>, who: Identity): Promise<ChatMessagePart[]> => resolveFileParts(parseContent(c), who.user.id, deps.files);

  const ownedChat = async (rawId: string | undefined, who: Identity) => {
    const chatId = chatIdParam(rawId);
    const chat = await chats.getChat(chatId, who.user.id);
    if (!chat) throw notFound();
    return chat;
  };

  /** Resolves once run `runId` of the chat has ended, or after the timeout. */
  const waitRunStopped = async (chatId: string, runId: string) => {
    let wake: (() => void) | undefined;
    const unsub = await deps.pubsub.subscribe(
      chatStreamNotifyChannel(chatId),
      handleChatStreamNotify(() => wake?.()),
    );
    const timer = deps.clock.setTimeout(() => wake?.(), INTERRUPT_WAIT_TIMEOUT_MS, 'interrupt-wait');
    const deadline = deps.clock.nowMs() + INTERRUPT_WAIT_TIMEOUT_MS;
    try {
      while (deps.clock.nowMs() < deadline) {
        const woke = new Promise<void>((r) => (wake = r));
        const run = await chats.getRun(runId);
        if (!run || run.outcome !== null) return;
        await woke;
      }
    } finally {
      timer.cancel();
      unsub();
    }
  };

  const routes: { method: string; pattern: string[]; handler: RouteHandler }[] = [
    {
      method: 'POST',
      pattern: [],
      handler: async (req, res, who) => {
        const body = parse(createChatBody, await readJsonBody(req));
        if (body.organization_id !== undefined) {
          if (!isUuid(body.organization_id)) throw new ChatdError('INVALID_INPUT', 'Invalid organization ID.', { validations: [{ field: 'organization_id', detail: 'must be a UUID' }] });
          if (!(await deps.identity.isMember(body.organization_id, who.user.id))) {
            throw new ChatdError('FORBIDDEN', 'You are not a member of this organization.');
          }
        }
        // Checked in the order the store used to check them, so a body with several faults names the same one.
        const reasoningEffort = body.reasoning_effort !== undefined && body.reasoning_effort !== null ? parseReasoningEffort(body.reasoning_effort) : undefined;
        const parts = await contentOf(body.content, who);
        const systemPrompt = validateSystemPrompt(body.system_prompt);
        const labels = body.labels ? validateLabels(body.labels) : undefined;
        const clientType = body.client_type ? validateClientType(body.client_type) : undefined;
        const dynamicTools = body.unsafe_dynamic_tools !== undefined && body.unsafe_dynamic_tools !== null ? parseDynamicTools(body.unsafe_dynamic_tools, deps.serverToolNames) : undefined;
        await deps.costs?.assertWithinLimit(who.user.id);
        const { chat, change } = await chats.createChat({
          ...(dynamicTools ? { dynamicTools } : {}),
          ownerId: who.user.id,
          content: parts,
          ...(body.organization_id ? { organizationId: body.organization_id } : {}),
          ...(systemPrompt !== undefined ? { systemPrompt } : {}),
          ...(body.workspace_id ? { workspaceId: body.workspace_id } : {}),
          ...(body.model_config_id ? { modelConfigId: body.model_config_id } : {}),
          ...(labels ? { labels } : {}),
          ...(clientType ? { clientType } : {}),
          ...(reasoningEffort !== undefined ? { reasoningEffort } : {}),
        });
        await publisher.publishChange(change, { chatEvents: ['created'], newChat: true });
        sendJson(res, 201, chat);
      },
    },
    {
      method: 'GET',
      pattern: [],
      handler: async (_req, res, who, _p, url) => {
        const list = await chats.listChats({ ownerId: who.user.id, ...parseListChatsQuery(url.searchParams) });
        sendJson(res, 200, deps.gitsync ? await deps.gitsync.withDiffStatuses(list) : list);
      },
    },
    {
      method: 'GET',
      pattern: ['model-configs'],
      handler: async (_req, res, who) => {
        // Provider options are deployment settings: admins only. Call options are for everyone (a client may show them).
        sendJson(res, 200, (await deps.modelConfigs.listModelConfigs()).map((c) => toWireModelConfig(c, who.user.admin)));
      },
    },
    {
      method: 'GET',
      pattern: ['providers'],
      handler: async (_req, res, who) => {
        requireAdmin(who);
        sendJson(res, 200, await deps.modelConfigs.listProviders());
      },
    },
    {
      method: 'POST',
      pattern: ['providers'],
      handler: async (req, res, who) => {
        requireAdmin(who);
        const b = parse(providerBody, await readJsonBody(req));
        sendJson(res, 201, await deps.modelConfigs.createProvider({ provider: b.provider, ...providerChanges(b) }));
      },
    },
    {
      method: 'PATCH',
      pattern: ['providers', '*'],
      handler: async (req, res, who, [id]) => {
        requireAdmin(who);
        if (!id || !isUuid(id)) throw new ChatdError('INVALID_INPUT', 'Invalid provider ID.');
        // The name is the key model configurations refer to; it is not renamed here.
        const b = parse(providerBody.omit({ provider: true }).partial(), await readJsonBody(req));
        sendJson(res, 200, await deps.modelConfigs.updateProvider(id, providerChanges(b)));
      },
    },
    {
      method: 'DELETE',
      pattern: ['providers', '*'],
      handler: async (_req, res, who, [id]) => {
        requireAdmin(who);
        if (!id || !isUuid(id)) throw new ChatdError('INVALID_INPUT', 'Invalid provider ID.');
        await deps.modelConfigs.deleteProvider(id);
        sendEmpty(res, 204);
      },
    },
    {
      method: 'POST',
      pattern: ['model-configs'],
      handler: async (req, res, who) => {
        requireAdmin(who);
        const b = parse(modelConfigBody, await readJsonBody(req));
        const created = await deps.modelConfigs.createModelConfig({
          provider: b.provider,
          model: b.model,
          contextLimit: b.context_limit,
          ...modelConfigChanges(b),
        });
        sendJson(res, 201, toWireModelConfig(created, true));
      },
    },
    {
      method: 'PATCH',
      pattern: ['model-configs', '*'],
      handler: async (req, res, who, [id]) => {
        requireAdmin(who);
        if (!id || !isUuid(id)) throw new ChatdError('INVALID_INPUT', 'Invalid model config ID.');
        const b = parse(modelConfigBody.partial(), await readJsonBody(req));
        const updated = await deps.modelConfigs.updateModelConfig(id, {
          ...(b.provider !== undefined ? { provider: b.provider } : {}),
          ...(b.model !== undefined ? { model: b.model } : {}),
          ...(b.context_limit !== undefined ? { contextLimit: b.context_limit } : {}),
          ...modelConfigChanges(b),
        });
        sendJson(res, 200, toWireModelConfig(updated, true));
      },
    },
    {
      method: 'DELETE',
      pattern: ['model-configs', '*'],
      handler: async (_req, res, who, [id]) => {
        requireAdmin(who);
        if (!id || !isUuid(id)) throw new ChatdError('INVALID_INPUT', 'Invalid model config ID.');
        await deps.modelConfigs.deleteModelConfig(id);
        sendEmpty(res, 204);
      },
    },
    {
      method: 'GET',
      pattern: ['*'],
      handler: async (_req, res, who, [id]) => {
        const chat = await ownedChat(id, who);
        sendJson(res, 200, deps.gitsync ? await deps.gitsync.withDiffStatus(chat) : chat);
      },
    },
    {
      method: 'PATCH',
      pattern: ['*'],
      handler: async (req, res, who, [id]) => {
        const chatId = chatIdParam(id);
        const b = parse(patchChatBody, await readJsonBody(req));
        if (b.title === undefined && b.archived === undefined) throw new ChatdError('INVALID_INPUT', 'Nothing to change.', { detail: 'Give title and/or archived.' });
        const r = await chats.updateChat({ chatId, ownerId: who.user.id, ...(b.title !== undefined ? { title: b.title } : {}), ...(b.archived !== undefined ? { archived: b.archived } : {}) });
        const events: ('title_change' | 'deleted' | 'created')[] = [];
        if (r.titleChanged) events.push('title_change');
        // Archiving removes the chat from the list (the original publishes `deleted`); unarchiving brings it back.
        if (r.archivedChanged) events.push(r.change.chat.archived ? 'deleted' : 'created');
        await publisher.publishChange(r.change, { chatEvents: events });
        sendEmpty(res, 204);
      },
    },
    {
      method: 'GET',
      pattern: ['*', 'messages'],
      handler: async (_req, res, who, [id], url) => {
        const chatId = chatIdParam(id);
        const page = await chats.listMessages({ chatId, ownerId: who.user.id, ...parseMessagesQuery(url.searchParams) });
        sendJson(res, 200, page);
      },
    },
    {
      method: 'POST',
      pattern: ['*', 'messages'],
      handler: async (req, res, who, [id]) => {
        const chatId = chatIdParam(id);
        const b = parse(postMessageBody, await readJsonBody(req));
        await deps.costs?.assertWithinLimit(who.user.id);
        const r = await chats.sendMessage({
          chatId,
          ownerId: who.user.id,
          content: await contentOf(b.content, who),
          createdBy: who.user.id,
          ...(b.model_config_id ? { modelConfigId: b.model_config_id } : {}),
          ...(b.busy_behavior ? { busyBehavior: b.busy_behavior } : {}),
          ...(b.reasoning_effort !== undefined ? { reasoningEffort: b.reasoning_effort === null ? null : parseReasoningEffort(b.reasoning_effort) } : {}),
        });
        await publisher.publishChange(r.change);
        sendJson(res, 200, { queued: r.queued, ...(r.message ? { message: r.message } : {}), ...(r.queued_message ? { queued_message: r.queued_message } : {}) });
      },
    },
    {
      method: 'PATCH',
      pattern: ['*', 'messages', '*'],
      handler: async (req, res, who, [id, rawMessageId]) => {
        const chatId = chatIdParam(id);
        const messageId = messageIdParam(rawMessageId);
        const b = parse(editMessageBody, await readJsonBody(req));
        await deps.costs?.assertWithinLimit(who.user.id);
        const r = await chats.editMessage({
          chatId,
          messageId,
          ownerId: who.user.id,
          content: await contentOf(b.content, who),
          ...(b.model_config_id ? { modelConfigId: b.model_config_id } : {}),
          ...(b.reasoning_effort !== undefined ? { reasoningEffort: b.reasoning_effort === null ? null : parseReasoningEffort(b.reasoning_effort) } : {}),
        });
        await publisher.publishChange(r.change);
        sendJson(res, 200, { message: r.message, deleted_message_ids: r.deletedMessageIds });
      },
    },
    {
      method: 'POST',
      pattern: ['*', 'interrupt'],
      handler: async (_req, res, who, [id], url) => {
        const chatId = chatIdParam(id);
        const before = await chats.getChatRunState(chatId);
        const change = await chats.interruptChat(chatId, who.user.id);
        await publisher.publishChange(change);
        if (url.searchParams.get('wait') === 'true' && before?.runId) {
          await waitRunStopped(chatId, before.runId);
          const now = await chats.getChat(chatId, who.user.id);
          if (!now) throw notFound();
          sendJson(res, 200, now);
          return;
        }
        sendJson(res, 200, change.chat);
      },
    },
    {
      method: 'POST',
      pattern: ['*', 'tool-results'],
      handler: async (req, res, who, [id]) => {
        const chatId = chatIdParam(id);
        const b = parse(toolResultsBody, await readJsonBody(req), 'Invalid tool results.');
        const results = b.results.map((r) => ({ tool_call_id: r.tool_call_id, output: r.output, ...(r.is_error !== undefined ? { is_error: r.is_error } : {}) }));
        await deps.costs?.assertWithinLimit(who.user.id);
        const { change } = await chats.submitToolResults({ chatId, ownerId: who.user.id, results });
        await publisher.publishChange(change);
        sendEmpty(res, 204);
      },
    },
    {
      method: 'DELETE',
      pattern: ['*', 'queue', '*'],
      handler: async (_req, res, who, [id, queuedId]) => {
        const chatId = chatIdParam(id);
        const change = await chats.deleteQueuedMessage({ chatId, queuedMessageId: parseQueuedIdToDelete(queuedId), ownerId: who.user.id });
        await publisher.publishChange(change);
        sendEmpty(res, 204);
      },
    },
    {
      method: 'POST',
      pattern: ['*', 'queue', '*', 'promote'],
      handler: async (_req, res, who, [id, queuedId]) => {
        const chatId = chatIdParam(id);
        const { message, change } = await chats.promoteQueuedMessage({ chatId, queuedMessageId: parseQueuedIdToPromote(queuedId), ownerId: who.user.id });
        await publisher.publishChange(change);
        sendJson(res, 200, message);
      },
    },
  ];
  return routes;
}

/** Finds the route for a method and the path segments after the base path. */
export function matchRoute<R extends { method: string; pattern: string[] }>(routes: R[], method: string, segments: string[]): { route: R; params: string[] } | 'method_not_allowed' | undefined {
  let pathMatched = false;
  for (const route of routes) {
    if (route.pattern.length !== segments.length) continue;
    const params: string[] = [];
    let ok = true;
    for (let i = 0; i < segments.length; i++) {
      const p = route.pattern[i]!;
      if (p === '*') params.push(segments[i]!);
      else if (p !== segments[i]) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    pathMatched = true;
    if (route.method === method) return { route, params };
  }
  return pathMatched ? 'method_not_allowed' : undefined;
}
