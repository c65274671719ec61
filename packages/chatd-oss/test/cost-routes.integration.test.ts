// The cost routes and limits over HTTP (issue 33, contract.md#cost) on one replica with the mock clock and no
// worker: prices set through the admin model-config routes, `GET /{chat}/cost`, the admin spend-limit routes, the
// 409 with its exact body on create, send, edit and tool results once spent >= limit (nothing written), the limit
// lifting at `resets_at` (the next Monday 00:00 UTC for a weekly limit), and the per-user write bucket's 429 with
// Retry-After at its edge.
import { createMockClock, type MockClock } from '@chatd/clock';
import { useTestDatabase } from '@chatd/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

let replica: RunningChatd | undefined;
afterEach(async () => {
  await replica?.close();
  replica = undefined;
});

/** A Wednesday: a weekly limit resets the next Monday 00:00 UTC. */
const WEDNESDAY = new Date('2026-03-04T10:30:00Z');
const NEXT_MONDAY = '2026-03-09T00:00:00.000Z';

async function start(clock: MockClock, config: Record<string, unknown> = {}) {
  replica = await startTestReplica(db.url, { clock, config: { databaseUrl: db.url, worker: false, writeBurst: 1000, ...config } });
  const admin = await userToken(replica, `admin-${Math.random().toString(36).slice(2, 8)}`, true);
  const user = await userToken(replica, `user-${Math.random().toString(36).slice(2, 8)}`);
  return { r: replica, admin: apiClient(replica.url, admin.token), api: apiClient(replica.url, user.token), userId: user.userId, token: user.token };
}

/** POST / with the status and Retry-After header. */
async function createWithHeaders(baseUrl: string, token: string, content: string) {
  const res = await fetch(`${baseUrl}/api/experimental/chats`, {
    method: 'POST',
    headers: { 'coder-session-token': token, 'content-type': 'application/json' },
    body: JSON.stringify({ content }),
  });
  await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after') };
}

