// CORS for token-authenticated browser apps on other origins (contract.md#cors): an explicit allowlist
// (`CHATD_CORS_ORIGINS`), never a wildcard, never credentials: cookies stay same-origin (cookie-origin.ts), so a
// cross-origin app authenticates with its token header (or a socket ticket). A preflight from an allowed origin
// names the methods and headers the API uses; one from any other origin gets 403 and no CORS headers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChatdError } from '../chatd-error.js';

/** Methods a preflight allows. */
export const CORS_ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE';
/** Request headers a preflight allows: token headers, JSON bodies, SSE resume, file uploads' name. */
export const CORS_ALLOWED_HEADERS = 'Authorization, Coder-Session-Token, Content-Type, Content-Disposition, Last-Event-ID';
/** Response headers a cross-origin page may read. */
export const CORS_EXPOSED_HEADERS = 'Retry-After';
/** How long a browser may reuse a preflight. @default 600 (seconds) */
export const CORS_MAX_AGE_SECONDS = 600;

/**
 * Parses `CHATD_CORS_ORIGINS`: comma-separated origins (`scheme://host[:port]`). Throws ChatdError CONFIG for
 * `*` (a wildcard is never allowed) or anything that is not an http(s) origin.
 */
export function parseCorsOrigins(raw: string, name = 'CHATD_CORS_ORIGINS'): string[] {
  const out: string[] = [];
  for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (item === '*' || item === 'null') throw new ChatdError('CONFIG', `${name} lists origins explicitly; "${item}" is not allowed`);
    let url: URL;
    try {
      url = new URL(item);
    } catch (cause) {
      throw new ChatdError('CONFIG', `${name}: "${item}" is not an origin such as https://app.example.com`, { cause });
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== item.replace(/\/$/, '')) {
      throw new ChatdError('CONFIG', `${name}: "${item}" is not an origin such as https://app.example.com (scheme, host and port only)`);
    }
    out.push(url.origin);
  }
  return out;
}

/** The CORS policy of one server. */
export interface CorsPolicy {
  /**
   * Adds the CORS headers a request from an allowed origin gets; answers a preflight (OPTIONS with
   * `Access-Control-Request-Method`) and returns true when it did (the request is then done).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/** Creates the policy for `origins` (already parsed; empty: no cross-origin access, preflights answered 403). */
export function createCorsPolicy(origins: readonly string[]): CorsPolicy {
  const allowed = new Set(origins);
  return {
    handle(req, res) {
      const origin = req.headers.origin;
      const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
      const ok = typeof origin === 'string' && allowed.has(origin);
      if (allowed.size > 0) res.setHeader('vary', 'Origin');
      if (ok) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('access-control-expose-headers', CORS_EXPOSED_HEADERS);
      }
      if (!preflight) return false;
      if (!ok) {
        res.writeHead(403, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ message: 'Origin not allowed.', detail: 'This origin is not in CHATD_CORS_ORIGINS.' }));
        return true;
      }
      res.writeHead(204, {
        'access-control-allow-methods': CORS_ALLOWED_METHODS,
        'access-control-allow-headers': CORS_ALLOWED_HEADERS,
        'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
      });
      res.end();
      return true;
    },
  };
}
