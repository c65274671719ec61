// Unauthenticated load is kept off the database (issue 22 item 4), on a real replica and real PostgreSQL with
// the replica's mock clock: a repeated unknown token costs one query per negative-cache interval; a client that
// keeps failing gets 429 with Retry-After (before any upgrade) and its further attempts cost no query; clients
// are told apart by X-Forwarded-For only behind a trusted proxy; /readyz and /metrics share one probe a second.
// Queries are counted through the replica's own pool, wrapped.
import { randomBytes } from 'node:crypto';
import { createMockClock, type MockClock } from '@chatd/clock';
import { useTestDatabase } from '@chatd/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEFAULT_NEGATIVE_TOKEN_CACHE_MS } from '../src/identity/identity-store.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const BURST = 5;
const PER_MINUTE = 60; // one failure regained per second
let clock: MockClock;
let replica: RunningChatd;
let alice: { token: string; userId: string };
/** Queries run through the replica's pool, by what they touch. */
const queries = { tokens: 0, probes: 0 };

beforeAll(async () => {
  clock = createMockClock({ now: new Date('2026-01-01T00:00:00Z') });
  replica = await startTestReplica(db.url, {
    clock,
    config: { databaseUrl: db.url, worker: false, authFailureBurst: BURST, authFailuresPerMinute: PER_MINUTE, trustedProxies: ['127.0.0.1', '::1'] },
  });
  alice = await userToken(replica, 'alice');
  const pool = replica.chatd.pool;
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text ?? '');
    if (/FROM api_tokens/.test(text)) queries.tokens++;
    if (/pg_notification_queue_usage/.test(text)) queries.probes++;
    return query(...args);
  };
});
afterAll(async () => {
  await replica?.close();
});

let client = 0;
/** A fresh client address per test (behind the trusted loopback proxy), so budgets never leak between tests. */
let address = '';
beforeEach(() => {
  address = `198.51.100.${++client}`;
});

const unknownToken = () => `chatd_${randomBytes(32).toString('base64url')}`;
const get = (token: string, from = address) =>
  fetch(`${replica.url}/api/experimental/chats`, { headers: { 'coder-session-token': token, 'x-forwarded-for': `6.6.6.6, ${from}` } });
const counter = (name: Parameters<RunningChatd['server']['metrics']['get']>[0]) => replica.server.metrics.get(name);

