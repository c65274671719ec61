// The route table of the chat API (contract.md#routes) as data: method, path, the named schemas of the request and
// of each answer, parameters and who may call it. api-description.ts turns it into the OpenAPI document; nothing
// here runs a request. Paths are relative to the chat API's base unless they start with `/` at the server root
// (`root: true`). Schema names are the keys of API_SCHEMAS (api-description.ts).

/** Where a parameter is read from. */
export type ApiParameterIn = 'path' | 'query' | 'header';

/** One parameter of a route. */
export type ApiParameter = {
  name: string;
  in: ApiParameterIn;
  description: string;
  /** A JSON Schema of the value as text. */
  schema: Record<string, unknown>;
  required?: boolean;
};

/** One answer of a route: its body is JSON of a named schema (`schema`, or an array of it), or of another type. */
export type ApiResponse = {
  description: string;
  schema?: string;
  array?: boolean;
  /** A non-JSON body: the media type(s) it may have. */
  media?: readonly string[];
};

/** Who may call a route. */
export type ApiAccess = 'user' | 'admin' | 'public' | 'socket';

/** One route of the API. */
export type ApiRoute = {
  id: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  /** A path at the server root, not under the chat API's bases. */
  root?: boolean;
  summary: string;
  /** The contract.md anchor that describes it. */
  anchor: string;
  tag: string;
  access: ApiAccess;
  parameters?: readonly ApiParameter[];
  /** A JSON body of a named schema, or raw bytes of the listed media types. */
  body?: { schema: string } | { media: readonly string[] };
  responses: Readonly<Record<string, ApiResponse>>;
  /** Error statuses this route documents besides 400, 401, 429 and 500 (every route may answer those). */
  errors?: readonly number[];
};

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const INT64_TEXT_PATTERN = '^(0|[1-9][0-9]{0,18})$';

const uuidParam = (name: string, description: string): ApiParameter => ({ name, in: 'path', description, required: true, schema: { type: 'string', pattern: UUID_PATTERN } });
const chatParam = uuidParam('chat', 'The chat id (a UUID); another user\'s chat is a 404 like a missing one.');
const int64Query = (name: string, description: string): ApiParameter => ({ name, in: 'query', description, schema: { type: 'string', pattern: INT64_TEXT_PATTERN } });

/** The stream cursor (contract.md#stream-query), on the WebSocket and SSE stream alike. */
export const STREAM_QUERY_PARAMETERS: readonly ApiParameter[] = [
  int64Query('after_id', 'Messages with a higher id are sent (int64 text; never parse it into a JS number). Default 0.'),
  { name: 'after_seq', in: 'query', description: 'Our part cursor: parts of `run_id` after this seq (with `run_id`).', schema: { type: 'string', pattern: '^(0|[1-9][0-9]*)$' } },
  { name: 'run_id', in: 'query', description: 'Our part cursor: the run `after_seq` counts in (with `after_seq`).', schema: { type: 'string', pattern: UUID_PATTERN } },
];

/** `?ticket=`: a single-use socket ticket (contract.md#tickets). */
export const TICKET_QUERY_PARAMETER: ApiParameter = { name: 'ticket', in: 'query', description: 'A single-use socket ticket (contract.md#tickets); wins over any token of the request.', schema: { type: 'string' } };

const JSON_OK = (schema: string, description: string, array = false): ApiResponse => ({ description, schema, ...(array ? { array } : {}) });
const EMPTY = (description: string): ApiResponse => ({ description });

/** The media types a file upload may have (contract.md#files). */
export const FILE_UPLOAD_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain', 'text/markdown', 'text/csv', 'application/json'] as const;

