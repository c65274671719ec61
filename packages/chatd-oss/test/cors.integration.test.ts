// CORS (contract.md#cors) on a real replica: preflights from an allowed origin name our methods and headers and
// echo that origin (never `*`, never credentials); other origins get 403 and no CORS headers; a token request from
// an allowed origin is readable cross-origin. `CHATD_CORS_ORIGINS` refuses a wildcard.
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const APP = 'http://app.example:5173';

const preflight = (url: string, origin: string, method = 'POST', headers = 'authorization, content-type') =>
  fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });

describe('CORS', () => {
  let replica: RunningChatd;
  let token: string;
  beforeAll(async () => {
    replica = await startTestReplica(db.url, { config: { databaseUrl: db.url, corsOrigins: [APP] } });
    ({ token } = await userToken(replica, 'cors-user'));
  });
  afterAll(async () => {
    await replica?.close();
  });

  it('answers a preflight from an allowed origin with our methods and headers, echoing the origin without credentials', async () => {
    const res = await preflight(`${replica.url}/api/experimental/chats`, APP, 'POST', 'authorization, content-type, last-event-id');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toContain('PATCH');
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const h of ['authorization', 'coder-session-token', 'content-type', 'last-event-id']) expect(allowed).toContain(h);
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('refuses a preflight from another origin with 403 and no CORS headers', async () => {
    const res = await preflight(`${replica.url}/api/experimental/chats`, 'http://evil.example');
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    await res.body?.cancel();
  });

  it('marks a token request from an allowed origin readable, and one from another origin not', async () => {
    const ok = await fetch(`${replica.url}/api/experimental/chats`, { headers: { origin: APP, authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    await ok.body?.cancel();
    const other = await fetch(`${replica.url}/api/experimental/chats`, { headers: { origin: 'http://evil.example', authorization: `Bearer ${token}` } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    await other.body?.cancel();
  });

  it('CHATD_CORS_ORIGINS lists origins: a wildcard or a URL with a path is refused', () => {
    const env = { DATABASE_URL: 'postgres://x/y' };
    expect(loadConfig({ ...env, CHATD_CORS_ORIGINS: `${APP}, https://b.example` }).corsOrigins).toEqual([APP, 'https://b.example']);
    expect(() => loadConfig({ ...env, CHATD_CORS_ORIGINS: '*' })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => loadConfig({ ...env, CHATD_CORS_ORIGINS: 'https://a.example/app' })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
