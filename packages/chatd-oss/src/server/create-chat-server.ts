// The chat API server on node:http + ws (contract.md#wire): REST routes, the per-chat stream socket
// (bare-array frames, part cursor, coalescing), the per-user watch and inbox sockets, /healthz, /readyz,
// /metrics; every chat route also under /api/v2/chats (contract.md#v2-routes).
// Auth runs before anything else (cookie requests first pass the CSRF guard; clients that keep failing get a
// 429); then the socket caps (429 before any upgrade); a malformed stream query is a 400 before the upgrade.
// Every socket is closed when its token is revoked or, at a keep-alive tick, found expired. Readiness and
// metrics share one database probe a second. It wires existing parts together; the store, subscriber and
// publisher do the work.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Clock, Ticker } from '@chatd/clock';
import { REPLICA_LINK_PATH, buildOpenApiDocument, parseStreamQuery, type Chat } from '@chatd/protocol';
import type { PubSub } from '@chatd/pubsub';
import { ChatdError, isChatdError } from '../chatd-error.js';
import { checkCookieRequest } from './cookie-origin.js';
import type { ChatGitSync } from '../gitsync/chat-git-sync.js';
import type { Identity, IdentityStore } from '../identity/identity-store.js';
import type { ChatPublisher } from '../publish/chat-publisher.js';
import type { ChatStore } from '../store/chat-store.js';
import type { ModelConfigStore } from '../store/model-config-store.js';
import type { ChatSubscriber, StreamSink } from '../subscribe/chat-subscriber.js';
import type { SyncSafetyNet } from '../subscribe/sync-safety-net.js';
import type { Logger } from '../logger.js';
import { createAuthGuard, type AuthGuard } from './auth-guard.js';
import { NO_TRUSTED_PROXIES, type TrustedProxies } from './client-address.js';
import { createChatRoutes, matchRoute, type RouteHandler } from './chat-routes.js';
import type { CostStore } from '../cost/cost-store.js';
import type { WriteLimiter } from '../cost/write-limiter.js';
import { createCostRoutes } from '../cost/cost-routes.js';
import { createGitRoutes } from './git-routes.js';
import { createFileRoutes } from './file-routes.js';
import type { FileStore } from '../store/file-store.js';
import { createCompactionRoutes, type CompactionRoutesDeps } from './compaction-routes.js';
import { errorResponse, type ErrorBody } from './error-response.js';
import { sendJson } from './http-io.js';
import { createConnectionCaps, type ConnectionCaps, type ConnectionCapsOptions, type ConnectionOwner } from './connection-caps.js';
import { DEFAULT_LISTEN_BACKLOG } from './listen-backlog.js';
import { startPingKeepAlive } from './ping-keepalive.js';
import { RELAY_SUBSCRIBER_HEADER, hasRelaySourceHeader, relaySubscriber, stripRelaySourceHeader, stripRelaySubscriber, toFetchHeaders, type VerifiedReplica, type VerifyReplicaCredential } from './replica-credential.js';
import { extractSessionToken } from '@chatd/protocol';
import { nodeHeaderGetter } from './auth.js';
import { createNotifyProbe } from './notify-probe.js';
import { serveReplicaLink } from './replica-link-route.js';
import { createServerMetrics, type ServerMetrics } from './server-metrics.js';
import { createStreamSender, type StreamSenderOptions } from './stream-sender.js';
import { createSseStreamSocket, type SseStreamSocket } from './sse-stream-socket.js';
import { createTicketRoutes } from './ticket-routes.js';
import { createCorsPolicy } from './cors.js';
import type { SocketTicketStore, TicketScope } from '../identity/socket-ticket-store.js';
import { TOKEN_REVOKED_CLOSE_CODE, TOKEN_REVOKED_CLOSE_REASON, createTokenRevocation, type TokenRevocation } from './token-revocation.js';
import { createWatchHub, type WatchTopic } from './watch-hub.js';
import { createWatchSender, inboxFrame, type WatchFrame, type WatchSenderOptions } from './watch-sender.js';
import { traceHttpRequest, traceSocketSession } from '../telemetry/server-spans.js';

/** Base path of the chat API. */
export const CHATS_BASE_PATH = '/api/experimental/chats';
/** The same API under the original's stable path (contract.md#v2-routes): every route answers there exactly as under CHATS_BASE_PATH. */
export const CHATS_V2_BASE_PATH = '/api/v2/chats';
/** The OpenAPI document's path under either base (contract.md#api-description); unauthenticated. */
export const OPENAPI_DOCUMENT_PATH = '/openapi.json';
/** The inbox notification socket (contract.md#inbox-socket). */
export const INBOX_WATCH_PATH = '/api/v2/notifications/inbox/watch';

/**
 * The path relative to the chat API's base (`''` for the base itself, else starting with `/`) when `pathname` is
 * under either base path, else undefined. Relays keep dialing CHATS_BASE_PATH, so mixed-version clusters agree.
 */
