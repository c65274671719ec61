// Input hardening and auth (issue 17) against a real replica on real PostgreSQL: random and malformed HTTP
// bodies, headers, query strings and WebSocket frames to every route and socket answer only typed 4xx
// errors (`{message}`), never crash the server, never leave an unhandled rejection and never change stored
// data; a missing, malformed or revoked token is a 401 everywhere, and another user's chat is a 404 exactly
// like a chat that does not exist. Fixed seed and bounded runs in `npm test`; FUZZ_RUNS=n runs longer.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? 17);
const params = { numRuns: RUNS, seed: SEED };
const API = '/api/experimental/chats';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let alice: { token: string; userId: string };
let bob: { token: string; userId: string };
let revoked: string;
let aliceChat: string;
let bobChat: string;
let client: pg.Client;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** A digest of every stored chat, message, run, queued message and model configuration. */
async function snapshot(): Promise<string> {
  const { rows } = await client.query<{ d: string }>(`
    select md5(coalesce(string_agg(x, '|' order by x), '')) as d from (
      select row(c.*)::text as x from chats c
      union all select row(m.*)::text from chat_messages m
      union all select row(r.*)::text from chat_runs r
      union all select row(q.*)::text from chat_queued_messages q
      union all select row(mc.*)::text from chat_model_configs mc
      union all select row(p.*)::text from chat_providers p
      union all select row(u.*)::text from users u
    ) t`);
  return rows[0]!.d;
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  // Hundreds of invalid tokens from one client: a budget large enough that every one is answered 401 here (the
  // failed-auth limit itself is auth-load.integration.test.ts).
  replica = await startTestReplica(db.url, { config: { databaseUrl: db.url, acquireIntervalMs: 50, authFailureBurst: 1_000_000 } });
  alice = await userToken(replica, 'alice');
  bob = await userToken(replica, 'bob');
  const { user } = await replica.chatd.identity.ensureUser({ username: 'alice' });
  const gone = await replica.chatd.identity.createToken(user.id, 'to revoke');
  await replica.chatd.identity.revokeToken(gone.info.id);
  revoked = gone.token;
  const text = (t: string) => ({ content: [{ type: 'text', text: t }] });
  aliceChat = (await apiClient(replica.url, alice.token)('POST', '', text('alice private'))).body.id;
  bobChat = (await apiClient(replica.url, bob.token)('POST', '', text('bob private'))).body.id;
  // Both replies finish first: from here on nothing but the fuzzed requests could change stored data.
  await waitFor(async () => {
    const a = await apiClient(replica.url, alice.token)('GET', `/${aliceChat}`);
    const b = await apiClient(replica.url, bob.token)('GET', `/${bobChat}`);
    return a.body.status === 'waiting' && b.body.status === 'waiting';
  }, { what: 'both replies to finish', timeoutMs: 20_000 });
  // And both generated titles (contract.md#generated-titles), written after the first reply has ended.
  await waitFor(async () => {
    const { rows } = await replica.chatd.pool.query<{ n: number }>("select count(*)::int as n from chats where id = any($1) and title_source = 'rule'", [[aliceChat, bobChat]]);
    return rows[0]!.n === 0;
  }, { what: 'both generated titles', timeoutMs: 20_000 });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await client?.end();
  await replica?.close();
});

type Answer = { status: number; text: string };

async function send(method: string, path: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<Answer> {
  const res = await fetch(`${replica.url}${path}`, { method, headers, ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}) });
  return { status: res.status, text: await res.text() };
}

/** A 4xx answer has the error body `{message, detail?, validations?}`; nothing is a 5xx. */
function expectTyped(a: Answer, what: string): void {
  expect(a.status, `${what}: ${a.text.slice(0, 200)}`).toBeLessThan(500);
  if (a.status >= 400 && a.status !== 405) {
    const body = JSON.parse(a.text) as { message?: unknown };
    expect(typeof body.message, `${what}: ${a.text.slice(0, 200)}`).toBe('string');
  }
}

/** Routes with `{chat}` and `{id}` placeholders (every REST route of the API). */
const ROUTES: [string, string][] = [
  ['GET', ''],
  ['POST', ''],
  ['GET', '/model-configs'],
  ['POST', '/model-configs'],
  ['PATCH', '/model-configs/{id}'],
  ['DELETE', '/model-configs/{id}'],
  ['GET', '/{chat}'],
  ['PATCH', '/{chat}'],
  ['GET', '/{chat}/messages'],
  ['POST', '/{chat}/messages'],
  ['POST', '/{chat}/interrupt'],
  ['DELETE', '/{chat}/queue/{id}'],
  ['POST', '/{chat}/queue/{id}/promote'],
  ['PUT', '/{chat}/git'],
  ['GET', '/{chat}/diff-status'],
];

