// Edit and regenerate over the public API (issue 28, contract.md#edit): `PATCH /{chat}/messages/{message}` and its
// refusals (400 malformed id, 400 not a user message, 404 another chat's message or another user's chat; none
// changes anything), the answer `{message, deleted_message_ids}`, the queue cleared, pending client calls hidden
// with the reply that made them, and an edit that races a streaming run on one replica with two stream clients:
// `history_reset`, then the visible history, and no part of the fenced run after it; the fenced run persists nothing.
// A client that was away during the edit and resumes with its cursor gets the reset in its snapshot.
import { createRealClock } from '@chatd/clock';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import type { ChatMessage, ChatStreamEvent } from '@chatd/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import type { RunningChatd } from '../src/start-chatd-server.js';
import { afterFirstReset, heldHistory } from './helpers/history-holder.js';
import { apiClient, hasStatus, openStream, startTestReplica, userToken } from './helpers/server-harness.js';
import { createTestModel, finishPart, fixedModels, lastUserText, textDelta } from './helpers/test-models.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });

/** Parts the long reply streams at most (it is cut by the edit long before). */
const LONG_REPLY_PARTS = 5_000;
/** Pace of the long reply: one part every this many ms on the real clock (the model's pace, not a test wait). */
const LONG_REPLY_PART_MS = 2;

/** "long ..." streams a reply that only an interrupt or an edit ends; anything else gets "reply to <text>" at once. */
function scriptedModel() {
  const clock = createRealClock();
  return createTestModel('edit-script', async function* (call) {
    const text = lastUserText(call);
    if (text.startsWith('long')) {
      for (let i = 0; i < LONG_REPLY_PARTS; i++) {
        yield textDelta(`old${i} `);
        await clock.sleep(LONG_REPLY_PART_MS, call.abortSignal);
      }
    } else {
      yield textDelta(`reply to ${text}`);
    }
    yield finishPart();
  });
}

let replica: RunningChatd | undefined;
afterEach(async () => {
  await replica?.close();
  replica = undefined;
});

async function setup(scripted = true) {
  replica = await startTestReplica(db.url, scripted ? { models: fixedModels(scriptedModel()) } : {});
  const { token } = await userToken(replica, 'editor');
  return { r: replica, token, api: apiClient(replica.url, token) };
}

type Api = ReturnType<typeof apiClient>;

async function visible(api: Api, chatId: string): Promise<ChatMessage[]> {
  const r = await api('GET', `/${chatId}/messages?limit=200`);
  expect(r.status).toBe(200);
  return (r.body.messages as ChatMessage[]).slice().reverse();
}

async function waitStatus(api: Api, chatId: string, status: string) {
  await waitFor(async () => (await api('GET', `/${chatId}`)).body.status === status, { what: `status ${status}`, timeoutMs: 15_000 });
}

const texts = (ms: ChatMessage[]) => ms.map((m) => `${m.role}:${(m.content ?? []).map((p) => (p.type === 'text' ? p.text : p.type)).join('')}`);
const partRuns = (events: readonly ChatStreamEvent[]) => new Set(events.flatMap((e) => (e.type === 'message_part' ? [e.message_part.run_id] : [])));