export function chatsRelativePath(pathname: string): string | undefined {
  for (const base of [CHATS_BASE_PATH, CHATS_V2_BASE_PATH]) {
    if (pathname === base || pathname.startsWith(`${base}/`)) return pathname.slice(base.length);
  }
  return undefined;
}
/** Protocol ping interval of both sockets; a peer that misses two pongs is dropped. @default 15000 */
export const DEFAULT_PING_INTERVAL_MS = 15_000;
/** Largest message a client may send on a socket (clients send nothing meaningful). @default 64 KiB */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;
/** How long one database probe answers /readyz and /metrics: at most one probe per interval, whatever the request rate. @default 1000 */
export const DEFAULT_DB_PROBE_INTERVAL_MS = 1_000;

/** What one database probe read besides "the database answers". */
export type DatabaseProbe = { notifyQueueUsage?: number; pendingChats?: number };

/** Extra routes mounted by other packages (e.g. the enterprise replica list). */
export type ExtraRoute = { method: string; path: string; auth: boolean; handler: (req: IncomingMessage, res: ServerResponse, who: Identity | undefined) => Promise<void> };

/** Dependencies and options of `createChatServer`. */
export type ChatServerOptions = {
  chats: ChatStore;
  /** Names of the server tools (`unsafe_dynamic_tools` may not reuse them). */
  serverToolNames?: ReadonlySet<string>;
  identity: IdentityStore;
  modelConfigs: ModelConfigStore;
  pubsub: PubSub;
  publisher: ChatPublisher;
  subscriber: ChatSubscriber;
  /** The sync safety net whose counters /metrics reports (contract.md#sync-safety-net). */
  syncSafetyNet?: Pick<SyncSafetyNet, 'metrics'>;
  clock: Clock;
  logger: Logger;
  /** Readiness probe beyond "the database answers" (e.g. LISTEN connected, migrations done). */
  ready?: () => Promise<boolean> | boolean;
  /**
   * The database probe behind /readyz and /metrics (run at most once per `dbProbeIntervalMs`): resolves when the
   * database answers, with PostgreSQL's NOTIFY queue usage (0-1, alone or as `notifyQueueUsage`) and the number of
   * pending chats when the same query read them.
   */
  pingDatabase: () => Promise<number | void | DatabaseProbe>;
  /** @default DEFAULT_DB_PROBE_INTERVAL_MS */
  dbProbeIntervalMs?: number;
  /** Authentication with the per-client failure budget. @default a guard on `identity` with the default limits */
  authGuard?: AuthGuard;
  /** The origin browsers reach this server at (`CHATD_PUBLIC_URL`), for the cookie CSRF guard. @default the request's own */
  publicOrigin?: string;
  /** Proxies whose forwarding headers are believed (`CHATD_TRUSTED_PROXIES`). @default nobody */
  trustedProxies?: TrustedProxies;
  /** How long a positive keep-alive re-check of a token is reused. @default DEFAULT_TOKEN_RECHECK_CACHE_MS */
  tokenRecheckCacheMs?: number;
  metrics?: ServerMetrics;
  pingIntervalMs?: number;
  sender?: Pick<StreamSenderOptions, 'coalesceThresholdBytes' | 'maxQueuedBytes'>;
  /** Watch socket back-pressure: coalescing threshold and the hard limit past which it is cut (see watch-sender.ts). */
  watchSender?: Pick<WatchSenderOptions, 'coalesceThresholdBytes' | 'maxQueuedBytes'>;
  extraRoutes?: ExtraRoute[];
  /** Compaction and titles (contract.md#compaction): mounts `/{chat}/compact`, `/{chat}/title/propose` and `/config`. */
  compaction?: Omit<CompactionRoutesDeps, 'chats' | 'publisher'>;
  /** Uploaded files (contract.md#files): mounts `POST /files` and `GET /files/{id}` and allows `file` parts in content. */
  files?: FileStore;
  /** Uploads a user may make per minute. @default DEFAULT_FILE_UPLOADS_PER_MINUTE (file-routes.ts) */
  fileUploadsPerMinute?: number;
  /** Git/PR status (issue 13): mounts PUT /{chat}/git and GET /{chat}/diff-status and adds `diff_status` to chats. */
  gitsync?: ChatGitSync;
  /** Socket caps per user, per peer replica and in all (issue 21). @default the `DEFAULT_MAX_*` constants of connection-caps */
  caps?: ConnectionCapsOptions;
  /** Accept backlog of the listening socket (listen-backlog.ts). @default DEFAULT_LISTEN_BACKLOG */
  listenBacklog?: number;
  /**
   * Recognises relay legs by their replica credential (the enterprise registry). Without it, or when it answers
   * undefined, a stream request with the relay source header is an ordinary user socket and the header is dropped.
   */
  verifyReplicaCredential?: VerifyReplicaCredential;
  /** Socket tickets (contract.md#tickets): mounts `/{chat}/stream-ticket` and `/watch-ticket` and accepts `?ticket=` on sockets. */
  tickets?: SocketTicketStore;
  /** Origins allowed cross-origin access with a token (`CHATD_CORS_ORIGINS`, contract.md#cors). @default none */
  corsOrigins?: readonly string[];
  /** The cost ledger and spend limits (contract.md#cost): mounts `/{chat}/cost` and the spend-limit routes, and refuses writes past a limit. */
  costs?: CostStore;
  /** The per-user write rate limit (contract.md#cost): every non-GET API request takes a token. @default none */
  writeLimiter?: WriteLimiter;
};