describe('cost routes', () => {
  it('prices through the admin routes, GET /{chat}/cost, and the spend limit: 409 with its body past the boundary, lifted at resets_at', async () => {
    const clock = createMockClock({ now: WEDNESDAY });
    const { r, admin, api, userId } = await start(clock);
    const configs = await admin('GET', '/model-configs');
    const configId = configs.body.find((c: { is_default: boolean }) => c.is_default).id as string;

    // Prices: bad input is a 400 naming the field and changes nothing.
    const bad = await admin('PATCH', `/model-configs/${configId}`, { pricing: { input: -1, output: 2 } });
    expect(bad.status).toBe(400);
    expect(bad.body.validations).toEqual([{ field: 'pricing.input', detail: expect.any(String) }]);
    expect((await admin('GET', '/model-configs')).body.find((c: { id: string }) => c.id === configId).pricing).toBeNull();
    const priced = await admin('PATCH', `/model-configs/${configId}`, { pricing: { input: 1_000_000, output: 2_000_000 } });
    expect(priced.status).toBe(200);
    expect(priced.body.pricing).toEqual({ input: 1_000_000, output: 2_000_000 });

    // Spend limits: admins only; period and amount checked.
    expect((await api('PUT', `/users/${userId}/spend-limit`, { period: 'week', limit_micros: 1000 })).status).toBe(403);
    const badPeriod = await admin('PUT', `/users/${userId}/spend-limit`, { period: 'fortnight', limit_micros: 1000 });
    expect(badPeriod.status).toBe(400);
    expect(badPeriod.body.validations).toEqual([{ field: 'period', detail: 'must be day, week or month' }]);
    const set = await admin('PUT', `/users/${userId}/spend-limit`, { period: 'week', limit_micros: 1000 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ user_id: userId, period: 'week', limit_micros: 1000 });

    const created = await api('POST', '', { content: 'first' });
    expect(created.status).toBe(201);
    const chatId = created.body.id as string;
    const firstMessage = (await api('GET', `/${chatId}/messages`)).body.messages[0].id as number;
    // 200 input x 1 + 100 output x 2 = 400 micro-units: room left; then 400 x 1 + 100 x 2 = 600 reaches the limit.
    const call = { chatId, modelConfigId: configId, usage: { input_tokens: 200, output_tokens: 100 }, runtimeMs: 5 };
    expect(await r.chatd.costs.recordModelCall(call)).toEqual({ costMicros: 400 });
    expect((await api('POST', `/${chatId}/messages`, { content: 'second' })).status).toBe(200);
    expect(await r.chatd.costs.recordModelCall({ ...call, usage: { input_tokens: 400, output_tokens: 100 } })).toEqual({ costMicros: 600 });

    // spent (1000) >= limit (1000): every write that would start a turn is refused with the same body.
    const refusal = { message: 'You have reached your spend limit.', spent_micros: 1000, limit_micros: 1000, resets_at: NEXT_MONDAY };
    const before = await r.chatd.pool.query('SELECT (SELECT count(*) FROM chats) AS chats, (SELECT count(*) FROM chat_messages) AS messages');
    for (const [method, path, body] of [
      ['POST', '', { content: 'third' }],
      ['POST', `/${chatId}/messages`, { content: 'third' }],
      ['PATCH', `/${chatId}/messages/${firstMessage}`, { content: 'edited' }],
      ['POST', `/${chatId}/tool-results`, { results: [] }],
    ] as const) {
      const res = await api(method, path, body);
      expect({ method, path, status: res.status, body: res.body }).toEqual({ method, path, status: 409, body: refusal });
    }
    expect((await r.chatd.pool.query('SELECT (SELECT count(*) FROM chats) AS chats, (SELECT count(*) FROM chat_messages) AS messages')).rows).toEqual(before.rows);
    expect(r.server.metrics.get('chatd_spend_limit_refusals_total')).toBe(4);
    expect((await api('GET', `/users/${userId}/spend-limit`)).body).toMatchObject({ period: 'week', limit_micros: 1000, spent_micros: 1000, resets_at: NEXT_MONDAY });

    expect((await api('GET', `/${chatId}/cost`)).body).toEqual({ chat_id: chatId, total_cost_micros: 1000, request_count: 2, unpriced_request_count: 0 });
    expect((await admin('GET', `/${chatId}/cost`)).status).toBe(404);

    // One millisecond before the reset it still refuses; at resets_at the new week starts from zero. (The clock is set,
    // not advanced: days of the server's keep-alive timers need not fire.)
    clock.set(Date.parse(NEXT_MONDAY) - 1);
    expect((await api('POST', '', { content: 'almost' })).status).toBe(409);
    clock.set(Date.parse(NEXT_MONDAY));
    expect((await api('POST', '', { content: 'new week' })).status).toBe(201);

    // Removing the limit: 204, then GET is a 404.
    expect((await admin('DELETE', `/users/${userId}/spend-limit`)).status).toBe(204);
    expect((await admin('GET', `/users/${userId}/spend-limit`)).status).toBe(404);
  });

  it('429 with Retry-After at the edge of the write bucket; reads are not limited; a token is back after a second', async () => {
    const clock = createMockClock({ now: WEDNESDAY });
    const { api, token } = await start(clock, { writeBurst: 3, writeRatePerMinute: 60 });
    const chatIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await api('POST', '', { content: `chat ${i}` });
      expect(res.status).toBe(201);
      chatIds.push(res.body.id);
    }
    const limited = await createWithHeaders(replica!.url, token, 'one too many');
    expect(limited.status).toBe(429);
    expect(limited.retryAfter).toBe('1');
    expect((await api('GET', `/${chatIds[0]}`)).status).toBe(200);
    await clock.advance(999);
    expect((await createWithHeaders(replica!.url, token, 'still too early')).status).toBe(429);
    await clock.advance(1);
    expect((await createWithHeaders(replica!.url, token, 'back')).status).toBe(201);
    expect(replica!.server.metrics.get('chatd_write_limited_total')).toBe(2);
  });
});
