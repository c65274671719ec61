// A revoked token keeps none of its sockets (issue 22 item 1), on a real replica with real sockets, PostgreSQL
// LISTEN/NOTIFY and the replica's mock clock: `chatd token revoke` (the CLI, writing the database directly)
// and console sign-out close the token's stream and watch sockets with 1008 `token revoked`, other tokens'
// sockets stay; with the announcement lost (a revocation written by hand) or a console session that expires,
// the keep-alive re-check closes them at the next ping tick, with one lookup per token for all its sockets.
import { createMockClock, type MockClock } from '@chatd/clock';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCli } from '../src/cli/run-cli.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { DEFAULT_PING_INTERVAL_MS } from '../src/server/create-chat-server.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

const SESSION_TTL_MS = 60 * 60 * 1000;
let clock: MockClock;
let replica: RunningChatd;
let aliceId: string;
let chatId: string;
/** Keep-alive re-check lookups (by token id) run through the replica's pool. */
let rechecks = 0;

beforeAll(async () => {
  clock = createMockClock({ now: new Date('2026-01-01T00:00:00Z') });
  replica = await startTestReplica(db.url, { clock, config: { databaseUrl: db.url, worker: false, consoleSessionTtlMs: SESSION_TTL_MS } });
  const alice = await userToken(replica, 'alice');
  aliceId = alice.userId;
  chatId = (await apiClient(replica.url, alice.token)('POST', '', { content: [{ type: 'text', text: 'hello' }] })).body.id as string;
  const pool = replica.chatd.pool;
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && /FROM api_tokens WHERE id = \$1 AND revoked_at IS NULL/.test(args[0])) rechecks++;
    return query(...args);
  };
});
afterAll(async () => {
  await replica?.close();
});

type Sock = { ws: WebSocket; readonly close: { code: number; reason: string } | undefined };

/** Opens a stream or watch socket with `headers`; resolves once open. */
async function open(kind: 'stream' | 'watch', headers: Record<string, string>, origin?: string): Promise<Sock> {
  const path = kind === 'watch' ? 'watch' : `${chatId}/stream`;
  const ws = new WebSocket(`${replica.url.replace(/^http/, 'ws')}/api/experimental/chats/${path}`, { headers, ...(origin ? { origin } : {}) });
  let close: { code: number; reason: string } | undefined;
  ws.on('close', (code, reason) => (close = { code, reason: reason.toString() }));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${kind} answered ${res.statusCode}`)));
  });
  return {
    ws,
    get close() {
      return close;
    },
  };
}

async function newToken(): Promise<{ token: string; id: string; headers: Record<string, string> }> {
  const { token, info } = await replica.chatd.identity.createToken(aliceId, 'revocation test');
  return { token, id: info.id, headers: { 'coder-session-token': token } };
}

const REVOKED = { code: 1008, reason: 'token revoked' };
const revokedMetric = (reason: 'revoked' | 'recheck') => replica.server.metrics.get('chatd_ws_revoked_total', { reason });
/** Fires the keep-alive tick of every open socket. */
const tick = () => clock.advance(DEFAULT_PING_INTERVAL_MS);

describe('revocation closes open sockets', () => {
  it('`chatd token revoke` closes the stream and watch sockets of that token at once (1008 token revoked); others stay', async () => {
    const doomed = await newToken();
    const kept = await newToken();
    const stream = await open('stream', doomed.headers);
    const watch = await open('watch', doomed.headers);
    const other = await open('stream', kept.headers);
    const before = revokedMetric('revoked');
    const out: string[] = [];
    const code = await runCli(['token', 'revoke', doomed.id], { env: { DATABASE_URL: db.url }, out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(code, out.join('\n')).toBe(0);
    // No clock movement: the NOTIFY alone closes them.
    await waitFor(() => stream.close && watch.close, { what: 'both sockets of the revoked token to close' });
    expect(stream.close).toEqual(REVOKED);
    expect(watch.close).toEqual(REVOKED);
    expect(revokedMetric('revoked') - before).toBe(2);
    expect(other.close).toBeUndefined();
    expect(other.ws.readyState).toBe(WebSocket.OPEN);
    // And the token opens nothing new.
    await expect(open('watch', doomed.headers)).rejects.toThrow('watch answered 401');
    other.ws.close();
  });

  it('console sign-out closes the sockets opened with that session', async () => {
    const { token } = await newToken();
    const origin = new URL(replica.url).origin;
    const signIn = await fetch(`${replica.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ token }) });
    const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!;
    const watch = await open('watch', { cookie }, origin);
    const stream = await open('stream', { cookie }, origin);
    const apiSocket = await open('watch', { 'coder-session-token': token });
    expect((await fetch(`${replica.url}/console/session`, { method: 'DELETE', headers: { cookie, origin } })).status).toBe(204);
    await waitFor(() => watch.close && stream.close, { what: 'the session sockets to close' });
    expect(watch.close).toEqual(REVOKED);
    expect(stream.close).toEqual(REVOKED);
    // The API token the session was minted from is another token: its socket stays.
    expect(apiSocket.close).toBeUndefined();
    apiSocket.ws.close();
  });
});

