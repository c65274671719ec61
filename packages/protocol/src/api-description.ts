// The machine description of the API (contract.md#api-description): an OpenAPI 3.1 document of every REST route
// (api-routes.ts) under both bases, and an AsyncAPI 3 document of the stream (WebSocket and SSE), watch and inbox
// sockets, both built from the protocol's zod schemas so they cannot drift from what the code parses. The output is
// deterministic (paths and schemas in sorted order), so the committed files (docs/openapi.json, docs/asyncapi.json)
// can be checked byte for byte. Browser-safe: no Node built-ins.
import { z } from 'zod';
import {
  apiErrorSchema,
  chatCostSchema,
  chatModelConfigSchema,
  chatProviderSchema,
  createChatRequestSchema,
  deploymentConfigPatchSchema,
  deploymentConfigSchema,
  editMessageRequestSchema,
  editMessageResponseSchema,
  gitPushRequestSchema,
  messagesPageSchema,
  modelConfigRequestSchema,
  patchChatRequestSchema,
  probeStatusSchema,
  proposedTitleSchema,
  providerRequestSchema,
  replicaSchema,
  sendMessageRequestSchema,
  sendMessageResponseSchema,
  socketTicketSchema,
  spendLimitRequestSchema,
  spendLimitSchema,
  toolResultsRequestSchema,
  uploadedFileSchema,
} from './api-schemas.js';
import { API_ROUTES, STREAM_QUERY_PARAMETERS, TICKET_QUERY_PARAMETER, type ApiResponse, type ApiRoute } from './api-routes.js';
import { chatDiffStatusSchema, chatSchema, chatStreamErrorSchema, inboxNotificationSchema } from './chat-types.js';
import { chatInputPartSchema } from './chat-input-part.js';
import { chatMessageSchema, chatQueuedMessageSchema } from './chat-message.js';
import { chatMessagePartSchema } from './message-part.js';
import { chatStreamEventSchema } from './stream-event.js';
import { inboxFrameSchema, watchEventSchema } from './watch-frame.js';
import { REPLICA_LINK_END_REASONS, REPLICA_LINK_PATH, replicaLinkControlSchema } from './replica-link-frame.js';

/** The chat API's base path. */
export const API_BASE_PATH = '/api/experimental/chats';
/** The same API under the original's stable path (contract.md#v2-routes). */
export const API_V2_BASE_PATH = '/api/v2/chats';
/** The version both documents give in `info.version`. */
export const API_DESCRIPTION_VERSION = '0.1.0';

/** Most events in one stream frame (contract.md#stream-frames). */
const MAX_EVENTS_PER_FRAME = 256;

/** A stream frame: a bare JSON array of events (contract.md#stream-frames). */
export const streamFrameSchema = z.array(chatStreamEventSchema).min(1).max(MAX_EVENTS_PER_FRAME);

/** Every named schema of the documents, by its name in `components.schemas`. */
export const API_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  ApiError: apiErrorSchema,
  Chat: chatSchema,
  ChatCost: chatCostSchema,
  ChatDiffStatus: chatDiffStatusSchema,
  ChatErrorPayload: chatStreamErrorSchema,
  ChatInputPart: chatInputPartSchema,
  ChatMessage: chatMessageSchema,
  ChatMessagePart: chatMessagePartSchema,
  ChatModelConfig: chatModelConfigSchema,
  ChatProvider: chatProviderSchema,
  ChatQueuedMessage: chatQueuedMessageSchema,
  ChatStreamEvent: chatStreamEventSchema,
  CreateChatRequest: createChatRequestSchema,
  DeploymentConfig: deploymentConfigSchema,
  DeploymentConfigPatch: deploymentConfigPatchSchema,
  EditMessageRequest: editMessageRequestSchema,
  EditMessageResponse: editMessageResponseSchema,
  GitPushRequest: gitPushRequestSchema,
  InboxFrame: inboxFrameSchema,
  InboxNotification: inboxNotificationSchema,
  MessagesPage: messagesPageSchema,
  ModelConfigPatch: modelConfigRequestSchema.partial(),
  ModelConfigRequest: modelConfigRequestSchema,
  PatchChatRequest: patchChatRequestSchema,
  ProbeStatus: probeStatusSchema,
  ProposedTitle: proposedTitleSchema,
  ProviderPatch: providerRequestSchema.omit({ provider: true }).partial(),
  ProviderRequest: providerRequestSchema,
  Replica: replicaSchema,
  SendMessageRequest: sendMessageRequestSchema,
  SendMessageResponse: sendMessageResponseSchema,
  SocketTicket: socketTicketSchema,
  SpendLimit: spendLimitSchema,
  SpendLimitRequest: spendLimitRequestSchema,
  StreamFrame: streamFrameSchema,
  ToolResultsRequest: toolResultsRequestSchema,
  UploadedFile: uploadedFileSchema,
  WatchEvent: watchEventSchema,
};