const fill = (route: string, chat: string, id: string) => `${API}${route.replace('{chat}', encodeURIComponent(chat)).replace('{id}', encodeURIComponent(id))}`;

/** Bodies that can never be a valid request: not JSON, JSON that is not an object, or raw bytes. */
const badBody = fc.oneof(
  fc.string().filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
  fc.oneof(fc.array(fc.jsonValue(), { maxLength: 4 }), fc.integer(), fc.string(), fc.constant(null), fc.boolean()).map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 256 }),
  fc.constantFrom('{', '{"content":', '{"content":[{"type":"text"}]', '[{"type":"text","text":"x"}]', '{"content": 1e999999}', '\u0000', '{"__proto__":{"x":1}}'.slice(0, 5)),
);

/** Header names that are valid HTTP tokens and values that fetch accepts. */
const extraHeaders = fc.dictionary(
  fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/).filter((h) => !['host', 'content-length', 'connection', 'transfer-encoding', 'upgrade', 'expect', 'keep-alive', 'te', 'trailer'].includes(h)),
  fc.stringMatching(/^[ -~]{0,40}$/).map((s) => s.trim()),
  { maxKeys: 4 },
);

const chatIds = () => fc.constantFrom(aliceChat, bobChat, '00000000-0000-0000-0000-000000000000', 'not-a-uuid', '../..', '%00', '1'.repeat(300));

describe('fuzz: HTTP routes with a valid token', () => {
  it('malformed bodies and random headers get typed 4xx answers and change no stored data', async () => {
    const before = await snapshot();
    const routes = ROUTES.filter(([m, r]) => !(m === 'POST' && r.endsWith('/interrupt')));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), chatIds(), fc.string({ maxLength: 40 }), badBody, extraHeaders, fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''), async ([method, route], chat, id, body, headers, contentType) => {
        const h: Record<string, string> = { ...headers, 'coder-session-token': alice.token };
        if (contentType) h['content-type'] = contentType;
        else delete h['content-type'];
        const a = await send(method, fill(route, chat, id), h, body);
        expectTyped(a, `${method} ${route}`);
        if (method !== 'GET') expect(a.status, `${method} ${route} with a bad body`).toBeGreaterThanOrEqual(400);
      }),
      params,
    );
    expect(await snapshot()).toBe(before);
  });

  it('a request target that is no URL (`//%/`) or has malformed percent-encoding is a 400, and the server lives on', async () => {
    for (const target of ['//%/', '//-1.r-4F%/experimental', `${API}/%`, `${API}/${aliceChat}/%zz`]) {
      const a = await send('GET', target, { 'coder-session-token': alice.token });
      expect(a.status, target).toBe(400);
      expectTyped(a, target);
    }
    expect((await send('GET', '/healthz', {})).status).toBe(200);
  });

  it('random methods and paths anywhere on the server (console, operations, API) never get a 5xx', async () => {
    const before = await snapshot();
    const segment = fc.oneof(fc.constantFrom('api', 'experimental', 'chats', 'messages', 'stream', 'watch', 'healthz', 'readyz', 'metrics', 'model-configs', 'queue', 'git', 'diff-status', 'console', 'login', aliceChat, '..', '.', '%2e%2e', '%', ''), fc.stringMatching(/^[A-Za-z0-9._~%-]{0,12}$/));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'), fc.array(segment, { maxLength: 6 }), fc.boolean(), badBody, async (method, segments, authed, body) => {
        // A request the server never answers fails here (the deadline), not as a test timeout.
        const res = await fetch(`${replica.url}/${segments.join('/')}`, { method, headers: authed ? { 'coder-session-token': alice.token } : {}, signal: AbortSignal.timeout(5000), ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
        await res.arrayBuffer();
        expect(res.status, `${method} /${segments.join('/')}`).toBeLessThan(500);
      }),
      { ...params, endOnFailure: true },
    );
    expect(await snapshot()).toBe(before);
  });

  it('random query strings on the list, history and stream routes get 200 or a typed 400', async () => {
    const before = await snapshot();
    const key = fc.constantFrom('limit', 'offset', 'archived', 'before_id', 'after_id', 'after_seq', 'run_id', 'wait', 'x');
    const value = fc.oneof(fc.string({ maxLength: 30 }), fc.bigInt().map(String), fc.constantFrom('9223372036854775807', '9223372036854775808', '-1', '0', '1e3', '0x10', ' 1', 'true', 'NaN', ''));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('', `/${aliceChat}/messages`, `/${aliceChat}/stream`), fc.array(fc.tuple(key, value), { maxLength: 4 }), async (route, pairs) => {
        const q = new URLSearchParams(pairs).toString();
        if (route.endsWith('/stream')) {
          const status = await upgradeStatus(`${API}${route}?${q}`, { 'coder-session-token': alice.token });
          expect([101, 400]).toContain(status);
          return;
        }
        const a = await send('GET', `${API}${route}?${q}`, { 'coder-session-token': alice.token });
        expectTyped(a, `GET ${route}?${q}`);
        expect([200, 400]).toContain(a.status);
      }),
      params,
    );
    expect(await snapshot()).toBe(before);
  });
});

