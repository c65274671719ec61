// The admin provider and model-config routes of issue 25 over real HTTP (contract.md#provider-admin and
// 1.2): kind, base_url, api_key_env and a write-only api_key (answered as has_api_key), call options and
// provider options; `reasoning_effort` on create and send; every change publishes `chat:config_change`.
import { useTestDatabase, waitFor } from '@chatd/testkit';
import { CHAT_CONFIG_EVENT_CHANNEL, decodeChatConfigEvent, type ChatConfigEvent } from '@chatd/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let admin: ReturnType<typeof apiClient>;
let user: ReturnType<typeof apiClient>;
const events: ChatConfigEvent[] = [];

beforeAll(async () => {
  replica = await startTestReplica(db.url, { config: { databaseUrl: db.url, worker: false } });
  admin = apiClient(replica.url, (await userToken(replica, 'root', true)).token);
  user = apiClient(replica.url, (await userToken(replica, 'carol')).token);
  await replica.chatd.pubsub.subscribe(CHAT_CONFIG_EVENT_CHANNEL, (msg) => {
    if (msg) events.push(decodeChatConfigEvent(msg));
  });
});
afterAll(async () => {
  await replica?.close();
});

const text = (t: string) => [{ type: 'text', text: t }];
const SECRET = 'sk-route-secret-123';

/** Waits for one more config event than `before` and returns the newest. */
const nextEvent = (before: number) => waitFor(() => (events.length > before ? events.at(-1) : undefined), { what: 'a chat:config_change event', timeoutMs: 5000 });

describe('admin provider routes', () => {
  it('create, list, update and delete providers with kind, base_url, api_key_env; api_key is write-only everywhere', async () => {
    let seen = events.length;
    const made = await admin('POST', '/providers', { provider: 'local-vllm', kind: 'openai-compat', base_url: 'http://127.0.0.1:8000/v1', api_key: SECRET });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ provider: 'local-vllm', kind: 'openai-compatible', base_url: 'http://127.0.0.1:8000/v1', api_key_env: null, has_api_key: true, enabled: true });
    expect(made.body).not.toHaveProperty('api_key');
    expect((await nextEvent(seen)).kind).toBe('providers');

    seen = events.length;
    const anthropic = await admin('POST', '/providers', { provider: 'anthropic', kind: 'anthropic', api_key_env: 'ANTHROPIC_API_KEY' });
    expect(anthropic.body).toMatchObject({ kind: 'anthropic', api_key_env: 'ANTHROPIC_API_KEY', has_api_key: false });
    await nextEvent(seen);

    const list = await admin('GET', '/providers');
    expect(list.status).toBe(200);
    expect(list.body.map((p: { provider: string }) => p.provider)).toEqual(expect.arrayContaining(['local-vllm', 'anthropic']));

    seen = events.length;
    const patched = await admin('PATCH', `/providers/${made.body.id}`, { kind: 'openai', api_key_env: 'OPENAI_API_KEY' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ kind: 'openai', api_key_env: 'OPENAI_API_KEY', has_api_key: true });
    expect((await nextEvent(seen)).kind).toBe('providers');
    const keyless = await admin('PATCH', `/providers/${made.body.id}`, { api_key: null });
    expect(keyless.body).toMatchObject({ has_api_key: false });

    // No answer of any route carries a stored key.
    const second = await admin('POST', '/providers', { provider: 'keyed', api_key: SECRET });
    const answers = [second.body, (await admin('GET', '/providers')).body, (await admin('GET', '/model-configs')).body, (await user('GET', '/model-configs')).body];
    for (const a of answers) expect(JSON.stringify(a)).not.toContain(SECRET);
    expect(await replica.chatd.modelConfigs.getProviderSettings('keyed')).toMatchObject({ apiKey: SECRET });

    seen = events.length;
    expect((await admin('DELETE', `/providers/${second.body.id}`)).status).toBe(204);
    expect((await nextEvent(seen)).kind).toBe('providers');
  });

  it('are for admins only, and refuse bad input with 400 and validations, changing nothing', async () => {
    const before = (await admin('GET', '/providers')).body;
    const id = before[0].id as string;
    expect((await user('GET', '/providers')).status).toBe(403);
    expect((await user('POST', '/providers', { provider: 'mine' })).status).toBe(403);
    expect((await user('PATCH', `/providers/${id}`, { kind: 'openai' })).status).toBe(403);
    expect((await user('DELETE', `/providers/${id}`)).status).toBe(403);
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['POST', '/providers', { provider: 'p1', kind: 'bedrock' }, 'kind'],
      ['POST', '/providers', { provider: 'p2', api_key_env: 'not-a-var' }, 'api_key_env'],
      ['POST', '/providers', { provider: 'p3', kind: 7 }, 'kind'],
      ['PATCH', `/providers/${id}`, { kind: 'vertex' }, 'kind'],
      ['PATCH', `/providers/${id}`, { api_key_env: '9LIVES' }, 'api_key_env'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await admin(method, path, body);
      expect(r.status, `${method} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.validations).toEqual([{ field, detail: expect.any(String) }]);
    }
    expect((await admin('GET', '/providers')).body).toEqual(before);
  });
});

describe('admin model-config routes', () => {
  it('accept and answer call_options and provider_options; GET /model-configs keeps its fields and adds the call options', async () => {
    let seen = events.length;
    const made = await admin('POST', '/model-configs', {
      provider: 'demo',
      model: 'tuned',
      context_limit: 2000,
      call_options: { max_output_tokens: 1024, temperature: 0.2, top_p: 0.9, reasoning_effort: 'medium' },
      provider_options: { openai: { store: false } },
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      provider: 'demo',
      model: 'tuned',
      call_options: { max_output_tokens: 1024, temperature: 0.2, top_p: 0.9, reasoning_effort: 'medium' },
      provider_options: { openai: { store: false } },
    });
    expect(made.body).not.toHaveProperty('callOptions');
    expect(await nextEvent(seen)).toEqual({ kind: 'model_config', entity_id: made.body.id });

    const listed = ((await user('GET', '/model-configs')).body as Record<string, unknown>[]).find((c) => c.id === made.body.id)!;
    // `pricing` (contract.md#cost) is public like the limits: users see what a reply costs.
    expect(Object.keys(listed).sort()).toEqual(
      ['id', 'provider', 'model', 'display_name', 'enabled', 'is_default', 'context_limit', 'compression_threshold', 'created_at', 'updated_at', 'call_options', 'pricing'].sort(),
    );
    expect(listed.call_options).toEqual({ max_output_tokens: 1024, temperature: 0.2, top_p: 0.9, reasoning_effort: 'medium' });
    const asAdmin = ((await admin('GET', '/model-configs')).body as Record<string, unknown>[]).find((c) => c.id === made.body.id)!;
    expect(asAdmin.provider_options).toEqual({ openai: { store: false } });

    seen = events.length;
    const patched = await admin('PATCH', `/model-configs/${made.body.id}`, { call_options: { temperature: 1 }, provider_options: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ call_options: { temperature: 1 }, provider_options: null, context_limit: 2000 });
    expect(await nextEvent(seen)).toEqual({ kind: 'model_config', entity_id: made.body.id });
  });

  it('refuse out-of-range call options and bad provider options with 400 naming the field, changing nothing', async () => {
    const before = (await admin('GET', '/model-configs')).body;
    const target = before[0].id as string;
    const base = { provider: 'demo', model: 'nope', context_limit: 1000 };
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['POST', '/model-configs', { ...base, call_options: { temperature: 3 } }, 'call_options.temperature'],
      ['POST', '/model-configs', { ...base, call_options: { top_p: 2 } }, 'call_options.top_p'],
      ['POST', '/model-configs', { ...base, call_options: { max_output_tokens: 2_000_000 } }, 'call_options.max_output_tokens'],
      ['POST', '/model-configs', { ...base, call_options: { reasoning_effort: 'ultra' } }, 'call_options.reasoning_effort'],
      ['POST', '/model-configs', { ...base, call_options: { temprature: 1 } }, 'call_options.temprature'],
      ['POST', '/model-configs', { ...base, call_options: 'hot' }, 'call_options'],
      ['POST', '/model-configs', { ...base, provider_options: { openai: 1 } }, 'provider_options'],
      ['PATCH', `/model-configs/${target}`, { call_options: { max_output_tokens: 0 } }, 'call_options.max_output_tokens'],
      ['PATCH', `/model-configs/${target}`, { provider_options: ['x'] }, 'provider_options'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await admin(method, path, body);
      expect(r.status, `${method} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.validations).toEqual([{ field, detail: expect.any(String) }]);
    }
    expect((await admin('GET', '/model-configs')).body).toEqual(before);
  });
});