/** A running server. */
export interface ChatServer {
  readonly http: http.Server;
  readonly metrics: ServerMetrics;
  /** The socket caps and the slots held now. */
  readonly caps: ConnectionCaps;
  /** Open sockets by the token they were authenticated with. */
  readonly revocation: TokenRevocation;
  /** Listens on `port` (0 = any) at `host`; resolves with the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, closes every socket, and waits for the server to close. */
  close(): Promise<void>;
}

/** The request target as a URL; a target that is no URL is bad input (400), not a fault. */
function parseRequestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch (cause) {
    throw new ChatdError('INVALID_INPUT', 'Invalid request target.', { cause });
  }
}

/** Decodes one path segment; malformed percent-encoding (`/%`) is bad input, not a fault. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (cause) {
    throw new ChatdError('INVALID_INPUT', 'Invalid path: malformed percent-encoding.', { cause });
  }
}

/** Whether the request accepts Server-Sent Events (`Accept` names `text/event-stream`). */
function acceptsEventStream(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.split(',').some((t) => t.split(';')[0]!.trim().toLowerCase() === 'text/event-stream');
}

/** Holds a socket's writes until the end of this event-loop turn, then sends them together (one writev). */
function corkForTurn(socket: Duplex): void {
  socket.cork();
  setImmediate(() => socket.uncork());
}