/** The HTTP status a WebSocket upgrade gets: 101 when it opens (then closed at once). */
function upgradeStatus(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}${path}`, { headers, perMessageDeflate: false });
    ws.on('upgrade', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => resolve(-1));
  });
}

describe('fuzz: auth on every route and socket', () => {
  const tokenVariants = (): fc.Arbitrary<Record<string, string>> =>
    fc.oneof<fc.Arbitrary<Record<string, string>>[]>(
      fc.constant<Record<string, string>>({}),
      fc.stringMatching(/^[!-~]{1,60}$/).map((t) => ({ 'coder-session-token': t })),
      fc.stringMatching(/^[!-~]{1,60}$/).map((t) => ({ authorization: `Bearer ${t}` })),
      fc.stringMatching(/^[!-~]{0,60}$/).map((t) => ({ authorization: t })),
      fc.stringMatching(/^[!-:<-~]{1,60}$/).map((t) => ({ cookie: `coder_session_token=${t}` })),
      fc.constantFrom<Record<string, string>>(
        { 'coder-session-token': revoked },
        { authorization: `Bearer ${revoked}` },
        { cookie: `coder_session_token=${revoked}` },
        { 'coder-session-token': `${alice.token}x` },
        { 'coder-session-token': alice.token.slice(0, -1) },
      ),
    );

  it('a missing, malformed or revoked token is a 401 on every route and socket, and changes nothing', async () => {
    const before = await snapshot();
    const routes: [string, string][] = [...ROUTES, ['WS', '/{chat}/stream'], ['WS', '/watch']];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), chatIds(), tokenVariants(), fc.option(fc.json(), { nil: undefined }), async ([method, route], chat, variant, body) => {
        // A cookie comes with the page's Origin, as a browser sends it, so the CSRF guard lets it reach auth.
        const headers = variant.cookie ? { ...variant, origin: new URL(replica.url).origin } : variant;
        const path = fill(route, chat, 'x');
        if (method === 'WS') {
          expect(await upgradeStatus(path, headers)).toBe(401);
          return;
        }
        const a = await send(method, path, { ...headers, 'content-type': 'application/json' }, body);
        expect(a.status, `${method} ${route}: ${a.text}`).toBe(401);
        expectTyped(a, `${method} ${route}`);
        expect(a.text).not.toContain('alice private');
      }),
      params,
    );
    expect(await snapshot()).toBe(before);
  });

  it("another user's chat is a 404 exactly like a chat that does not exist, on every chat route and the stream", async () => {
    const before = await snapshot();
    const missing = '6f1b8c9e-1d2a-4b3c-8d4e-5f6a7b8c9d0e';
    const chatRoutes = ROUTES.filter(([, r]) => r.startsWith('/{chat}'));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...chatRoutes, ['WS', '/{chat}/stream'] as [string, string]), fc.option(fc.json(), { nil: undefined }), async ([method, route], body) => {
        if (method === 'WS') {
          expect(await upgradeStatus(fill(route, aliceChat, 'x'), { 'coder-session-token': bob.token })).toBe(404);
          expect(await upgradeStatus(fill(route, missing, 'x'), { 'coder-session-token': bob.token })).toBe(404);
          return;
        }
        const h = { 'coder-session-token': bob.token, 'content-type': 'application/json' };
        const foreign = await send(method, fill(route, aliceChat, 'x'), h, body);
        const none = await send(method, fill(route, missing, 'x'), h, body);
        // A malformed body may be refused (400) before the chat is looked up; either way both answers match.
        expect([400, 404]).toContain(foreign.status);
        expect({ status: foreign.status, text: foreign.text.replaceAll(aliceChat, '{chat}') }).toEqual({ status: none.status, text: none.text.replaceAll(missing, '{chat}') });
        expect(foreign.text).not.toContain('alice private');
      }),
      params,
    );
    const list = await apiClient(replica.url, bob.token)('GET', '');
    expect(list.body.map((c: { id: string }) => c.id)).toEqual([bobChat]);
    expect(await snapshot()).toBe(before);
  });
});

describe("auth: another user's chat stays invisible", () => {
  it("a well-formed post, rename, interrupt or stream by another user is a 404 and changes nothing", async () => {
    const before = await snapshot();
    const bobApi = apiClient(replica.url, bob.token);
    const attempts = [
      await bobApi('POST', `/${aliceChat}/messages`, { content: [{ type: 'text', text: 'let me in' }] }),
      await bobApi('POST', `/${aliceChat}/messages`, { content: [{ type: 'text', text: 'let me in' }], busy_behavior: 'interrupt' }),
      await bobApi('PATCH', `/${aliceChat}`, { title: 'mine now', archived: true }),
      await bobApi('POST', `/${aliceChat}/interrupt`),
      await bobApi('GET', `/${aliceChat}/messages`),
    ];
    expect(attempts.map((a) => a.status)).toEqual([404, 404, 404, 404, 404]);
    expect(await upgradeStatus(`${API}/${aliceChat}/stream`, { 'coder-session-token': bob.token })).toBe(404);
    expect(await snapshot()).toBe(before);
  });

  it("the watch socket tells a user nothing about another user's chats", async () => {
    const bobEvents: string[] = [];
    const aliceEvents: string[] = [];
    const open = (token: string, into: string[]) => {
      const ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}${API}/watch`, { headers: { 'coder-session-token': token }, perMessageDeflate: false });
      ws.on('message', (d) => into.push(String(d)));
      ws.on('error', () => {});
      return new Promise<WebSocket>((resolve) => ws.once('open', () => resolve(ws)));
    };
    const [bobWs, aliceWs] = await Promise.all([open(bob.token, bobEvents), open(alice.token, aliceEvents)]);
    // Alice's chat changes (a new turn runs and finishes): her watch hears of it, Bob's does not.
    const posted = await apiClient(replica.url, alice.token)('POST', `/${aliceChat}/messages`, { content: [{ type: 'text', text: 'one more' }] });
    expect(posted.status).toBeLessThan(300);
    await waitFor(() => aliceEvents.some((e) => e.includes(aliceChat) && e.includes('"waiting"')), { what: "alice's watch to see her chat rest", timeoutMs: 20_000 });
    expect(bobEvents.filter((e) => e.includes(aliceChat))).toEqual([]);
    bobWs.terminate();
    aliceWs.terminate();
  });
});