/** Opens the watch socket; resolves with 101 or the refusal's status and Retry-After. */
function dialWatch(token: string, from = address): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}/api/experimental/chats/watch`, { headers: { 'coder-session-token': token, 'x-forwarded-for': from } });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}) });
    });
    ws.once('error', reject);
  });
}

describe('unknown tokens: negative cache', () => {
  it('the same well-formed unknown token costs one query per interval, however often it is sent', async () => {
    const token = unknownToken();
    const before = queries.tokens;
    // Spread over clients so the failure budget does not answer first: this is the cache alone.
    for (let i = 0; i < 30; i++) expect((await get(token, `203.0.113.${i + 1}`)).status).toBe(401);
    expect(queries.tokens - before).toBe(1);
    await clock.advance(DEFAULT_NEGATIVE_TOKEN_CACHE_MS);
    expect((await get(token, '203.0.113.200')).status).toBe(401);
    expect(queries.tokens - before).toBe(2);
  });

  it('never makes a revoked token valid, and a valid one is not cached: revocation is a 401 at once', async () => {
    const { token, info } = await replica.chatd.identity.createToken(alice.userId, 'soon revoked');
    expect((await get(token)).status).toBe(200);
    expect(await replica.chatd.identity.revokeToken(info.id)).toBe(true);
    expect((await get(token)).status).toBe(401);
    expect((await get(token)).status).toBe(401);
  });
});

describe('failed authentications: per-client budget', () => {
  it('after BURST failures the client gets 429 with Retry-After, and its further attempts cost no query', async () => {
    const failuresBefore = counter('chatd_auth_failures_total');
    for (let i = 0; i < BURST; i++) expect((await get(unknownToken())).status).toBe(401);
    // The failure past the budget is itself refused, and blocks the client until one failure's worth refills.
    const limited = await get(unknownToken());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({ message: 'Too many failed authentications.' });
    const before = queries.tokens;
    const limitedBefore = counter('chatd_auth_limited_total');
    for (let i = 0; i < 20; i++) expect((await get(unknownToken())).status).toBe(429);
    // Even a valid token waits: the client cannot be told apart without a lookup.
    expect((await get(alice.token)).status).toBe(429);
    // Sockets are refused before any upgrade, with the same header.
    expect(await dialWatch(unknownToken())).toEqual({ status: 429, retryAfter: '1' });
    expect(queries.tokens - before).toBe(0);
    expect(counter('chatd_auth_limited_total') - limitedBefore).toBe(22);
    expect(counter('chatd_auth_failures_total') - failuresBefore).toBe(BURST + 1);
    // Another client behind the same trusted proxy is unaffected.
    expect((await get(alice.token, '192.0.2.77')).status).toBe(200);
    // One second refills one failure's worth: a valid token works again, and one more bad one is a 401 then 429.
    await clock.advance(1_000);
    expect((await get(alice.token)).status).toBe(200);
    expect((await get(unknownToken())).status).toBe(401);
    expect((await get(unknownToken())).status).toBe(429);
  });

  it('malformed and missing tokens cost no query; malformed ones spend budget, missing ones do not', async () => {
    const before = queries.tokens;
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${replica.url}/api/experimental/chats`, { headers: { 'x-forwarded-for': address } });
      expect(res.status).toBe(401);
    }
    for (let i = 0; i < BURST; i++) expect((await get('not-a-token')).status).toBe(401);
    expect((await get('not-a-token')).status).toBe(429);
    expect(queries.tokens - before).toBe(0);
  });

  it('X-Forwarded-For counts only from a trusted peer: the address is then the nearest untrusted hop', async () => {
    // The loopback peer is trusted here, so "6.6.6.6" (left, client-written) is never the client: each test's
    // own address is. Exhaust one address, then the same left part with another right part is a new client.
    for (let i = 0; i < BURST; i++) await get(unknownToken());
    expect((await get(unknownToken())).status).toBe(429);
    expect((await get(unknownToken(), `${address.replace(/\d+$/, '250')}`)).status).toBe(401);
  });

  it('console sign-in shares the budget', async () => {
    const signIn = (token: string) =>
      fetch(`${replica.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify({ token }) });
    for (let i = 0; i < BURST; i++) expect((await signIn(unknownToken())).status).toBe(401);
    expect((await signIn(unknownToken())).status).toBe(429);
    const res = await signIn(alice.token);
    expect(res.status).toBe(429);
    expect(res.headers.getSetCookie()).toEqual([]);
  });
});

describe('readiness and metrics: one database probe a second', () => {
  it('a flood of /readyz and /metrics runs one probe per second', async () => {
    await clock.advance(1_000);
    const before = queries.probes;
    const probesBefore = counter('chatd_db_probes_total');
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => fetch(`${replica.url}/${i % 2 ? 'readyz' : 'metrics'}`).then((r) => r.status)));
    expect(answers.every((s) => s === 200)).toBe(true);
    expect(queries.probes - before).toBe(1);
    expect(counter('chatd_db_probes_total') - probesBefore).toBe(1);
    await clock.advance(999);
    expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
    expect(queries.probes - before).toBe(1);
    await clock.advance(1);
    expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${replica.url}/metrics`)).text();
    expect(queries.probes - before).toBe(2);
    expect(metrics).toMatch(/^chatd_notify_queue_usage 0$/m);
    expect(metrics).toMatch(/^chatd_db_probes_total \d+$/m);
  });
});
