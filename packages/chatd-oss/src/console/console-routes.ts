// The web console's server side (issue 15): `GET /` (the page), `GET /console/<file>` (its script, style
// and icon, and `/console/chatd-client.js`, @chatd/client's browser bundle), `POST /console/session` (checks an API token, mints a separate console session token that
// expires, and sets that in the HttpOnly, SameSite=Strict cookie the page's requests and sockets then
// authenticate with: the cookie never holds the API token), `DELETE /console/session` (revokes that session
// and clears the cookie) and `GET /console/whoami` (the serving replica and the signed-in user, or none).
// Every answer carries a strict Content-Security-Policy; tokens only ever travel in a request body or the
// cookie, never a URL or a log.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { cookieSessionToken, extractSessionToken } from '@chatd/protocol';
import { z } from 'zod';
import { ChatdError } from '../chatd-error.js';
import type { Identity, IdentityStore } from '../identity/identity-store.js';
import type { AuthGuard } from '../server/auth-guard.js';
import { SESSION_COOKIE, nodeHeaderGetter } from '../server/auth.js';
import type { ExtraRoute } from '../server/create-chat-server.js';
import { validationError } from '../server/error-response.js';
import { readJsonBody } from '../server/http-io.js';
import { CLIENT_BUNDLE_NAME, CONSOLE_CONTENT_TYPES, findClientBundle, findConsoleDir, loadConsoleAsset, loadConsoleAssets, type ConsoleAsset } from './console-assets.js';

/** Path of the session route. */
export const CONSOLE_SESSION_PATH = '/console/session';
/** Path of the who-am-I route. */
export const CONSOLE_WHOAMI_PATH = '/console/whoami';
/** Header naming the replica that answered. */
export const REPLICA_HEADER = 'x-chatd-replica';
/** Largest token accepted by the session route. @default 512 */
export const MAX_CONSOLE_TOKEN_CHARS = 512;
/** Largest body of the session route. @default 4 KiB */
const MAX_SESSION_BODY_BYTES = 4 * 1024;

/** Options of `createConsoleRoutes`. */
export type ConsoleRoutesOptions = {
  identity: Pick<IdentityStore, 'verifyToken' | 'createSession' | 'revokeSession'>;
  /** Verifies the tokens of sign-in and who-am-I under the per-client failed-auth budget. @default `identity.verifyToken`, unlimited */
  authGuard?: Pick<AuthGuard, 'verify'>;
  /** The serving replica's id (shown by the page, compared with chats' `worker_id`). */
  replicaId: string;
  /** Folder of the page's files. @default the package's `console/` folder */
  assetsDir?: string;
  /** The client bundle served as `/console/chatd-client.js`. @default @chatd/client's `dist/browser/chatd-client.js` */
  clientBundle?: string;
  /** Whether `GET /api/experimental/chats/replicas` exists on this replica (the page polls it only then). @default false */
  replicasRoute?: boolean;
};

const sessionBody = z.object({ token: z.string().trim().min(1, 'must not be empty').max(MAX_CONSOLE_TOKEN_CHARS) }).passthrough();