describe('fuzz: WebSocket frames from clients', () => {
  it('random text and binary frames on the stream and watch sockets crash nothing and change nothing', async () => {
    const before = await snapshot();
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json(),
      fc.uint8Array({ maxLength: 512 }),
      fc.constantFrom('[]', '[{"type":"message_part"}]', '{"type":"interrupt"}', 'null', '\u0000'),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(`${API}/${aliceChat}/stream`, `${API}/watch`), fc.array(frame, { minLength: 1, maxLength: 8 }), async (path, frames) => {
        const ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}${path}`, { headers: { 'coder-session-token': alice.token }, perMessageDeflate: false });
        ws.on('error', () => {});
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('unexpected-response', () => reject(new Error('upgrade refused')));
        });
        for (const f of frames) ws.send(f);
        // The server still answers on this very socket: a protocol ping gets its pong.
        const ponged = new Promise<boolean>((resolve) => {
          ws.once('pong', () => resolve(true));
          ws.once('close', () => resolve(false));
        });
        ws.ping();
        await ponged;
        ws.terminate();
      }),
      { ...params, numRuns: Math.max(1, Math.floor(RUNS / 2)) },
    );
    const health = await send('GET', '/healthz', {});
    expect(health.status).toBe(200);
    expect(await snapshot()).toBe(before);
  });

  it('left no unhandled rejection behind', () => {
    expect(unhandled).toEqual([]);
  });
});
