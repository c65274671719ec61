// Socket tickets (contract.md#tickets) on a real replica and real PostgreSQL: a ticket opens one WebSocket or SSE
// stream of its chat (or one watch/inbox socket); it is refused when reused, for another chat or socket kind, after
// its token is revoked, and (mock clock, on the store) once expired; a ticketed socket closes with its token.
import { createMockClock } from '@chatd/clock';
import { openSseReader, useTestDatabase, waitFor } from '@chatd/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createChatClient } from '@chatd/client';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createIdentityStore } from '../src/identity/identity-store.js';
import { SOCKET_TICKET_TTL_MS, createSocketTicketStore } from '../src/identity/socket-ticket-store.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

/** Opens a socket at `path` (under the server) and resolves with its open, or the refused upgrade's status. */
function dial(url: string): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', () => {});
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
    });
  });
}

describe('socket tickets', () => {
  let replica: RunningChatd;
  let token: string;
  let api: ReturnType<typeof apiClient>;
  let wsBase: string;
  beforeAll(async () => {
    replica = await startTestReplica(db.url);
    ({ token } = await userToken(replica, 'ticket-user'));
    api = apiClient(replica.url, token);
    wsBase = `${replica.url.replace(/^http/, 'ws')}/api/experimental/chats`;
  });
  afterAll(async () => {
    await replica?.close();
  });

  const mintStream = async (chatId: string) => {
    const r = await api('POST', `/${chatId}/stream-ticket`);
    expect(r.status).toBe(200);
    expect(typeof r.body.ticket).toBe('string');
    expect(Date.parse(r.body.expires_at)).toBeGreaterThan(Date.now());
    return r.body.ticket as string;
  };

  it('a stream ticket opens one WebSocket of its chat and is refused when reused or for another chat', async () => {
    const client = createChatClient({ baseUrl: replica.url, token });
    const [a, b] = await Promise.all([client.create('ticket a'), client.create('ticket b')]);
    const ticket = await mintStream(a.id);
    const first = await dial(`${wsBase}/${a.id}/stream?ticket=${ticket}`);
    expect(first.status).toBe(101);
    const refusedBefore = replica.server.metrics.get('chatd_tickets_refused_total', { reason: 'used' });
    expect((await dial(`${wsBase}/${a.id}/stream?ticket=${ticket}`)).status).toBe(401);
    expect(replica.server.metrics.get('chatd_tickets_refused_total', { reason: 'used' })).toBe(refusedBefore + 1);
    const forA = await mintStream(a.id);
    expect((await dial(`${wsBase}/${b.id}/stream?ticket=${forA}`)).status).toBe(401);
    // Used up by the refused attempt too: a ticket is never tried twice.
    expect((await dial(`${wsBase}/${a.id}/stream?ticket=${forA}`)).status).toBe(401);
    expect((await dial(`${wsBase}/${a.id}/stream?ticket=chatdt_nonsense`)).status).toBe(401);
    first.ws!.close();
  });

  it('a stream ticket opens an SSE stream; a watch ticket opens the watch and inbox sockets but no stream', async () => {
    const client = createChatClient({ baseUrl: replica.url, token });
    const chat = await client.create('ticket sse');
    const sse = openSseReader(`${replica.url}/api/experimental/chats/${chat.id}/stream?ticket=${await mintStream(chat.id)}`);
    expect((await sse.response).status).toBe(200);
    await sse.until(() => sse.events.length > 0, 'the SSE snapshot');
    sse.close();
    const watchTicket = async () => {
      const r = await api('POST', '/watch-ticket');
      expect(r.status).toBe(200);
      return r.body.ticket as string;
    };
    const watch = await dial(`${wsBase}/watch?ticket=${await watchTicket()}`);
    expect(watch.status).toBe(101);
    const inbox = await dial(`${replica.url.replace(/^http/, 'ws')}/api/v2/notifications/inbox/watch?ticket=${await watchTicket()}`);
    expect(inbox.status).toBe(101);
    expect((await dial(`${wsBase}/${chat.id}/stream?ticket=${await watchTicket()}`)).status).toBe(401);
    expect((await dial(`${wsBase}/watch?ticket=${await mintStream(chat.id)}`)).status).toBe(401);
    watch.ws!.close();
    inbox.ws!.close();
  });

  it('a ticket of a revoked token is refused, and a ticketed socket closes when its token is revoked', async () => {
    const { token: own } = await userToken(replica, 'ticket-revoked');
    const ownApi = apiClient(replica.url, own);
    const chat = (await ownApi('POST', '', { content: 'revoke me' })).body;
    const open = await dial(`${wsBase}/${chat.id}/stream?ticket=${(await ownApi('POST', `/${chat.id}/stream-ticket`)).body.ticket}`);
    expect(open.status).toBe(101);
    let closeCode: number | undefined;
    open.ws!.once('close', (code) => (closeCode = code));
    const spare = (await ownApi('POST', `/${chat.id}/stream-ticket`)).body.ticket as string;
    const info = await replica.chatd.identity.verifyToken(own);
    await replica.chatd.identity.revokeToken(info!.tokenId);
    await waitFor(() => closeCode === 1008, { what: 'the ticketed socket to close with its token' });
    expect((await dial(`${wsBase}/${chat.id}/stream?ticket=${spare}`)).status).toBe(401);
    expect(replica.server.metrics.get('chatd_tickets_refused_total', { reason: 'token_inactive' })).toBeGreaterThan(0);
  });
});

describe('socket ticket store (mock clock)', () => {
  it('refuses an expired ticket and accepts one just before expiry', async () => {
    const pool = new pg.Pool({ connectionString: db.url });
    try {
      const clock = createMockClock();
      const identity = createIdentityStore({ pool, clock });
      const { user } = await identity.ensureUser({ username: 'ticket-clock' });
      const { token } = await identity.createToken(user.id, 'test');
      const who = (await identity.verifyToken(token))!;
      const tickets = createSocketTicketStore({ pool, clock, identity });
      const early = await tickets.mint(who, { kind: 'watch' });
      const late = await tickets.mint(who, { kind: 'watch' });
      await clock.advance(SOCKET_TICKET_TTL_MS - 1);
      expect(await tickets.redeem(early.ticket, { kind: 'watch' })).toMatchObject({ ok: true, who: { tokenId: who.tokenId, user: { id: user.id } } });
      await clock.advance(1);
      expect(await tickets.redeem(late.ticket, { kind: 'watch' })).toEqual({ ok: false, reason: 'expired' });
    } finally {
      await pool.end();
    }
  });
});