/** Every route of the API, in the contract's order. */
export const API_ROUTES: readonly ApiRoute[] = [
  { id: 'createChat', method: 'post', path: '', summary: 'Create a chat with its first user message', anchor: 'create-chat', tag: 'chats', access: 'user', body: { schema: 'CreateChatRequest' }, responses: { 201: JSON_OK('Chat', 'The new chat, status `pending`.') }, errors: [403, 409, 413] },
  {
    id: 'listChats', method: 'get', path: '', summary: 'List the caller\'s chats, most recently updated first', anchor: 'list-chats', tag: 'chats', access: 'user',
    parameters: [
      { name: 'archived', in: 'query', description: '`true`: only archived chats; otherwise only the others.', schema: { type: 'string', enum: ['true', 'false'] } },
      { name: 'limit', in: 'query', description: '1-200, default 50.', schema: { type: 'string', pattern: '^[0-9]+$' } },
      { name: 'offset', in: 'query', description: 'Default 0.', schema: { type: 'string', pattern: '^[0-9]+$' } },
    ],
    responses: { 200: JSON_OK('Chat', 'A page of chats.', true) },
  },
  { id: 'getChat', method: 'get', path: '/{chat}', summary: 'Read a chat', anchor: 'chat', tag: 'chats', access: 'user', parameters: [chatParam], responses: { 200: JSON_OK('Chat', 'The chat.') }, errors: [404] },
  { id: 'patchChat', method: 'patch', path: '/{chat}', summary: 'Change a chat\'s title or archive it', anchor: 'patch-chat', tag: 'chats', access: 'user', parameters: [chatParam], body: { schema: 'PatchChatRequest' }, responses: { 204: EMPTY('Changed.') }, errors: [404] },
  {
    id: 'listMessages', method: 'get', path: '/{chat}/messages', summary: 'Read the history, a page at a time', anchor: 'list-messages', tag: 'messages', access: 'user',
    parameters: [
      chatParam,
      int64Query('before_id', 'Messages below this id, newest first.'),
      int64Query('after_id', 'Messages above this id; alone: the oldest `limit` after it, ascending.'),
      { name: 'limit', in: 'query', description: '1-200, default 50.', schema: { type: 'string', pattern: '^[0-9]+$' } },
    ],
    responses: { 200: JSON_OK('MessagesPage', 'One page of the visible messages.') },
    errors: [404],
  },
  { id: 'sendMessage', method: 'post', path: '/{chat}/messages', summary: 'Send a message (queued while the chat is busy)', anchor: 'send-message', tag: 'messages', access: 'user', parameters: [chatParam], body: { schema: 'SendMessageRequest' }, responses: { 200: JSON_OK('SendMessageResponse', 'The message, stored or queued.') }, errors: [404, 409, 413] },
  {
    id: 'editMessage', method: 'patch', path: '/{chat}/messages/{message}', summary: 'Edit a user message (hides it and every later one)', anchor: 'edit', tag: 'messages', access: 'user',
    parameters: [chatParam, { name: 'message', in: 'path', required: true, description: 'The id of the user message to edit (a positive integer).', schema: { type: 'string', pattern: '^[1-9][0-9]*$' } }],
    body: { schema: 'EditMessageRequest' },
    responses: { 200: JSON_OK('EditMessageResponse', 'The new user message and the ids the edit hid.') },
    errors: [404, 409, 413],
  },
  {
    id: 'interruptChat', method: 'post', path: '/{chat}/interrupt', summary: 'Stop the running turn', anchor: 'interrupt', tag: 'chats', access: 'user',
    parameters: [chatParam, { name: 'wait', in: 'query', description: '`true`: answer once the run has ended (at most 30 s).', schema: { type: 'string', enum: ['true', 'false'] } }],
    responses: { 200: JSON_OK('Chat', 'The chat.') },
    errors: [404],
  },
  {
    id: 'deleteQueuedMessage', method: 'delete', path: '/{chat}/queue/{id}', summary: 'Remove a queued message', anchor: 'queue-routes', tag: 'messages', access: 'user',
    parameters: [chatParam, { name: 'id', in: 'path', required: true, description: 'The queued message id (int64 text).', schema: { type: 'string' } }],
    responses: { 204: EMPTY('Removed (also when it was already gone).') },
    errors: [404],
  },
  {
    id: 'promoteQueuedMessage', method: 'post', path: '/{chat}/queue/{id}/promote', summary: 'Move a queued message into the history now', anchor: 'queue-routes', tag: 'messages', access: 'user',
    parameters: [chatParam, { name: 'id', in: 'path', required: true, description: 'The queued message id (int64 text).', schema: { type: 'string' } }],
    responses: { 200: JSON_OK('ChatMessage', 'The message as stored.') },
    errors: [404],
  },
  {
    id: 'streamChat', method: 'get', path: '/{chat}/stream', summary: 'The chat\'s event stream: a WebSocket upgrade, or Server-Sent Events', anchor: 'stream', tag: 'sockets', access: 'socket',
    parameters: [chatParam, ...STREAM_QUERY_PARAMETERS, TICKET_QUERY_PARAMETER, { name: 'Last-Event-ID', in: 'header', description: 'SSE: the `id:` of the last event seen; replaces the query\'s cursor.', schema: { type: 'string' } }],
    responses: {
      101: EMPTY('Switching Protocols: a WebSocket of stream frames (asyncapi.json, channel `chatStream`).'),
      200: { description: 'With `Accept: text/event-stream`: Server-Sent Events, one `data:` line of a stream frame each (asyncapi.json).', media: ['text/event-stream'] },
      426: JSON_OK('ApiError', 'Neither a WebSocket upgrade nor `Accept: text/event-stream`.'),
    },
    errors: [404],
  },
  { id: 'watchChats', method: 'get', path: '/watch', summary: 'The per-user watch socket (WebSocket upgrade only)', anchor: 'watch', tag: 'sockets', access: 'socket', parameters: [TICKET_QUERY_PARAMETER], responses: { 101: EMPTY('Switching Protocols: a WebSocket of watch frames (asyncapi.json, channel `watch`).') } },
  { id: 'watchInbox', method: 'get', path: '/api/v2/notifications/inbox/watch', root: true, summary: 'The inbox notification socket (WebSocket upgrade only)', anchor: 'inbox-socket', tag: 'sockets', access: 'socket', parameters: [TICKET_QUERY_PARAMETER], responses: { 101: EMPTY('Switching Protocols: a WebSocket of inbox frames (asyncapi.json, channel `inboxWatch`).') } },
  { id: 'createStreamTicket', method: 'post', path: '/{chat}/stream-ticket', summary: 'Mint a single-use ticket for one stream socket', anchor: 'tickets', tag: 'sockets', access: 'user', parameters: [chatParam], responses: { 200: JSON_OK('SocketTicket', 'The ticket, valid 60 s.') }, errors: [404] },
  { id: 'createWatchTicket', method: 'post', path: '/watch-ticket', summary: 'Mint a single-use ticket for one watch or inbox socket', anchor: 'tickets', tag: 'sockets', access: 'user', responses: { 200: JSON_OK('SocketTicket', 'The ticket, valid 60 s.') } },
  { id: 'submitToolResults', method: 'post', path: '/{chat}/tool-results', summary: 'Answer the pending client-executed tool calls', anchor: 'tool-results', tag: 'chats', access: 'user', parameters: [chatParam], body: { schema: 'ToolResultsRequest' }, responses: { 204: EMPTY('Accepted; the next step runs.') }, errors: [404, 409] },
  {
    id: 'uploadFile', method: 'post', path: '/files', summary: 'Upload a file (the raw bytes, with their Content-Type)', anchor: 'files', tag: 'files', access: 'user',
    parameters: [{ name: 'organization', in: 'query', description: 'An organization of the caller (a UUID).', schema: { type: 'string', pattern: UUID_PATTERN } }, { name: 'Content-Disposition', in: 'header', description: 'The file\'s name (`filename*=` wins over `filename=`).', schema: { type: 'string' } }],
    body: { media: FILE_UPLOAD_MEDIA_TYPES },
    responses: { 201: JSON_OK('UploadedFile', 'The file\'s id.') },
    errors: [403, 413, 415],
  },
  { id: 'getFile', method: 'get', path: '/files/{id}', summary: 'Download a file you uploaded', anchor: 'files', tag: 'files', access: 'user', parameters: [uuidParam('id', 'The file id.')], responses: { 200: { description: 'The bytes, with their type.', media: FILE_UPLOAD_MEDIA_TYPES } }, errors: [404] },
  { id: 'listModelConfigs', method: 'get', path: '/model-configs', summary: 'List the model configurations', anchor: 'model-configs', tag: 'models', access: 'user', responses: { 200: JSON_OK('ChatModelConfig', 'Every configuration.', true) } },
  { id: 'createModelConfig', method: 'post', path: '/model-configs', summary: 'Create a model configuration (admin)', anchor: 'model-configs', tag: 'models', access: 'admin', body: { schema: 'ModelConfigRequest' }, responses: { 201: JSON_OK('ChatModelConfig', 'The new configuration.') }, errors: [403, 409] },
  { id: 'updateModelConfig', method: 'patch', path: '/model-configs/{id}', summary: 'Change a model configuration (admin)', anchor: 'model-configs', tag: 'models', access: 'admin', parameters: [uuidParam('id', 'The configuration id.')], body: { schema: 'ModelConfigPatch' }, responses: { 200: JSON_OK('ChatModelConfig', 'The configuration.') }, errors: [403, 404, 409] },
  { id: 'deleteModelConfig', method: 'delete', path: '/model-configs/{id}', summary: 'Delete a model configuration (admin)', anchor: 'model-configs', tag: 'models', access: 'admin', parameters: [uuidParam('id', 'The configuration id.')], responses: { 204: EMPTY('Deleted.') }, errors: [403, 404, 409] },
  { id: 'listProviders', method: 'get', path: '/providers', summary: 'List the model providers (admin)', anchor: 'models', tag: 'models', access: 'admin', responses: { 200: JSON_OK('ChatProvider', 'Every provider.', true) }, errors: [403] },
  { id: 'createProvider', method: 'post', path: '/providers', summary: 'Create a model provider (admin)', anchor: 'models', tag: 'models', access: 'admin', body: { schema: 'ProviderRequest' }, responses: { 201: JSON_OK('ChatProvider', 'The new provider.') }, errors: [403, 409] },
  { id: 'updateProvider', method: 'patch', path: '/providers/{id}', summary: 'Change a model provider (admin)', anchor: 'models', tag: 'models', access: 'admin', parameters: [uuidParam('id', 'The provider id.')], body: { schema: 'ProviderPatch' }, responses: { 200: JSON_OK('ChatProvider', 'The provider.') }, errors: [403, 404, 409] },
  { id: 'deleteProvider', method: 'delete', path: '/providers/{id}', summary: 'Delete a model provider (admin)', anchor: 'models', tag: 'models', access: 'admin', parameters: [uuidParam('id', 'The provider id.')], responses: { 204: EMPTY('Deleted.') }, errors: [403, 404, 409] },
  { id: 'compactChat', method: 'post', path: '/{chat}/compact', summary: 'Compact the chat\'s history now or before its next step', anchor: 'compaction', tag: 'chats', access: 'user', parameters: [chatParam], responses: { 202: EMPTY('Accepted.') }, errors: [404, 409] },
  { id: 'proposeTitle', method: 'post', path: '/{chat}/title/propose', summary: 'Propose a title (nothing is stored)', anchor: 'generated-titles', tag: 'chats', access: 'user', parameters: [chatParam], responses: { 200: JSON_OK('ProposedTitle', 'The proposed title.') }, errors: [404] },
  { id: 'getDeploymentConfig', method: 'get', path: '/config', summary: 'Read the deployment settings (admin)', anchor: 'deployment-settings', tag: 'admin', access: 'admin', responses: { 200: JSON_OK('DeploymentConfig', 'The settings.') }, errors: [403] },
  { id: 'patchDeploymentConfig', method: 'patch', path: '/config', summary: 'Change the deployment settings (admin)', anchor: 'deployment-settings', tag: 'admin', access: 'admin', body: { schema: 'DeploymentConfigPatch' }, responses: { 200: JSON_OK('DeploymentConfig', 'The new settings.') }, errors: [403] },
  { id: 'getChatCost', method: 'get', path: '/{chat}/cost', summary: 'The chat\'s model cost', anchor: 'cost', tag: 'cost', access: 'user', parameters: [chatParam], responses: { 200: JSON_OK('ChatCost', 'The totals of the chat\'s ledger.') }, errors: [404] },
  { id: 'getSpendLimit', method: 'get', path: '/users/{user}/spend-limit', summary: 'A user\'s spend limit and where they stand (admin, or the user)', anchor: 'spend-limits', tag: 'cost', access: 'user', parameters: [uuidParam('user', 'The user id.')], responses: { 200: JSON_OK('SpendLimit', 'The limit, `spent_micros` and `resets_at`.') }, errors: [404] },
  { id: 'putSpendLimit', method: 'put', path: '/users/{user}/spend-limit', summary: 'Set a user\'s spend limit (admin)', anchor: 'spend-limits', tag: 'cost', access: 'admin', parameters: [uuidParam('user', 'The user id.')], body: { schema: 'SpendLimitRequest' }, responses: { 200: JSON_OK('SpendLimit', 'The limit.') }, errors: [403, 404] },
  { id: 'deleteSpendLimit', method: 'delete', path: '/users/{user}/spend-limit', summary: 'Remove a user\'s spend limit (admin)', anchor: 'spend-limits', tag: 'cost', access: 'admin', parameters: [uuidParam('user', 'The user id.')], responses: { 204: EMPTY('Removed.') }, errors: [403] },
  { id: 'reportGitPush', method: 'put', path: '/{chat}/git', summary: 'Report a push of the chat\'s branch', anchor: 'git-routes', tag: 'git', access: 'user', parameters: [chatParam], body: { schema: 'GitPushRequest' }, responses: { 204: EMPTY('Recorded; the status becomes stale.') }, errors: [404] },
  { id: 'getDiffStatus', method: 'get', path: '/{chat}/diff-status', summary: 'The chat\'s git diff status', anchor: 'git-routes', tag: 'git', access: 'user', parameters: [chatParam], responses: { 200: JSON_OK('ChatDiffStatus', 'The status (a zero value when there is none).') }, errors: [404] },
  { id: 'listReplicas', method: 'get', path: '/replicas', summary: 'The live replicas (multi-replica servers only)', anchor: 'replicas-route', tag: 'operations', access: 'user', responses: { 200: JSON_OK('Replica', 'The live replicas.', true) }, errors: [404] },
  { id: 'getOpenApiDocument', method: 'get', path: '/openapi.json', summary: 'This document (unauthenticated)', anchor: 'api-description', tag: 'operations', access: 'public', responses: { 200: { description: 'The OpenAPI 3.1 document of this API.', media: ['application/json'] } } },
  { id: 'healthz', method: 'get', path: '/healthz', root: true, summary: 'The process is up', anchor: 'operations', tag: 'operations', access: 'public', responses: { 200: JSON_OK('ProbeStatus', '`{"status":"ok"}`.') } },
  { id: 'readyz', method: 'get', path: '/readyz', root: true, summary: 'Ready to serve (database, migrations, LISTEN)', anchor: 'operations', tag: 'operations', access: 'public', responses: { 200: JSON_OK('ProbeStatus', '`{"status":"ready"}`.'), 503: JSON_OK('ProbeStatus', '`{"status":"not ready"}`.') } },
  { id: 'metrics', method: 'get', path: '/metrics', root: true, summary: 'Prometheus metrics', anchor: 'operations', tag: 'operations', access: 'public', responses: { 200: { description: 'The Prometheus text format 0.0.4.', media: ['text/plain'] } } },
];