// A Host header we are willing to echo into the CSP: a DNS name or IP literal, with an optional port.
const SAFE_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** The page's Content-Security-Policy: scripts, styles and connections to this origin only; images from it or blob URLs (files shown inline). */
export function consoleCsp(host: string | undefined): string {
  // CSP3's 'self' covers ws(s) to the same host; the explicit sources serve browsers that predate that rule.
  const sockets = host && SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // Attached images are fetched with the cookie and shown from blob URLs (contract.md#files).
    "img-src 'self' blob:",
    `connect-src 'self'${sockets}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The Set-Cookie value that signs a browser in with a console session token (a browser-session cookie; `Secure` when served over TLS). */
export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that signs a browser out. */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/**
 * Whether the browser reached us over TLS: here, or at a proxy that says so. Trusting a spoofed
 * `X-Forwarded-Proto` only makes the cookie stricter (a browser on plain http then does not keep it).
 */
const isTls = (req: IncomingMessage) =>
  (req.socket as Partial<TLSSocket>).encrypted === true || String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim().toLowerCase() === 'https';

/** Builds the console's routes, to be mounted as extra routes of the chat server. */
export function createConsoleRoutes(options: ConsoleRoutesOptions): ExtraRoute[] {
  const { identity, replicaId } = options;
  const verify = (req: IncomingMessage, token: string): Promise<Identity | undefined> =>
    options.authGuard ? options.authGuard.verify(req, token) : identity.verifyToken(token);
  const dir = options.assetsDir ?? findConsoleDir();
  const assets: Map<string, ConsoleAsset> = dir ? loadConsoleAssets(dir) : new Map();
  // The page imports the client from here (same origin, so the CSP's script-src 'self' allows it); a missing
  // bundle answers 503 like a missing page file.
  const bundle = options.clientBundle ?? findClientBundle();
  assets.delete(CLIENT_BUNDLE_NAME);
  if (bundle) assets.set(CLIENT_BUNDLE_NAME, loadConsoleAsset(bundle, CONSOLE_CONTENT_TYPES['.js']!));

  const baseHeaders = (req: IncomingMessage): Record<string, string> => ({
    'content-security-policy': consoleCsp(req.headers.host),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    [REPLICA_HEADER]: replicaId,
  });

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string>) => {
    res.writeHead(status, { ...baseHeaders(req), 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  };
  const sendJson = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    send(req, res, status, JSON.stringify(body), { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });

  const serveAsset = (name: string) => async (req: IncomingMessage, res: ServerResponse) => {
    const asset = assets.get(name);
    if (!asset) {
      sendJson(req, res, 503, { message: 'The console is not available.', detail: 'Its files were not found beside the server.' });
      return;
    }
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, { ...baseHeaders(req), etag: asset.etag, 'cache-control': 'no-cache' });
      res.end();
      return;
    }
    send(req, res, 200, asset.body, { 'content-type': asset.contentType, etag: asset.etag, 'cache-control': 'no-cache' });
  };

  /** A cross-site request carries an Origin naming another host: refuse it (SameSite covers the cookie, this covers the body). */
  const requireSameOrigin = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host === undefined || host !== req.headers.host) throw new ChatdError('FORBIDDEN', 'Cross-origin sign-in is not allowed.');
  };

  const userView = (u: { id: string; username: string; admin: boolean }) => ({ id: u.id, username: u.username, admin: u.admin });

  const routes: ExtraRoute[] = [
    { method: 'GET', path: '/', auth: false, handler: serveAsset('index.html') },
    ...[...new Set([...assets.keys(), CLIENT_BUNDLE_NAME])].filter((n) => n !== 'index.html').map((name): ExtraRoute => ({ method: 'GET', path: `/console/${name}`, auth: false, handler: serveAsset(name) })),
    {
      method: 'POST',
      path: CONSOLE_SESSION_PATH,
      auth: false,
      async handler(req, res) {
        try {
          requireSameOrigin(req);
          // JSON only: a cross-site HTML form cannot send it without a CORS preflight, which this server never grants.
          if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) throw new ChatdError('INVALID_INPUT', 'The session route takes a JSON body.');
          const parsed = sessionBody.safeParse(await readJsonBody(req, MAX_SESSION_BODY_BYTES));
          if (!parsed.success) throw validationError('Invalid sign-in request.', parsed.error);
          const who = await verify(req, parsed.data.token);
          if (!who) throw new ChatdError('UNAUTHORIZED', 'That token is not valid.', { detail: 'The token is unknown, expired or revoked.' });
          // A session signs in nobody: only an API token mints one, so a session cannot renew itself by a new sign-in.
          if (who.tokenKind !== 'api') throw new ChatdError('UNAUTHORIZED', 'That token is not valid.', { detail: 'Sign in with an API token.' });
          const session = await identity.createSession(who.user.id);
          sendJson(req, res, 200, { replica_id: replicaId, user: userView(who.user) }, { 'set-cookie': sessionCookie(session.token, isTls(req)) });
        } catch (err) {
          // Drain what the client is still sending so the error answer is read, not reset.
          req.resume();
          throw err;
        }
      },
    },
    {
      method: 'DELETE',
      path: CONSOLE_SESSION_PATH,
      auth: false,
      async handler(req, res) {
        requireSameOrigin(req);
        // Revoke the cookie's session, so a copy of the cookie stops working too. A cookie holding an API token
        // (set by a client, or by a console before sessions existed) is only cleared: sign-out never revokes API tokens.
        const token = cookieSessionToken(nodeHeaderGetter(req.headers));
        if (token) await identity.revokeSession(token);
        res.writeHead(204, { ...baseHeaders(req), 'set-cookie': clearedSessionCookie(isTls(req)), 'cache-control': 'no-store' });
        res.end();
      },
    },
    {
      method: 'GET',
      path: CONSOLE_WHOAMI_PATH,
      auth: false,
      async handler(req, res) {
        // Signed out is a normal answer here (200, user null): the page asks before it knows, and a 401 would
        // be logged as an error by the browser.
        const token = extractSessionToken(nodeHeaderGetter(req.headers));
        const who = token ? await verify(req, token) : undefined;
        sendJson(req, res, 200, { replica_id: replicaId, user: who ? userView(who.user) : null, features: { replicas: options.replicasRoute === true } });
      },
    },
  ];
  return routes;
}
