// The compaction and title routes on a real replica (contract.md#compaction): `POST /{chat}/compact` on a short
// resting chat (202, then a run that only compacts), in `requires_action` (409) and on another user's chat (404);
// generated titles seen on the watch socket, the fallback when the title model (a provider stand-in answering 500)
// fails, `POST /{chat}/title/propose` storing nothing; the admin `GET|PATCH /config`.
import { randomUUID } from 'node:crypto';
import { createRealClock } from '@chatd/clock';
import type { ChatMessage } from '@chatd/protocol';
import { startModelStandIn, useTestDatabase, waitFor, type ModelStandIn } from '@chatd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createDemoLanguageModel } from '../src/model/demo-model.js';
import { demoTitleText } from '../src/model/task-prompts.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { CHAT_SUMMARIZED_TOOL_NAME } from '../src/worker/compaction.js';
import { apiClient, startTestReplica, userToken } from './helpers/server-harness.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
let replica: RunningChatd;
let standIn: ModelStandIn;
let admin: ReturnType<typeof apiClient>;
let alice: ReturnType<typeof apiClient>;
let aliceToken: string;
let bob: ReturnType<typeof apiClient>;

beforeAll(async () => {
  standIn = await startModelStandIn({ wire: 'openai-chat', defaultReply: { status: 500 } });
  const demo = createDemoLanguageModel({ clock: createRealClock(), tokensPerSecond: 400, replyTokens: 24 });
  // The demo model for every configuration but the stand-in's, which goes through the built-in provider.
  replica = await startTestReplica(db.url, { models: { resolve: (c) => (c.provider === 'standin' ? undefined : demo) } });
  admin = apiClient(replica.url, (await userToken(replica, 'root', true)).token);
  const a = await userToken(replica, 'alice');
  aliceToken = a.token;
  alice = apiClient(replica.url, a.token);
  bob = apiClient(replica.url, (await userToken(replica, 'bob')).token);
});
afterAll(async () => {
  await replica?.close();
  await standIn?.close();
});

async function visible(chatId: string): Promise<ChatMessage[]> {
  return ((await alice('GET', `/${chatId}/messages?limit=200`)).body.messages as ChatMessage[]).slice().reverse();
}

async function restingChat(prompt: string): Promise<string> {
  const created = await alice('POST', '', { content: prompt });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  await waitFor(async () => (await alice('GET', `/${id}`)).body.status === 'waiting', { what: 'the first reply', timeoutMs: 15_000 });
  return id;
}

const isSummarized = (m: ChatMessage) => (m.content ?? []).some((p) => (p.type === 'tool-call' || p.type === 'tool-result') && p.tool_name === CHAT_SUMMARIZED_TOOL_NAME);

describe('POST /{chat}/compact', () => {
  it('on a short resting chat: 202, then a run summarizes everything; the visible history keeps every message', async () => {
    const chatId = await restingChat('remember the number forty two');
    const before = await visible(chatId);
    expect(before.map((m) => m.role)).toEqual(['user', 'assistant']);
    const r = await alice('POST', `/${chatId}/compact`);
    expect(r.status).toBe(202);
    await waitFor(async () => (await visible(chatId)).some((m) => m.role === 'tool' && isSummarized(m)), { what: 'the compaction', timeoutMs: 15_000 });
    await waitFor(async () => (await alice('GET', `/${chatId}`)).body.status === 'waiting', { what: 'the chat at rest again', timeoutMs: 15_000 });
    const after = await visible(chatId);
    expect(after.slice(0, 2)).toEqual(before);
    expect(after.map((m) => m.role)).toEqual(['user', 'assistant', 'assistant', 'tool']);
    expect(after[2]!.content).toEqual([expect.objectContaining({ type: 'tool-call', tool_name: CHAT_SUMMARIZED_TOOL_NAME, args: { source: 'manual' } })]);
    const result = (after[3]!.content![0] as { result: Record<string, unknown> }).result;
    expect(result).toMatchObject({ source: 'manual', summary: expect.stringMatching(/^Summary of \d+ words: User: remember the number forty two/) });
    // The model now sees the summary alone; no reply was generated for a compaction.
    const model = await replica.chatd.chats.modelHistory(chatId);
    expect(model).toHaveLength(1);
    expect(model[0]).toMatchObject({ role: 'user', summary: true });
    // Nothing left to summarize: a second request changes nothing visible.
    expect((await alice('POST', `/${chatId}/compact`)).status).toBe(202);
    await waitFor(async () => (await replica.chatd.compaction.pendingRequest(chatId)) === undefined && (await alice('GET', `/${chatId}`)).body.status === 'waiting', {
      what: 'the second request handled',
      timeoutMs: 15_000,
    });
    expect((await visible(chatId)).filter(isSummarized)).toHaveLength(2);
  });

  it('is 409 in requires_action and changes nothing', async () => {
    const created = await alice('POST', '', {
      content: 'call pick_color {}',
      unsafe_dynamic_tools: [{ name: 'pick_color', input_schema: { type: 'object', properties: {} } }],
    });
    const id = created.body.id as string;
    await waitFor(async () => (await alice('GET', `/${id}`)).body.status === 'requires_action', { what: 'requires_action', timeoutMs: 15_000 });
    const r = await alice('POST', `/${id}/compact`);
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(/tool results/);
    expect(await replica.chatd.compaction.pendingRequest(id)).toBeUndefined();
    expect((await alice('GET', `/${id}`)).body.status).toBe('requires_action');
  });

  it("is 404 on another user's chat (and 400 for a chat id that is no UUID)", async () => {
    const chatId = await restingChat('mine alone');
    expect((await bob('POST', `/${chatId}/compact`)).status).toBe(404);
    expect((await bob('POST', `/${chatId}/title/propose`)).status).toBe(404);
    expect((await alice('POST', '/not-a-uuid/compact')).status).toBe(400);
    expect(await replica.chatd.compaction.pendingRequest(chatId)).toBeUndefined();
  });
});

