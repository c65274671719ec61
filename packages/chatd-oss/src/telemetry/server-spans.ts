// Server spans of the HTTP API: one per request, and one per socket session (stream or watch; `chatd.upgrade`
// for an upgrade to no socket route) that lasts until the socket closes. Both continue a `traceparent` the
// request carries: a client's, or, on a relay leg, the dialling replica's relay span (so the serving replica's
// stream span is its child). A stream session links to the runs of its chat on this replica (running when it
// opens, or started while it is open). A stream of a replica link gets the same stream span, continuing the
// `traceparent` of its `sub` (the dialling replica's relay span), for as long as that stream lasts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link } from '@opentelemetry/api';
import { liveRunSpanContext, watchRunsOf } from './run-span.js';
import { contextFromTraceparent, TRACEPARENT_HEADER } from './traceparent.js';
import { chatdTracer } from './tracer.js';

const UUID_SEGMENT = /\/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=\/|$)/g;
const STREAM_PATH = /\/([0-9a-fA-F-]{36})\/stream$/;
const WATCH_PATH = /\/watch$/;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The path with ids replaced by `{id}`: a low-cardinality span name. */
function pathTemplate(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  return path.replace(UUID_SEGMENT, '/{id}');
}

/** Runs `handle` inside the request's server span, which ends when the response is closed. */
export function traceHttpRequest(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
  const method = req.method ?? 'GET';
  const route = pathTemplate(req.url);
  const parent = contextFromTraceparent(header(req, TRACEPARENT_HEADER), ROOT_CONTEXT);
  const span = chatdTracer().startSpan(
    `${method} ${route}`,
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': route } },
    parent,
  );
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  context.with(trace.setSpan(parent, span), handle);
}

/** Runs `handle` (the upgrade) inside the socket session's span, which ends when the socket closes. */
export function traceSocketSession(req: IncomingMessage, socket: Duplex, handle: () => void): void {
  const path = (req.url ?? '/').split('?')[0]!;
  const chatId = STREAM_PATH.exec(path)?.[1]?.toLowerCase();
  const links: Link[] = [];
  const run = chatId === undefined ? undefined : liveRunSpanContext(chatId);
  if (run) links.push({ context: run, attributes: { 'chatd.link': 'run' } });
  const parent = contextFromTraceparent(header(req, TRACEPARENT_HEADER), ROOT_CONTEXT);
  const span = chatdTracer().startSpan(
    chatId !== undefined ? 'chatd.stream' : WATCH_PATH.test(path) ? 'chatd.watch' : 'chatd.upgrade',
    { kind: SpanKind.SERVER, links, attributes: { 'url.path': pathTemplate(req.url), ...(chatId === undefined ? {} : { 'chatd.chat_id': chatId }) } },
    parent,
  );
  // Runs of the chat that start on this replica while the socket is open link themselves to the session.
  const unwatch = chatId === undefined ? () => {} : watchRunsOf(chatId, span);
  socket.once('close', () => {
    unwatch();
    span.end();
  });
  context.with(trace.setSpan(parent, span), handle);
}

/**
 * Starts the stream span of one replica-link stream (contract.md#replica-link), a child of the `sub`'s
 * `traceparent` and linked to the chat's runs as a relay leg's stream span is. Runs `handle` inside it; the
 * returned function ends it (when the stream ends).
 */
export function traceLinkStream(chatId: string, traceparent: string | undefined, handle: () => void): () => void {
  const links: Link[] = [];
  const run = liveRunSpanContext(chatId);
  if (run) links.push({ context: run, attributes: { 'chatd.link': 'run' } });
  const parent = contextFromTraceparent(traceparent, ROOT_CONTEXT);
  const span = chatdTracer().startSpan('chatd.stream', { kind: SpanKind.SERVER, links, attributes: { 'chatd.chat_id': chatId, 'chatd.relay.link': true } }, parent);
  const unwatch = watchRunsOf(chatId, span);
  context.with(trace.setSpan(parent, span), handle);
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    unwatch();
    span.end();
  };
}