function writeUpgradeError(socket: Duplex, status: number, body: ErrorBody, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n${extra}connection: close\r\n\r\n${text}`,
  );
}

/** Creates the chat API server (not yet listening). */
export function createChatServer(options: ChatServerOptions): ChatServer {
  const { logger, clock } = options;
  const metrics = options.metrics ?? createServerMetrics();
  const routes = [
    // Before the chat routes: `/config`, `/files` and `/watch-ticket` would otherwise be read as chat ids.
    ...(options.files
      ? createFileRoutes({
          files: options.files,
          identity: options.identity,
          clock,
          ...(options.fileUploadsPerMinute !== undefined ? { uploadsPerMinute: options.fileUploadsPerMinute } : {}),
          onUpload: (outcome) => metrics.inc('chatd_file_uploads_total', 1, { outcome }),
        })
      : []),
    ...(options.tickets ? createTicketRoutes({ chats: options.chats, tickets: options.tickets }) : []),
    ...(options.compaction ? createCompactionRoutes({ chats: options.chats, publisher: options.publisher, ...options.compaction }) : []),
    ...(options.costs ? createCostRoutes({ chats: options.chats, costs: options.costs }) : []),
    ...createChatRoutes(options),
    ...(options.gitsync ? createGitRoutes({ chats: options.chats, gitsync: options.gitsync }) : []),
  ];
  const pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_CLIENT_FRAME_BYTES });
  const sockets = new Set<WebSocket>();
  const sseStreams = new Set<SseStreamSocket>();
  const watchHub = createWatchHub({ pubsub: options.pubsub, chats: options.chats, metrics, logger, ...(options.gitsync ? { gitsync: options.gitsync } : {}) });
  const caps = createConnectionCaps(options.caps);
  const trustedProxies = options.trustedProxies ?? NO_TRUSTED_PROXIES;
  const cookiePolicy = { trustedProxies, ...(options.publicOrigin ? { publicOrigin: options.publicOrigin } : {}) };
  const guard = options.authGuard ?? createAuthGuard({ identity: options.identity, clock, metrics, trustedProxies });
  const revocation = createTokenRevocation({
    identity: options.identity,
    pubsub: options.pubsub,
    clock,
    logger,
    ...(options.tokenRecheckCacheMs !== undefined ? { recheckCacheMs: options.tokenRecheckCacheMs } : {}),
    onClosed: (reason) => metrics.inc('chatd_ws_revoked_total', 1, { reason }),
  });
  const cors = createCorsPolicy(options.corsOrigins ?? []);
  const notifyProbe = createNotifyProbe({ pubsub: options.pubsub, clock, metrics, logger });
  let closing = false;
  // Built on the first request and kept: the document depends on the code only.
  let openApiJson: string | undefined;

  const respondError = (res: ServerResponse, err: unknown) => {
    const { status, body, internal, headers } = errorResponse(err);
    if (isChatdError(err, 'SPEND_LIMIT')) metrics.inc('chatd_spend_limit_refusals_total');
    if (internal) logger.error({ err }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, status, body, headers);
  };

  /**
   * /readyz and /metrics share one database probe per interval: a flood of them costs at most one query a
   * second. A failed probe is kept for the interval too (a down database is not asked harder).
   */
  const dbProbeIntervalMs = options.dbProbeIntervalMs ?? DEFAULT_DB_PROBE_INTERVAL_MS;
  type Probe = { ok: boolean; usage?: number; pending?: number };
  let probe: { result: Promise<Probe>; atMs: number } | undefined;
  const probeDatabase = (): Promise<Probe> => {
    const now = clock.nowMs();
    if (probe && now - probe.atMs < dbProbeIntervalMs) return probe.result;
    metrics.inc('chatd_db_probes_total');
    const result = options.pingDatabase().then(
      (read): Probe => {
        if (typeof read === 'number') return { ok: true, usage: read };
        if (!read) return { ok: true };
        return { ok: true, ...(read.notifyQueueUsage !== undefined ? { usage: read.notifyQueueUsage } : {}), ...(read.pendingChats !== undefined ? { pending: read.pendingChats } : {}) };
      },
      (): Probe => ({ ok: false }),
    );
    probe = { result, atMs: now };
    notifyProbe.ping();
    return result;
  };

  /**
   * Protocol ping every interval; two unanswered pings drop the peer. A socket authenticated with a token also
   * re-checks it at each tick, and is closed like a revoked one when it is no longer active.
   */
  const keepAlive = (ws: WebSocket, tokenId: string): Ticker =>
    // An inactive token closes every socket of it here, this one included; one already closing asks nothing.
    startPingKeepAlive(ws, clock, pingIntervalMs, 'ws-ping', () => {
      void revocation.recheck(tokenId).then((active) => {
        if (!active) revocation.revoke(tokenId, 'recheck');
      });
    });

  /**
   * Registers an upgraded socket: counted, kept alive, and closed with 1008 `token revoked` when its token is
   * revoked (the subscription ends at once, before the close handshake). `cleanup` runs once.
   */
  const track = (ws: WebSocket, kind: 'stream' | 'watch', tokenId: string, cleanup: () => void) => {
    sockets.add(ws);
    metrics.inc('chatd_ws_connections', 1, { kind });
    let cleaned = false;
    const cleanOnce = () => {
      if (cleaned) return;
      cleaned = true;
      cleanup();
    };
    const revoked = () => {
      // Close first: ending the subscription would otherwise close the socket as a normal end of stream.
      ws.close(TOKEN_REVOKED_CLOSE_CODE, TOKEN_REVOKED_CLOSE_REASON);
      cleanOnce();
    };
    const unregister = revocation.register(tokenId, revoked);
    const ticker = keepAlive(ws, tokenId);
    ws.on('message', () => {
      // Client frames are ignored (contract.md#stream-frames).
    });
    ws.on('error', () => ws.terminate());
    ws.once('close', () => {
      sockets.delete(ws);
      metrics.inc('chatd_ws_connections', -1, { kind });
      ticker.stop();
      unregister();
      cleanOnce();
    });
  };

  /**
   * A stream socket. The subscription starts before the upgrade, and its setup read (one statement, after its
   * pubsub subscription) is also the ownership check: an unknown chat or another user's is a 404 before the upgrade
   * (contract.md#errors), and the socket is upgraded only then, before any event is pushed.
   */
  const handleStream = async (req: IncomingMessage, socket: Duplex, head: Buffer, who: Identity, chatId: string, url: URL) => {
    const cursor = parseStreamQuery(url);
    const headers = subscriberHeaders(req, who);
    let subscription: { close(): void } | undefined;
    let gone = false;
    let sender: ReturnType<typeof createStreamSender> | undefined;
    let ws: WebSocket | undefined;
    // The subscriber pushes only after `admit` set the sender; until then nothing reaches this sink.
    const sink: StreamSink = {
      push: (o) => sender?.push(o),
      end: (error) => sender?.end(error),
      ready: () => sender?.ready() ?? Promise.resolve(false),
    };
    const upgrade = () =>
      new Promise<WebSocket>((resolve, reject) => {
        // `ws` never calls back for a socket that closed meanwhile: the subscription must not wait for it.
        const gave = () => reject(new ChatdError('UNAVAILABLE', 'The client went away before the upgrade.'));
        if (socket.destroyed || !socket.readable || !socket.writable) {
          gave();
          return;
        }
        socket.once('close', gave);
        // The 101 and the snapshot's frame (flushed in this turn's microtasks, see chat-subscriber) leave in one
        // write: the raw socket is corked until the turn's end, one syscall per open instead of one per write.
        corkForTurn(socket);
        wss.handleUpgrade(req, socket, head, (upgraded) => {
          socket.off('close', gave);
          resolve(upgraded);
        });
      });
    const admit = async (chat: Chat) => {
      if (chat.owner_id !== who.user.id) throw new ChatdError('NOT_FOUND', 'chat not found');
      const upgraded = await upgrade();
      ws = upgraded;
      sender = createStreamSender(upgraded, { clock, metrics, ...options.sender, onClose: () => upgraded.close() });
      track(upgraded, 'stream', who.tokenId, () => {
        gone = true;
        subscription?.close();
      });
    };
    const subscribing = options.subscriber.subscribe(chatId, { ...cursor, requestHeader: headers, admit }, sink);
    try {
      subscription = await subscribing;
      if (gone) subscription.close();
    } catch (err) {
      // Before the upgrade the caller answers the error on the raw socket; after it, the socket closes with 1011.
      if (!ws) throw err;
      const { body, internal } = errorResponse(err);
      if (internal) logger.error({ err, chatId }, 'stream subscribe failed');
      ws.close(1011, body.message.slice(0, 120));
    }
  };

  /**
   * The watch socket (`topic` chats) and the inbox socket (`topic` inbox, contract.md#inbox-socket: one
   * `{notification, unread_count}` per frame; notifications are not stored, so none is ever read and
   * `unread_count` counts the notifications this socket has carried).
   */
  const handleWatch = async (req: IncomingMessage, socket: Duplex, head: Buffer, who: Identity, topic: WatchTopic) => {
    const userId = who.user.id;
    wss.handleUpgrade(req, socket, head, (ws) => {
      let leave: (() => void) | undefined;
      let gone = false;
      let unread = 0;
      const sender = createWatchSender(ws, { clock, metrics, ...options.watchSender });
      track(ws, 'watch', who.tokenId, () => {
        gone = true;
        leave?.();
      });
      const deliver = topic === 'inbox' ? (frame: WatchFrame) => sender.push(inboxFrame(frame.json, ++unread)) : (frame: WatchFrame) => sender.push(frame);
      // The user's sockets of one topic on this replica share one subscription and one frame per event (watch-hub.ts).
      watchHub
        .join(userId, deliver, topic)
        .then((l) => {
          if (gone) {
            l();
            return;
          }
          leave = l;
          ws.ping();
        })
        .catch((err: unknown) => {
          logger.error({ err, topic }, 'watch subscribe failed');
          ws.close(1011, 'watch unavailable');
        });
    });
  };

  /**
   * Authenticates a user's socket or SSE stream: by `?ticket=` (single use, for this socket's scope,
   * contract.md#tickets) when given, else by its session token. A client's own relay subscriber header is dropped.
   */
  const authenticateConnection = (req: IncomingMessage, url: URL, scope: TicketScope): Promise<Identity> => {
    stripRelaySubscriber(req.headers);
    const ticket = url.searchParams.get('ticket');
    if (ticket === null) return guard.authenticate(req);
    // The ticket is the connection's only credential: no token header travels on (e.g. to a relay dial).
    for (const h of ['authorization', 'coder-session-token', 'cookie']) delete req.headers[h];
    const tickets = options.tickets;
    if (!tickets) throw new ChatdError('UNAUTHORIZED', 'You must be signed in to do this.', { detail: 'This server issues no socket tickets.' });
    return guard.authenticateTicket(req, async () => {
      const got = await tickets.redeem(ticket, scope);
      if (got.ok) return got.who;
      metrics.inc('chatd_tickets_refused_total', 1, { reason: got.reason });
      return undefined;
    });
  };

  /**
   * The headers a subscription sees (and a relay dial forwards). A ticketed connection has no token to forward:
   * it names its subscriber instead, which a peer believes only from a verified relay leg (contract.md#replica-credential).
   */
  const subscriberHeaders = (req: IncomingMessage, who: Identity): Headers => {
    const headers = toFetchHeaders(req.headers);
    if (!extractSessionToken(nodeHeaderGetter(req.headers)) && !relaySubscriber(req.headers)) headers.set(RELAY_SUBSCRIBER_HEADER, `${who.user.id} ${who.tokenId}`);
    return headers;
  };

  /**
   * `GET /{chat}/stream` without `Upgrade: websocket` (contract.md#stream-no-upgrade): the same checks as the
   * upgrade (chat id, then the query and `Last-Event-ID`: 400; then the chat: 404); then Server-Sent Events when
   * the request accepts `text/event-stream` (contract.md#sse), else 426 naming the upgrade it needs.
   */
  const answerStreamWithoutUpgrade = async (req: IncomingMessage, res: ServerResponse, who: Identity, rawChatId: string, url: URL) => {
    if (!/^[0-9a-fA-F-]{36}$/.test(rawChatId)) throw new ChatdError('INVALID_INPUT', 'Invalid chat ID.');
    const chatId = rawChatId.toLowerCase();
    let cursor = parseStreamQuery(url);
    const lastEventId = req.headers['last-event-id'];
    // The SSE id is the stream query's encoding (sse-stream-socket.ts): a resume replaces the query's cursor.
    if (typeof lastEventId === 'string' && lastEventId.trim() !== '') cursor = parseStreamQuery(new URLSearchParams(lastEventId.trim()));
    const chat = await options.chats.getChat(chatId, who.user.id);
    if (!chat) throw new ChatdError('NOT_FOUND', 'chat not found');
    if (!acceptsEventStream(req)) {
      sendJson(res, 426, { message: 'Upgrade Required.', detail: 'This route is a WebSocket: send Upgrade: websocket, or Accept: text/event-stream.' }, { upgrade: 'websocket' });
      return;
    }
    if (closing) throw new ChatdError('CONFIG', 'Server is shutting down.');
    // An SSE stream is never a relay leg (peers dial WebSockets): a relay header on it is the user's, and dropped.
    stripRelaySourceHeader(req.headers);
    acquireSlot(res, { kind: 'stream', userId: who.user.id });
    serveSse(req, res, who, chatId, cursor);
  };

  /** An SSE stream: a stream sender on the response, kept alive by comment lines, closed with its token. */
  const serveSse = (req: IncomingMessage, res: ServerResponse, who: Identity, chatId: string, cursor: ReturnType<typeof parseStreamQuery>) => {
    const headers = subscriberHeaders(req, who);
    const sse = createSseStreamSocket(res, cursor, clock);
    sseStreams.add(sse);
    metrics.inc('chatd_sse_streams');
    let subscription: { close(): void } | undefined;
    let gone = false;
    const sender = createStreamSender(sse, { clock, metrics, ...options.sender, onClose: () => sse.close(1000, '') });
    const end = () => {
      if (gone) return;
      gone = true;
      subscription?.close();
    };
    const unregister = revocation.register(who.tokenId, () => {
      // SSE has no close code: the stream ends before the subscription does, as for a WebSocket.
      sse.close(TOKEN_REVOKED_CLOSE_CODE, TOKEN_REVOKED_CLOSE_REASON);
      end();
    });
    // The comment line is the SSE keep-alive; its tick re-checks the token as a WebSocket's ping does.
    const ticker = clock.setInterval(() => {
      sse.comment();
      if (!sse.isOpen) return;
      void revocation.recheck(who.tokenId).then((active) => {
        if (!active) revocation.revoke(who.tokenId, 'recheck');
      });
    }, pingIntervalMs, 'sse-keepalive');
    sse.onClose(() => {
      sseStreams.delete(sse);
      metrics.inc('chatd_sse_streams', -1);
      ticker.stop();
      unregister();
      end();
    });
    options.subscriber
      .subscribe(chatId, { ...cursor, requestHeader: headers }, sender)
      .then((s) => {
        subscription = s;
        if (gone) s.close();
      })
      .catch((err: unknown) => {
        const { internal } = errorResponse(err);
        if (internal) logger.error({ err, chatId }, 'sse subscribe failed');
        sse.close(1011, '');
      });
  };

  const server = http.createServer((req, res) => traceHttpRequest(req, res, () => {
    void (async () => {
      const method = req.method ?? 'GET';
      res.on('finish', () => metrics.inc('chatd_http_requests_total', 1, { code: `${Math.floor(res.statusCode / 100)}xx` }));
      try {
        // Inside the try: a target such as `//%/` is no URL, and a throw out here was an unhandled rejection
        // (the process died) with the request never answered.
        const url = parseRequestUrl(req.url);
        // Before auth: a preflight carries no credentials.
        if (cors.handle(req, res)) return;
        if (url.pathname === '/healthz') {
          sendJson(res, 200, { status: 'ok' });
          return;
        }
        if (url.pathname === '/readyz') {
          let ok = false;
          try {
            ok = (await probeDatabase()).ok && ((await options.ready?.()) ?? true);
          } catch {
            ok = false;
          }
          sendJson(res, ok && !closing ? 200 : 503, { status: ok && !closing ? 'ready' : 'not ready' });
          return;
        }
        if (url.pathname === '/metrics') {
          const sub = options.subscriber.metrics();
          metrics.set('chatd_subscriptions', sub.active);
          metrics.set('chatd_catch_up_queries_total', sub.catchUpQueries);
          metrics.set('chatd_catch_ups_shared_total', sub.catchUpsShared);
          metrics.set('chatd_snapshot_pages_read_total', sub.snapshotPagesRead);
          metrics.set('chatd_snapshot_pages_shared_total', sub.snapshotPagesShared);
          const sync = options.syncSafetyNet?.metrics();
          if (sync) {
            metrics.set('chatd_sync_ticks_total', sync.ticks);
            metrics.set('chatd_sync_catch_ups_total', sync.catchUps);
            metrics.set('chatd_sync_failures_total', sync.failures);
            metrics.set('chatd_sync_followed_chats', sync.followedChats);
          }
          const ps = options.pubsub.metrics?.();
          if (ps) {
            metrics.set('chatd_pubsub_published_total', ps.published);
            metrics.set('chatd_pubsub_delivered_total', ps.delivered);
            metrics.set('chatd_pubsub_dropped_total', ps.dropped);
            metrics.set('chatd_pubsub_reconnects_total', ps.reconnects);
            metrics.set('chatd_pubsub_listeners', ps.listeners);
          }
          // The gauges keep their last value when the database cannot be asked.
          const probed = await probeDatabase();
          if (probed.usage !== undefined) metrics.set('chatd_notify_queue_usage', probed.usage);
          if (probed.pending !== undefined) metrics.set('chatd_pending_chats', probed.pending);
          const git = options.gitsync?.metrics();
          if (git) {
            metrics.set('chatd_gitsync_refreshes_limited_total', git.reportsLimited, { kind: 'report' });
            metrics.set('chatd_gitsync_refreshes_limited_total', git.inlineRefreshesLimited, { kind: 'inline' });
          }
          const text = await metrics.render();
          res.writeHead(200, { 'content-type': metrics.contentType });
          res.end(text);
          return;
        }
        const relative = chatsRelativePath(url.pathname);
        // The API description (contract.md#api-description): public, like the operations routes; no chat data.
        if (method === 'GET' && relative === OPENAPI_DOCUMENT_PATH) {
          openApiJson ??= JSON.stringify(buildOpenApiDocument());
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(openApiJson), 'cache-control': 'no-cache' });
          res.end(openApiJson);
          return;
        }
        // The console's cookie session: refuse what may be cross-site (CSRF, issues 15 and 22).
        checkCookieRequest(req, url.pathname, cookiePolicy);
        // Extra routes under the chats base (e.g. /replicas) answer under /api/v2/chats too.
        const canonical = relative === undefined ? url.pathname : `${CHATS_BASE_PATH}${relative}`;
        const extra = options.extraRoutes?.find((r) => r.method === method && r.path === canonical);
        if (extra) {
          const who = extra.auth ? await guard.authenticate(req) : undefined;
          await extra.handler(req, res, who);
          return;
        }
        if (relative === undefined) {
          sendJson(res, 404, { message: 'Route not found.' });
          return;
        }
        const segments = relative.split('/').filter(Boolean).map(decodePathSegment);
        if (method === 'GET' && segments.length === 2 && segments[1] === 'stream') {
          const chatId = segments[0]!.toLowerCase();
          await answerStreamWithoutUpgrade(req, res, await authenticateConnection(req, url, { kind: 'stream', chatId }), segments[0]!, url);
          return;
        }
        const who = await guard.authenticate(req);
        const m = matchRoute(routes, method, segments);
        if (m === undefined) {
          sendJson(res, 404, { message: 'Route not found.' });
          return;
        }
        if (m === 'method_not_allowed') {
          sendJson(res, 405, { message: 'Method not allowed.' });
          return;
        }
        // Writes are rate limited per user (contract.md#cost); reads and sockets are not.
        if (method !== 'GET' && method !== 'HEAD' && options.writeLimiter) {
          try {
            options.writeLimiter.take(who.user.id);
          } catch (err) {
            metrics.inc('chatd_write_limited_total');
            throw err;
          }
        }
        await (m.route.handler as RouteHandler)(req, res, who, m.params, url);
      } catch (err) {
        respondError(res, err);
      }
    })();
  }));
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;

  const relayLegGauge = () => metrics.set('chatd_ws_relay_legs', caps.counts().relayLegs);

  /**
   * Takes a cap slot for the socket, held until the raw socket closes: that covers an upgraded socket's end, an
   * upgrade `ws` aborts without calling back, and a client that leaves mid-way. Throws TOO_MANY_CONNECTIONS (429).
   */
  const acquireSlot = (socket: { once(event: 'close', listener: () => void): unknown; readonly destroyed: boolean }, owner: ConnectionOwner): (() => void) => {
    const got = caps.acquire(owner);
    if (!got.ok) {
      metrics.inc('chatd_ws_refused_total', 1, { reason: got.reason });
      const what = { user_streams: 'stream sockets of this user', user_watches: 'watch sockets of this user', peer_relay_legs: 'relay legs of this replica', global: 'connections' }[got.reason];
      throw new ChatdError('TOO_MANY_CONNECTIONS', 'Too many connections.', { detail: `The limit of open ${what} is reached; close one and retry.` });
    }
    if (owner.kind === 'relay') relayLegGauge();
    const release = () => {
      got.slot.release();
      if (owner.kind === 'relay') relayLegGauge();
    };
    socket.once('close', release);
    // The client may have gone while it was authenticated: its 'close' has fired already.
    if (socket.destroyed) release();
    return release;
  };

  /**
   * A stream request with the relay source header is a relay leg only when the replica credential it presents is
   * verified (contract.md#relay-serve); otherwise the header is dropped and the socket is the user's, relayed like any other.
   */
  const recogniseRelayLeg = async (req: IncomingMessage): Promise<VerifiedReplica | undefined> => {
    if (!hasRelaySourceHeader(req.headers)) return undefined;
    let verified: VerifiedReplica | undefined;
    if (options.verifyReplicaCredential) {
      try {
        verified = await options.verifyReplicaCredential(toFetchHeaders(req.headers));
      } catch (cause) {
        throw new ChatdError('UNAVAILABLE', 'Cannot verify the replica credential now.', { cause });
      }
    }
    if (!verified) stripRelaySourceHeader(req.headers);
    return verified;
  };

  /**
   * Authenticates a socket by its own (for a relay leg: forwarded) session token. A verified relay leg spends no
   * failed-auth budget: its address is the peer replica's, shared by every user it relays. The seam for ticketed
   * sockets (contract.md#replica-credential, planned with contract.md#tickets): a verified relay leg may then carry a subscription without a
   * forwardable token, naming its user instead; `relay` is what would vouch for that name.
   */
  const authenticateSocket = async (req: IncomingMessage, url: URL, relay: VerifiedReplica | undefined, scope: TicketScope): Promise<Identity> => {
    if (!relay) return authenticateConnection(req, url, scope);
    // A verified leg with no token to forward names its subscriber (a ticketed socket on the serving replica);
    // the subscriber's chat is checked as any user's (handleStream), and its token must still be active.
    const named = relaySubscriber(req.headers);
    if (named && !extractSessionToken(nodeHeaderGetter(req.headers))) {
      const [user, active] = await Promise.all([options.identity.getUser(named.userId), options.identity.isTokenActive(named.tokenId)]);
      if (!user || !active) throw new ChatdError('UNAUTHORIZED', 'You must be signed in to do this.', { detail: 'The relayed subscriber is unknown or signed out.' });
      return { user, tokenId: named.tokenId, tokenKind: 'api' };
    }
    return guard.authenticate(req, { exempt: true });
  };

  /**
   * The replica link (contract.md#replica-link): only a peer whose replica credential is verified (401 otherwise;
   * 403 on a server without a replica registry); it takes one relay-leg slot of that peer.
   */
  const handleReplicaLink = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<() => void> => {
    if (!options.verifyReplicaCredential) throw new ChatdError('FORBIDDEN', 'This server accepts no replica links.');
    let peer: VerifiedReplica | undefined;
    try {
      peer = await options.verifyReplicaCredential(toFetchHeaders(req.headers));
    } catch (cause) {
      throw new ChatdError('UNAVAILABLE', 'Cannot verify the replica credential now.', { cause });
    }
    if (!peer) throw new ChatdError('UNAUTHORIZED', 'A replica link needs a verified replica credential.');
    const release = acquireSlot(socket, { kind: 'relay', peerId: peer.replicaId });
    const peerId = peer.replicaId;
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.once('close', () => sockets.delete(ws));
      const verify = options.verifyReplicaCredential!;
      const headers = toFetchHeaders(req.headers);
      // At each ping: the same credential must still verify as the same peer (contract.md#replica-link).
      const reverify = async () => (await verify(headers))?.replicaId === peerId;
      serveReplicaLink(ws, { subscriber: options.subscriber, clock, logger, metrics, peerId, pingIntervalMs, reverify, ...(options.sender ? { sender: options.sender } : {}) });
    });
    return release;
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => traceSocketSession(req, socket, () => {
    socket.on('error', () => socket.destroy());
    void (async () => {
      let release: (() => void) | undefined;
      try {
        if (closing) throw new ChatdError('CONFIG', 'Server is shutting down.');
        const url = parseRequestUrl(req.url);
        const segments = chatsRelativePath(url.pathname)?.split('/').filter(Boolean) ?? [];
        const isInbox = url.pathname === INBOX_WATCH_PATH;
        const isWatch = isInbox || (segments.length === 1 && segments[0] === 'watch');
        const isStream = segments.length === 2 && segments[1] === 'stream';
        if (url.pathname === REPLICA_LINK_PATH) {
          release = await handleReplicaLink(req, socket, head);
          return;
        }
        if (!isWatch && !isStream) {
          writeUpgradeError(socket, 404, { message: 'Route not found.' });
          return;
        }
        checkCookieRequest(req, url.pathname, { ...cookiePolicy, upgrade: true });
        const relay = isStream ? await recogniseRelayLeg(req) : undefined;
        const who = await authenticateSocket(req, url, relay, isWatch ? { kind: 'watch' } : { kind: 'stream', chatId: (segments[0] ?? '').toLowerCase() });
        release = acquireSlot(socket, relay ? { kind: 'relay', peerId: relay.replicaId } : { kind: isWatch ? 'watch' : 'stream', userId: who.user.id });
        if (isWatch) await handleWatch(req, socket, head, who, isInbox ? 'inbox' : 'chats');
        else {
          const raw = segments[0]!;
          if (!/^[0-9a-fA-F-]{36}$/.test(raw)) throw new ChatdError('INVALID_INPUT', 'Invalid chat ID.');
          await handleStream(req, socket, head, who, raw.toLowerCase(), url);
        }
      } catch (err) {
        // A refused or failed upgrade frees its slot now (the socket's close would too, later).
        release?.();
        const { status, body, internal, headers } = errorResponse(err);
        if (internal) logger.error({ err }, 'upgrade failed');
        writeUpgradeError(socket, status, body, headers);
      }
    })();
  }));

  return {
    http: server,
    metrics,
    caps,
    revocation,
    async listen(port, host = '127.0.0.1') {
      // Revocations are heard before the first socket can open.
      await revocation.start();
      await notifyProbe.start();
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host, backlog: options.listenBacklog ?? DEFAULT_LISTEN_BACKLOG }, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    async close() {
      closing = true;
      revocation.stop();
      notifyProbe.stop();
      for (const ws of sockets) ws.close(1001, 'server shutting down');
      for (const sse of sseStreams) sse.close(1001, '');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Sockets that do not finish their close handshake promptly are cut.
        const t = clock.setTimeout(() => {
          for (const ws of sockets) ws.terminate();
          server.closeAllConnections();
        }, 2_000, 'server-close');
        server.once('close', () => t.cancel());
      });
      wss.close();
      // Only a registry this server built is closed: a caller's may outlive it.
      if (!options.metrics) metrics.close();
    },
  };
}