describe('titles', () => {
  it('a generated title after the first reply, as a title_change on the watch socket; /title/propose stores nothing', async () => {
    const frames: { kind: string; chat?: { id: string; title: string } }[] = [];
    const ws = new WebSocket(`${replica.url.replace('http', 'ws')}/api/experimental/chats/watch`, { headers: { 'coder-session-token': aliceToken } });
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('ping', r).once('open', r));
    const prompt = 'explain how tides work near estuaries';
    const chatId = (await alice('POST', '', { content: prompt })).body.id as string;
    await waitFor(() => frames.some((f) => f.kind === 'title_change' && f.chat?.id === chatId), { what: 'title_change', timeoutMs: 15_000 });
    expect(frames.filter((f) => f.kind === 'title_change' && f.chat?.id === chatId).map((f) => f.chat!.title)).toEqual([demoTitleText(prompt)]);
    ws.close();

    await alice('PATCH', `/${chatId}`, { title: 'Tides' });
    const proposed = await alice('POST', `/${chatId}/title/propose`);
    expect(proposed).toEqual({ status: 200, body: { title: demoTitleText(prompt) } });
    expect((await alice('GET', `/${chatId}`)).body.title).toBe('Tides');
    const { rows } = await replica.chatd.pool.query('SELECT title_source FROM chats WHERE id = $1', [chatId]);
    expect(rows[0]).toEqual({ title_source: 'manual' });
  });

  it('falls back to the title rule when the deployment title model fails', async () => {
    expect((await admin('POST', '/providers', { provider: 'standin', kind: 'openai-compatible', base_url: standIn.baseUrl, api_key: 'k' })).status).toBe(201);
    const config = await admin('POST', '/model-configs', { provider: 'standin', model: 'broken', context_limit: 1000 });
    expect(config.status).toBe(201);
    expect((await admin('PATCH', '/config', { title_model_config_id: config.body.id })).status).toBe(200);
    try {
      const asked = standIn.requests.length;
      const chatId = await restingChat('plan a trip to the mountains next week please');
      await waitFor(async () => (await replica.chatd.titles.titleState(chatId))?.source === 'generated', { what: 'the title settled', timeoutMs: 15_000 });
      expect(standIn.requests.length).toBe(asked + 1);
      expect((await alice('GET', `/${chatId}`)).body.title).toBe('plan a trip to the mountains\u2026');
      expect(replica.titler.metrics().fallbacks).toBeGreaterThanOrEqual(1);
    } finally {
      await admin('PATCH', '/config', { title_model_config_id: null });
    }
  });
});

describe('GET|PATCH /config', () => {
  it('is for admins only, validated, and null unsets', async () => {
    expect((await bob('GET', '/config')).status).toBe(403);
    expect((await bob('PATCH', '/config', { compaction_model_config_id: null })).status).toBe(403);
    const before = await admin('GET', '/config');
    expect(before).toEqual({ status: 200, body: { title_model_config_id: null, compaction_model_config_id: null } });

    const unknown = randomUUID();
    const bad = await admin('PATCH', '/config', { compaction_model_config_id: unknown });
    expect(bad.status).toBe(400);
    expect(bad.body.validations).toEqual([{ field: 'compaction_model_config_id', detail: `no model configuration ${unknown}` }]);
    expect((await admin('PATCH', '/config', { title_model_config_id: 'nope' })).status).toBe(400);
    expect((await admin('PATCH', '/config', { title_model_config_id: 7 })).status).toBe(400);
    expect((await admin('PATCH', '/config', {})).status).toBe(400);
    expect(await admin('GET', '/config')).toEqual(before);

    const configs = (await admin('GET', '/model-configs')).body as { id: string }[];
    const set = await admin('PATCH', '/config', { compaction_model_config_id: configs[0]!.id });
    expect(set).toEqual({ status: 200, body: { title_model_config_id: null, compaction_model_config_id: configs[0]!.id } });
    expect((await admin('GET', '/config')).body.compaction_model_config_id).toBe(configs[0]!.id);
    expect((await admin('PATCH', '/config', { compaction_model_config_id: null })).body).toEqual({ title_model_config_id: null, compaction_model_config_id: null });
  });
});