type Json = Record<string, unknown>;

/**
 * The named schemas as JSON Schemas whose references point at `#/components/schemas/<name>`. `io: 'input'`: the
 * wire form a parser accepts (transforms such as UUID lower-casing are the reader's business, not the wire's).
 */
function componentSchemas(target: 'draft-2020-12' | 'draft-7', extra: Readonly<Record<string, z.ZodType>> = {}): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ ...API_SCHEMAS, ...extra })) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { target, io: 'input', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  const out: Record<string, Json> = {};
  for (const id of Object.keys(schemas).sort()) {
    const { $schema: _dialect, $id: _id, ...rest } = schemas[id] as Json;
    out[id] = rest;
  }
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const ERROR_RESPONSE = { $ref: '#/components/responses/Error' };
const RATE_LIMITED_RESPONSE = { $ref: '#/components/responses/RateLimited' };

/** What each error status means (contract.md#errors); the body is always an ApiError. */
const ERROR_STATUSES = [
  '`400` bad input (a field, a query parameter, a path id, JSON that does not parse; fields listed in `validations`)',
  '`401` no token, or an unknown, revoked or expired one',
  '`403` an organization the user is not in, an admin route for a non-admin, a cookie request from another origin',
  '`404` an unknown chat or another user\'s (the same body), an unknown route',
  '`405` a known path with another method',
  '`409` a conflict; a spend limit reached (with `spent_micros`, `limit_micros`, `resets_at`)',
  '`413` a body over 1 MiB, or content over its limit',
  '`415` a file upload of a type not allowed',
  '`426` the stream route without an upgrade or `Accept: text/event-stream`',
  '`429` the queue is full, a socket cap, or a rate limit (with `Retry-After`)',
  '`500` a fault only (a fixed body; the cause stays in the replica\'s log)',
  '`503` a dependency cannot answer now',
];
/** Statuses every route may answer (contract.md#errors): bad input, no token, a rate limit, a fault. */
const COMMON_ERRORS = [400, 401, 429, 500] as const;

function responseObject(r: ApiResponse): Json {
  if (r.schema) return { description: r.description, content: { 'application/json': { schema: r.array ? { type: 'array', items: ref(r.schema) } : ref(r.schema) } } };
  if (r.media) return { description: r.description, content: Object.fromEntries(r.media.map((m) => [m, { schema: m === 'application/json' ? { type: 'object' } : { type: 'string' } }])) };
  return { description: r.description };
}

const USER_SECURITY = [{ sessionToken: [] }, { sessionCookie: [] }, { bearerToken: [] }];

function operation(route: ApiRoute, v2: boolean): Json {
  const responses: Json = {};
  for (const [status, r] of Object.entries(route.responses)) responses[status] = responseObject(r);
  if (route.access !== 'public') for (const s of [...COMMON_ERRORS, ...(route.errors ?? [])]) responses[String(s)] ??= s === 429 ? RATE_LIMITED_RESPONSE : ERROR_RESPONSE;
  if (route.access === 'admin' && !responses['403']) responses['403'] = ERROR_RESPONSE;
  responses['default'] = ERROR_RESPONSE;
  const security = route.access === 'public' ? [] : route.access === 'socket' ? [...USER_SECURITY, { socketTicket: [] }] : USER_SECURITY;
  return {
    operationId: v2 ? `${route.id}V2` : route.id,
    summary: route.summary,
    description: `See contract.md#${route.anchor}.${route.access === 'admin' ? ' Administrators only (403 otherwise).' : ''}`,
    tags: [route.tag],
    security,
    ...(route.parameters?.length ? { parameters: route.parameters.map((p) => ({ name: p.name, in: p.in, description: p.description, required: p.required ?? false, schema: p.schema })) } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: 'schema' in route.body,
            content: 'schema' in route.body ? { 'application/json': { schema: ref(route.body.schema) } } : Object.fromEntries(route.body.media.map((m) => [m, { schema: { type: 'string', contentMediaType: m } }])),
          },
        }
      : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** The OpenAPI 3.1 document of the chat API: every route under both bases, error bodies, auth schemes. */
export function buildOpenApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const route of API_ROUTES) {
    const full = route.root ? [[route.path, false] as const] : [[`${API_BASE_PATH}${route.path}`, false] as const, [`${API_V2_BASE_PATH}${route.path}`, true] as const];
    for (const [path, v2] of full) (paths[path] ??= {})[route.method] = operation(route, v2);
  }
  const sortedPaths = Object.fromEntries(Object.keys(paths).sort().map((p) => [p, paths[p]]));
  return {
    openapi: '3.1.0',
    info: {
      title: 'chatd chat API',
      version: API_DESCRIPTION_VERSION,
      summary: 'Chats in PostgreSQL, multi-replica streaming, exact resume; the REST routes of Coder\'s chat API.',
      description: 'Generated from @chatd/protocol (buildOpenApiDocument); the prose contract is docs/contract.md. Sockets (the stream over WebSocket and SSE, watch, inbox) are described in docs/asyncapi.json. Every route answers under both /api/experimental/chats and /api/v2/chats.',
      license: { name: 'AGPL-3.0-only', identifier: 'AGPL-3.0-only' },
    },
    servers: [{ url: '/', description: 'Any replica.' }],
    security: USER_SECURITY,
    tags: [...new Set(API_ROUTES.map((r) => r.tag))].sort().map((name) => ({ name })),
    paths: sortedPaths,
    components: {
      schemas: componentSchemas('draft-2020-12'),
      responses: {
        Error: { description: `An error (contract.md#errors): ${ERROR_STATUSES.join('; ')}.`, content: { 'application/json': { schema: ref('ApiError') } } },
        RateLimited: {
          description: 'Too many: the message queue is full, a socket cap, or a rate limit (git refreshes, failed authentications, writes, uploads), contract.md#errors.',
          headers: { 'Retry-After': { description: 'Whole seconds until the request may succeed (rate limits only).', schema: { type: 'string', pattern: '^[0-9]+$' } } },
          content: { 'application/json': { schema: ref('ApiError') } },
        },
      },
      securitySchemes: {
        sessionToken: { type: 'apiKey', in: 'header', name: 'Coder-Session-Token', description: 'An API token (contract.md#auth).' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: 'coder_session_token', description: 'A console session; same-origin only, writes must prove their origin (contract.md#csrf).' },
        bearerToken: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <token>`, the lowest priority (contract.md#auth).' },
        socketTicket: { type: 'apiKey', in: 'query', name: 'ticket', description: 'A single-use socket ticket for one stream, watch or inbox socket (contract.md#tickets).' },
      },
    },
  };
}

type SocketChannel = { id: string; address: string; message: string; summary: string; servers: readonly string[]; stream: boolean };

const SOCKET_CHANNELS: readonly SocketChannel[] = [
  { id: 'chatStream', address: `${API_BASE_PATH}/{chat}/stream`, message: 'StreamFrame', summary: 'A chat\'s events: snapshot, then live (contract.md#stream).', servers: ['websocket', 'sse'], stream: true },
  { id: 'chatStreamV2', address: `${API_V2_BASE_PATH}/{chat}/stream`, message: 'StreamFrame', summary: 'The stream under /api/v2/chats.', servers: ['websocket', 'sse'], stream: true },
  { id: 'watch', address: `${API_BASE_PATH}/watch`, message: 'WatchEvent', summary: 'Changes to the caller\'s chats (contract.md#watch).', servers: ['websocket'], stream: false },
  { id: 'watchV2', address: `${API_V2_BASE_PATH}/watch`, message: 'WatchEvent', summary: 'The watch socket under /api/v2/chats.', servers: ['websocket'], stream: false },
  { id: 'inboxWatch', address: '/api/v2/notifications/inbox/watch', message: 'InboxFrame', summary: 'Inbox notifications (contract.md#inbox-socket).', servers: ['websocket'], stream: false },
];

const MESSAGES: Record<string, { title: string; summary: string }> = {
  StreamFrame: { title: 'Stream frame', summary: 'A bare JSON array of 1-256 events; over SSE one `data:` line each, with an `id:` that resumes after it (contract.md#sse).' },
  WatchEvent: { title: 'Watch event', summary: 'One `ChatEvent` `{kind, chat, ...}` per text frame.' },
  InboxFrame: { title: 'Inbox frame', summary: 'One `{notification, unread_count}` per text frame.' },
};

/**
 * The replica link's frames as the AsyncAPI document shows them (contract.md#replica-link): a data frame's events
 * are stream events (the decoder checks each with `isStreamEvent`), which the codec's own schema leaves `unknown`.
 */
const REPLICA_LINK_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  ReplicaLinkControl: replicaLinkControlSchema,
  ReplicaLinkFrame: z.array(
    z.union([
      z.strictObject({ sid: z.int().positive(), events: z.array(chatStreamEventSchema) }),
      z.strictObject({ sid: z.int().positive(), end: z.strictObject({ reason: z.enum(REPLICA_LINK_END_REASONS) }) }),
    ]),
  ),
};

const REPLICA_LINK_MESSAGES: Record<string, { title: string; summary: string }> = {
  ReplicaLinkControl: { title: 'Replica link control frame', summary: 'Sent by the dialling replica, one per text frame: `sub` opens stream `sid` of a chat after an optional part cursor, `unsub` closes it; a malformed one is ignored.' },
  ReplicaLinkFrame: { title: 'Replica link data frame', summary: 'Sent by the generating replica: a JSON array of records, a stream\'s events of one event-loop turn or its end; the records of every stream with events in one turn share one frame.' },
};

/** The AsyncAPI 3 document of the sockets: the stream over WebSocket and SSE, the watch and the inbox sockets. */
export function buildAsyncApiDocument(): Json {
  const query = (stream: boolean) => {
    const params = stream ? [...STREAM_QUERY_PARAMETERS, TICKET_QUERY_PARAMETER] : [TICKET_QUERY_PARAMETER];
    return { type: 'object', properties: Object.fromEntries(params.map((p) => [p.name, { ...p.schema, description: p.description }])) };
  };
  const channels: Record<string, Json> = {};
  const operations: Record<string, Json> = {};
  for (const c of SOCKET_CHANNELS) {
    channels[c.id] = {
      address: c.address,
      summary: c.summary,
      messages: { [c.message]: { $ref: `#/components/messages/${c.message}` } },
      servers: c.servers.map((s) => ({ $ref: `#/servers/${s}` })),
      ...(c.stream ? { parameters: { chat: { description: 'The chat id (a UUID).' } } } : {}),
      bindings: { ws: { method: 'GET', query: query(c.stream), bindingVersion: '0.1.0' } },
    };
    operations[`receive${c.id[0]!.toUpperCase()}${c.id.slice(1)}`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${c.id}` },
      summary: `Frames the server sends on ${c.address}; frames a client sends are ignored.`,
      messages: [{ $ref: `#/channels/${c.id}/messages/${c.message}` }],
    };
  }
  // Between replicas only: the multiplexed relay of the default relay mode (contract.md#replica-link).
  channels['replicaLink'] = {
    address: REPLICA_LINK_PATH,
    summary: 'Between replicas: one socket per replica pair carrying every relayed chat (contract.md#replica-link). Not for clients.',
    messages: Object.fromEntries(Object.keys(REPLICA_LINK_MESSAGES).map((m) => [m, { $ref: `#/components/messages/${m}` }])),
    servers: [{ $ref: '#/servers/replicaLink' }],
    bindings: { ws: { method: 'GET', bindingVersion: '0.1.0' } },
  };
  operations['sendReplicaLinkControl'] = {
    action: 'send',
    channel: { $ref: '#/channels/replicaLink' },
    summary: 'The dialling replica opens and closes relayed streams.',
    messages: [{ $ref: '#/channels/replicaLink/messages/ReplicaLinkControl' }],
  };
  operations['receiveReplicaLinkFrame'] = {
    action: 'receive',
    channel: { $ref: '#/channels/replicaLink' },
    summary: 'The generating replica sends the streams\' parts and ends.',
    messages: [{ $ref: '#/channels/replicaLink/messages/ReplicaLinkFrame' }],
  };
  const security = ['sessionToken', 'sessionCookie', 'bearerToken', 'socketTicket'].map((s) => ({ $ref: `#/components/securitySchemes/${s}` }));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'chatd sockets',
      version: API_DESCRIPTION_VERSION,
      description: 'Generated from @chatd/protocol (buildAsyncApiDocument). The stream socket (WebSocket, or Server-Sent Events without an upgrade), the watch socket and the inbox socket, and the replica link between replicas; the REST routes are in docs/openapi.json, the prose in docs/contract.md. Authentication, caps and the cursor are checked before the upgrade; a refusal is an HTTP error body (ApiError).',
      license: { name: 'AGPL-3.0-only' },
    },
    defaultContentType: 'application/json',
    servers: {
      websocket: { host: '{host}', protocol: 'ws', description: 'WebSocket (no compression); `wss` behind TLS. Keep-alive is protocol ping/pong every 15 s.', variables: { host: { default: 'localhost:8080', description: 'Any replica.' } }, security },
      replicaLink: { host: '{host}', protocol: 'ws', description: 'A replica\'s relay address, dialled by its peers only (contract.md#replica-link); `401` without a verified replica credential, `403` on a server without a replica registry.', variables: { host: { default: 'localhost:8080', description: 'A peer replica.' } }, security: [{ $ref: '#/components/securitySchemes/replicaCredential' }] },
      sse: { host: '{host}', protocol: 'http', description: 'The stream route without an upgrade and with `Accept: text/event-stream`: Server-Sent Events, `Last-Event-ID` resumes (contract.md#sse).', variables: { host: { default: 'localhost:8080', description: 'Any replica.' } }, security },
    },
    channels,
    operations,
    components: {
      schemas: componentSchemas('draft-7', REPLICA_LINK_SCHEMAS),
      messages: Object.fromEntries(Object.entries({ ...MESSAGES, ...REPLICA_LINK_MESSAGES }).map(([name, m]) => [name, { name, title: m.title, summary: m.summary, contentType: 'application/json', payload: ref(name) }])),
      securitySchemes: {
        sessionToken: { type: 'httpApiKey', in: 'header', name: 'Coder-Session-Token', description: 'An API token (contract.md#auth).' },
        sessionCookie: { type: 'httpApiKey', in: 'cookie', name: 'coder_session_token', description: 'A console session, same-origin only.' },
        bearerToken: { type: 'http', scheme: 'bearer', description: '`Authorization: Bearer <token>`.' },
        socketTicket: { type: 'httpApiKey', in: 'query', name: 'ticket', description: 'A single-use socket ticket (contract.md#tickets).' },
        replicaCredential: { type: 'httpApiKey', in: 'header', name: 'X-Chatd-Replica-Credential', description: 'The dialling replica\'s credential from the replica registry (contract.md#replica-credential); checked again after each keep-alive ping.' },
      },
    },
  };
}