describe('keep-alive re-check (mock clock)', () => {
  it('a revocation whose announcement was lost closes the sockets at the next ping tick, one lookup for all of them', async () => {
    const t = await newToken();
    const sockets = [await open('stream', t.headers), await open('watch', t.headers), await open('stream', t.headers)];
    // Written by hand: no NOTIFY, as if the announcement were lost.
    await replica.chatd.pool.query('UPDATE api_tokens SET revoked_at = $2 WHERE id = $1', [t.id, clock.now()]);
    await clock.advance(DEFAULT_PING_INTERVAL_MS - 1);
    expect(sockets.map((s) => s.close)).toEqual([undefined, undefined, undefined]);
    const before = rechecks;
    const recheckBefore = revokedMetric('recheck');
    await tick();
    await waitFor(() => sockets.every((s) => s.close), { what: 'every socket of the token to close' });
    expect(sockets.map((s) => s.close)).toEqual([REVOKED, REVOKED, REVOKED]);
    expect(revokedMetric('recheck') - recheckBefore).toBe(3);
    // Three sockets on the same tick share one lookup (plus, at most, other tests' sockets still open: none).
    expect(rechecks - before).toBe(1);
  });

  it('a valid token is re-checked at most once per cache interval, whatever the number of its sockets', async () => {
    const t = await newToken();
    const sockets = [await open('stream', t.headers), await open('watch', t.headers)];
    const before = rechecks;
    await tick();
    await tick();
    await tick();
    // Three ticks 15 s apart: each one asks once for both sockets, and the sockets stay.
    expect(rechecks - before).toBe(3);
    expect(sockets.map((s) => s.close)).toEqual([undefined, undefined]);
    for (const s of sockets) s.ws.close();
    await waitFor(() => replica.server.revocation.size() === 0, { what: 'the sockets to unregister' });
  });

  it('a console session that expires closes its sockets at the next tick after the expiry', async () => {
    const { token } = await newToken();
    const origin = new URL(replica.url).origin;
    const signIn = await fetch(`${replica.url}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ token }) });
    const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!;
    const watch = await open('watch', { cookie }, origin);
    // An open socket is not use: the re-check never slides the session.
    const ticks = Math.ceil(SESSION_TTL_MS / DEFAULT_PING_INTERVAL_MS) - 1;
    await clock.advance(ticks * DEFAULT_PING_INTERVAL_MS);
    expect(watch.close).toBeUndefined();
    await tick();
    await waitFor(() => watch.close, { what: 'the expired session socket to close' });
    expect(watch.close).toEqual(REVOKED);
  });
});