describe('PATCH /{chat}/messages/{message}', () => {
  it('refuses a malformed id (400), a non-user message (400), another chat\'s message and another user\'s chat (404), a bad body (400); none changes anything', async () => {
    const { r, api } = await setup();
    const one = (await api('POST', '', { content: 'first' })).body.id as string;
    const two = (await api('POST', '', { content: 'second' })).body.id as string;
    await waitStatus(api, one, 'waiting');
    await waitStatus(api, two, 'waiting');
    const before = await visible(api, one);
    expect(texts(before)).toEqual(['user:first', 'assistant:reply to first']);
    const [user, reply] = before;
    const otherChatMessage = (await visible(api, two))[0]!;

    for (const bad of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      const res = await api('PATCH', `/${one}/messages/${bad}`, { content: 'x' });
      expect(res.status, bad).toBe(400);
      expect(res.body.validations).toEqual([{ field: 'message', detail: 'must be a positive integer' }]);
    }
    const notUser = await api('PATCH', `/${one}/messages/${reply!.id}`, { content: 'x' });
    expect(notUser.status).toBe(400);
    expect(notUser.body.validations[0].field).toBe('message');
    expect((await api('PATCH', `/${one}/messages/${otherChatMessage.id}`, { content: 'x' })).status).toBe(404);
    expect((await api('PATCH', `/${one}/messages/999999999`, { content: 'x' })).status).toBe(404);
    expect((await api('PATCH', `/not-a-uuid/messages/${user!.id}`, { content: 'x' })).status).toBe(400);
    const stranger = apiClient(r.url, (await userToken(r, 'stranger')).token);
    expect((await stranger('PATCH', `/${one}/messages/${user!.id}`, { content: 'x' })).status).toBe(404);
    expect((await api('PATCH', `/${one}/messages/${user!.id}`, { content: '   ' })).status).toBe(400);
    expect((await api('PATCH', `/${one}/messages/${user!.id}`, { content: [{ type: 'image', url: 'x' }] })).status).toBe(400);
    expect((await api('PATCH', `/${one}/messages/${user!.id}`, {})).status).toBe(400);
    const effort = await api('PATCH', `/${one}/messages/${user!.id}`, { content: 'x', reasoning_effort: 'huge' });
    expect(effort.status).toBe(400);
    expect(effort.body.validations[0].field).toBe('reasoning_effort');
    expect((await api('PATCH', `/${one}/messages/${user!.id}`, { content: 'x', model_config_id: '00000000-0000-0000-0000-000000000001' })).status).toBe(400);

    expect(await visible(api, one)).toEqual(before);
    expect((await api('GET', `/${one}`)).body.status).toBe('waiting');
  });

  it('answers {message, deleted_message_ids}: the edited message and every later one hidden, a new turn on the new content', async () => {
    const { api } = await setup();
    const chatId = (await api('POST', '', { content: 'first' })).body.id as string;
    await waitStatus(api, chatId, 'waiting');
    expect((await api('POST', `/${chatId}/messages`, { content: 'second' })).status).toBe(200);
    await waitFor(async () => (await visible(api, chatId)).length === 4, { what: 'the second reply', timeoutMs: 15_000 });
    await waitStatus(api, chatId, 'waiting');
    const before = await visible(api, chatId);
    const stream = openStream(replica!.url, chatId, (await userToken(replica!, 'editor')).token);
    await stream.until((e) => e.filter((x) => x.type === 'message').length === 4, 'the snapshot');

    const edited = await api('PATCH', `/${chatId}/messages/${before[0]!.id}`, { content: [{ type: 'text', text: 'changed' }], reasoning_effort: 'low' });
    expect(edited.status).toBe(200);
    expect(Object.keys(edited.body).sort()).toEqual(['deleted_message_ids', 'message']);
    expect(edited.body.deleted_message_ids).toEqual(before.map((m) => m.id));
    expect(edited.body.message).toMatchObject({ chat_id: chatId, role: 'user', content: [{ type: 'text', text: 'changed' }] });
    expect(edited.body.message.id).toBeGreaterThan(before[3]!.id);
    await waitFor(async () => texts(await visible(api, chatId)).join('|') === 'user:changed|assistant:reply to changed', { what: 'the new turn', timeoutMs: 15_000 });
    await waitStatus(api, chatId, 'waiting');

    // The stream: history_reset, then the whole visible history again, then status and queue.
    await stream.until((e) => heldHistory(e).messages.length === 2 && hasStatus(afterFirstReset(e) ?? [], 'waiting'), 'the reset and the new reply');
    const after = afterFirstReset(stream.events)!;
    expect(after.slice(0, 3).map((e) => e.type)).toEqual(['message', 'status', 'queue_update']);
    expect(after[0]).toMatchObject({ type: 'message', message: { id: edited.body.message.id } });
    expect(heldHistory(stream.events).messages).toEqual(await visible(api, chatId));
    stream.close();
  });

  it('an edit during a streaming run with a queue: queue cleared, history_reset on both clients, no part of the fenced run after it, the run persists nothing', async () => {
    const { r, token, api } = await setup();
    const chatId = (await api('POST', '', { content: 'long story' })).body.id as string;
    const first = (await visible(api, chatId))[0]!;
    const c1 = openStream(r.url, chatId, token);
    const c2 = openStream(r.url, chatId, token);
    await c1.until((e) => e.filter((x) => x.type === 'message_part').length >= 20, 'parts of the long run');
    await c2.until((e) => e.filter((x) => x.type === 'message_part').length >= 20, 'parts of the long run');
    const [oldRun] = [...partRuns(c1.events)];
    const queued = await api('POST', `/${chatId}/messages`, { content: 'queued one' });
    expect(queued.body.queued).toBe(true);
    const fencedBefore = r.worker.metrics().runsEnded.fenced;

    const edited = await api('PATCH', `/${chatId}/messages/${first.id}`, { content: 'short now' });
    expect(edited.status).toBe(200);
    expect(edited.body.deleted_message_ids).toEqual([first.id]);
    expect((await api('GET', `/${chatId}/messages`)).body.queued_messages).toEqual([]);
    await waitStatus(api, chatId, 'waiting');
    await waitFor(() => r.worker.metrics().runsEnded.fenced === fencedBefore + 1, { what: 'the fenced run to end' });
    const final = await visible(api, chatId);
    expect(texts(final)).toEqual(['user:short now', 'assistant:reply to short now']);
    expect(final.some((m) => m.run_id === oldRun)).toBe(false);

    for (const c of [c1, c2]) {
      await c.until((e) => heldHistory(e).messages.length === 2, 'the new history');
      const after = afterFirstReset(c.events);
      expect(after, 'history_reset').toBeDefined();
      expect(partRuns(after!).has(oldRun!)).toBe(false);
      expect(after!.some((e) => e.type === 'queue_update' && e.queued_messages === undefined)).toBe(true);
      expect(heldHistory(c.events)).toEqual({ messages: final, partRuns: [] });
      c.close();
    }
    // A subscriber that connects now sees none of it either.
    const late = openStream(r.url, chatId, token);
    await late.until((e) => e.filter((x) => x.type === 'message').length === 2, 'the late snapshot');
    expect(partRuns(late.events).has(oldRun!)).toBe(false);
    late.close();
  });

  it('a chat waiting for client results: the pending calls are hidden with the reply that made them, the model history stays valid', async () => {
    const { api } = await setup(false);
    const pickColor = { name: 'pick_color', input_schema: { type: 'object' } };
    const created = await api('POST', '', { content: 'call pick_color {}', unsafe_dynamic_tools: [pickColor] });
    const chatId = created.body.id as string;
    await waitStatus(api, chatId, 'requires_action');
    const before = await visible(api, chatId);
    expect(before.map((m) => m.role)).toEqual(['user', 'assistant']);
    const edited = await api('PATCH', `/${chatId}/messages/${before[0]!.id}`, { content: 'just talk' });
    expect(edited.status).toBe(200);
    expect(edited.body.deleted_message_ids).toEqual(before.map((m) => m.id));
    await waitStatus(api, chatId, 'waiting');
    const after = await visible(api, chatId);
    expect(after.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(JSON.stringify(after)).not.toContain('tool-call');
    // Nothing waits any more: a late answer to the hidden call is refused.
    const late = await api('POST', `/${chatId}/tool-results`, { results: [{ tool_call_id: 'x', output: 1 }] });
    expect(late.status).toBe(409);
  });

  it('a client away during the edit resumes with its cursor and gets history_reset and the whole visible history in its snapshot', async () => {
    const { r, token, api } = await setup();
    const chatId = (await api('POST', '', { content: 'first' })).body.id as string;
    await waitStatus(api, chatId, 'waiting');
    const before = await visible(api, chatId);
    const lastSeen = before.at(-1)!.id;
    const edited = await api('PATCH', `/${chatId}/messages/${before[0]!.id}`, { content: 'second thoughts' });
    expect(edited.status).toBe(200);
    await waitStatus(api, chatId, 'waiting');
    const final = await visible(api, chatId);
    const resumed = openStream(r.url, chatId, token, `?after_id=${lastSeen}`);
    await resumed.until((e) => e.some((x) => x.type === 'queue_update' || x.type === 'message') && heldHistory(e).messages.length === final.length, 'the snapshot');
    expect(resumed.events.map((e) => e.type).slice(0, 2)).toEqual(['status', 'history_reset']);
    expect(heldHistory(resumed.events).messages).toEqual(final);
    resumed.close();
    // A cursor the edit left alone resumes as before: no reset.
    const current = openStream(r.url, chatId, token, `?after_id=${final.at(-1)!.id}`);
    await current.until((e) => e.length >= 1, 'the status');
    expect(current.events.map((e) => e.type)).toEqual(['status']);
    current.close();
  });
});
