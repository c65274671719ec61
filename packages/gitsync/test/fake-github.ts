// A local node:http server on port 0 that answers like GitHub's REST API for the routes a test registers:
// JSON replies get an ETag, a matching If-None-Match gets a 304 that does not count against the
// x-ratelimit-remaining budget, and every request is recorded. Tests shape status codes and headers per route.
import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RecordedRequest = { method: string; path: string; rawQuery: string; query: URLSearchParams; headers: IncomingHttpHeaders };

export type Reply = {
  status?: number;
  headers?: Record<string, string>;
  /** Serialised as JSON, with an ETag unless `etag` is false. */
  json?: unknown;
  /** Sent as is (malformed bodies, diffs); no ETag unless `etag` is given. */
  body?: string;
  etag?: string | false;
  /** Never answer (until the server closes). */
  hang?: boolean;
};

export type RouteHandler = (req: RecordedRequest) => Reply;

export type FakeGitHub = {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `<url>/api/v3`, the GitHub Enterprise form. */
  apiBaseUrl: string;
  requests: RecordedRequest[];
  /** Requests that cost rate limit (everything but 304s). */
  remaining: number;
  route(path: string, handler: RouteHandler | Reply): void;
  close(): Promise<void>;
};

export const RATE_LIMIT = 5000;

const etagOf = (body: string) => `"${createHash('sha1').update(body).digest('hex')}"`;

export async function startFakeGitHub(): Promise<FakeGitHub> {
  const routes = new Map<string, RouteHandler>();
  const state = { remaining: RATE_LIMIT };
  const requests: RecordedRequest[] = [];

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: u.pathname, rawQuery: u.search.replace(/^\?/, ''), query: u.searchParams, headers: req.headers };
    requests.push(recorded);
    const handler = routes.get(u.pathname);
    const reply: Reply = handler ? handler(recorded) : { status: 404, json: { message: 'Not Found' }, etag: false };
    if (reply.hang) return;
    const body = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.body ?? '');
    const etag = reply.etag === false ? undefined : (reply.etag ?? (reply.json !== undefined ? etagOf(body) : undefined));
    const status = reply.status ?? 200;
    const headers: Record<string, string> = { 'x-ratelimit-limit': String(RATE_LIMIT) };
    if (status === 200 && etag && req.headers['if-none-match'] === etag) {
      // Conditional hit: free of rate limit, as GitHub documents.
      res.writeHead(304, { ...headers, etag, 'x-ratelimit-remaining': String(state.remaining) });
      res.end();
      return;
    }
    state.remaining--;
    headers['x-ratelimit-remaining'] = String(state.remaining);
    if (status === 200 && etag) headers.etag = etag;
    headers['content-type'] = reply.json !== undefined ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8';
    res.writeHead(status, { ...headers, ...reply.headers });
    res.end(body);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    apiBaseUrl: `${url}/api/v3`,
    requests,
    get remaining() {
      return state.remaining;
    },
    set remaining(v: number) {
      state.remaining = v;
    },
    route(path, handler) {
      routes.set(path, typeof handler === 'function' ? handler : () => handler);
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A GitHub pull request object with the fields the provider reads (and a few it ignores). */
export function pullJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url: 'https://api.github.com/repos/o/r/pulls/1',
    id: 1001,
    number: 1,
    html_url: 'https://github.com/o/r/pull/1',
    title: 'Add a feature',
    state: 'open',
    merged: false,
    draft: false,
    additions: 10,
    deletions: 5,
    changed_files: 3,
    commits: 2,
    mergeable: null,
    head: { sha: 'abc123', ref: 'feat', label: 'o:feat' },
    base: { sha: 'def456', ref: 'main' },
    user: { login: 'alice', avatar_url: 'https://avatars.example/alice' },
    ...overrides,
  };
}

export const review = (id: number, login: string, state: string) => ({ id, state, user: { login }, body: '', submitted_at: '2026-01-01T00:00:00Z' });