describe('reasoning_effort on create and send', () => {
  const effortOf = async (chatId: string) =>
    (await replica.chatd.pool.query<{ e: string | null }>('SELECT reasoning_effort AS e FROM chats WHERE id = $1', [chatId])).rows[0]!.e;

  it('is stored on the chat (not shown on the wire Chat); send changes it, null resets it; an unknown value is a 400 that changes nothing', async () => {
    const created = await user('POST', '', { content: text('hmm'), reasoning_effort: 'max' });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('reasoning_effort');
    const chatId = created.body.id as string;
    expect(await effortOf(chatId)).toBe('max');

    const sent = await user('POST', `/${chatId}/messages`, { content: text('now quickly'), reasoning_effort: 'none' });
    expect(sent.status).toBe(200);
    expect(await effortOf(chatId)).toBe('none');
    await user('POST', `/${chatId}/messages`, { content: text('again') });
    expect(await effortOf(chatId)).toBe('none');
    await user('POST', `/${chatId}/messages`, { content: text('as configured'), reasoning_effort: null });
    expect(await effortOf(chatId)).toBeNull();

    const count = async () => (await replica.chatd.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chat_messages')).rows[0]!.n;
    const chatsBefore = (await replica.chatd.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chats')).rows[0]!.n;
    const messagesBefore = await count();
    for (const bad of ['huge', 'HIGH', 3, {}]) {
      const a = await user('POST', '', { content: text('x'), reasoning_effort: bad });
      expect(a.status).toBe(400);
      expect(a.body.validations).toEqual([{ field: 'reasoning_effort', detail: expect.any(String) }]);
      const b = await user('POST', `/${chatId}/messages`, { content: text('y'), reasoning_effort: bad });
      expect(b.status).toBe(400);
      expect(b.body.validations).toEqual([{ field: 'reasoning_effort', detail: expect.any(String) }]);
    }
    expect((await replica.chatd.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM chats')).rows[0]!.n).toBe(chatsBefore);
    expect(await count()).toBe(messagesBefore);
    expect(await effortOf(chatId)).toBeNull();
  });
});
