import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { useTestDatabase } from '@chatd/testkit';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { INT64_MAX, partText, type ChatInputPart, type ChatMessagePart } from '@chatd/protocol';
import { MAX_MESSAGES_PAGE_BYTES, type ChatStore, type CreateChatInput, type SendMessageInput } from '../src/store/chat-store.js';
import { validateInputContent } from '../src/server/chat-body.js';
import { resolveFileParts } from '../src/server/file-parts.js';
import type { User } from '../src/identity/identity-store.js';
import type { SubscribeFnStore } from '../src/subscribe-fn.js';
import { countRows, createStoreFixture, ensureModel, expectCode, makeUser, parkPendingChats, runningChat, text, type StoreFixture } from './helpers/store-fixture.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: async (url) => void (await migrate(url)) });
let f: StoreFixture;
let user: User;
let modelId: string;

beforeAll(async () => {
  f = createStoreFixture(db.url, { maxQueueSize: 20 });
  modelId = await ensureModel(f);
  user = await makeUser(f);
});
afterAll(async () => {
  await f.close();
});
beforeEach(async () => {
  await parkPendingChats(f);
});

describe('createChat', () => {
  it('inserts the chat pending with its first message, title and default organization', async () => {
    const org = await f.identity.defaultOrganization();
    const { chat, message, change } = await f.chats.createChat({ ownerId: user.id, content: text('Plan the   release notes'), systemPrompt: 'be brief' });
    expect(chat.status).toBe('pending');
    expect(chat.title).toBe('Plan the release notes');
    expect(chat.organization_id).toBe(org.id);
    expect(chat.owner_id).toBe(user.id);
    expect(chat.root_chat_id).toBe(chat.id);
    expect(chat.worker_id).toBeNull();
    expect(chat.last_error).toBeNull();
    expect(chat.last_model_config_id).toBe(modelId);
    expect(message).toMatchObject({ chat_id: chat.id, role: 'user', content: [{ type: 'text', text: 'Plan the   release notes' }], model_config_id: modelId });
    expect(change).toMatchObject({ statusChanged: true, fullRefresh: false });
    expect(change.messages.map((m) => m.id)).toEqual([message.id]);
    // The system prompt is stored but hidden from clients.
    expect(await countRows(f, 'chat_messages', chat.id)).toBe(2);
    const page = await f.chats.listMessages({ chatId: chat.id });
    expect(page.messages.map((m) => m.role)).toEqual(['user']);
    expect((await f.chats.modelHistory(chat.id)).map((m) => m.role)).toEqual(['system', 'user']);
  });

  it('applies the title rule: six words, an ellipsis, 80 code points', async () => {
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('one two three four five six seven') });
    expect(chat.title).toBe('one two three four five six\u2026');
  });

  it('takes content as parsed parts only: a raw body is a type error (the routes parse it; issue 24)', () => {
    // Type-level: the store's inputs are what validateInputContent returns, never the body as sent.
    expectTypeOf<CreateChatInput['content']>().toEqualTypeOf<ChatMessagePart[]>();
    expectTypeOf<SendMessageInput['content']>().toEqualTypeOf<ChatMessagePart[]>();
    expectTypeOf<Parameters<ChatStore['editMessage']>[0]['content']>().toEqualTypeOf<ChatMessagePart[]>();
    // Input parts become stored parts once their files are checked and described (contract.md#files).
    expectTypeOf(validateInputContent).returns.toHaveProperty('parts').toEqualTypeOf<ChatInputPart[]>();
    expectTypeOf(resolveFileParts).returns.resolves.toEqualTypeOf<CreateChatInput['content']>();
    expectTypeOf<{ ownerId: string; content: 'hi' }>().not.toMatchTypeOf<CreateChatInput>();
    expectTypeOf<{ chatId: string; content: [{ type: 'image' }] }>().not.toMatchTypeOf<SendMessageInput>();
  });

  it('takes the parsed parts as given and titles the chat from their texts', async () => {
    const { parts } = validateInputContent([{ type: ' TEXT ', text: '  first  ' }, { type: 'text', text: 'second part' }]);
    const { chat, message } = await f.chats.createChat({ ownerId: user.id, content: await resolveFileParts(parts, user.id, undefined) });
    expect(message.content).toEqual([{ type: 'text', text: 'first' }, { type: 'text', text: 'second part' }]);
    expect(chat.title).toBe('first second part');
  });

  it('refuses bad input with typed errors and writes nothing', async () => {
    const before = await countRows(f, 'chats');
    const beforeMsgs = await countRows(f, 'chat_messages');
    await expectCode(f.chats.createChat({ ownerId: user.id, content: text('hi'), modelConfigId: '6f1c1f6e-0000-4000-8000-000000000000' }), 'INVALID_INPUT');
    await expectCode(f.chats.createChat({ ownerId: user.id, content: text('hi'), modelConfigId: '00000000-0000-0000-0000-000000000000' }), 'INVALID_INPUT');
    await expectCode(f.chats.createChat({ ownerId: user.id, content: text('hi'), modelConfigId: 'not-a-uuid' }), 'INVALID_INPUT');
    await expectCode(f.chats.createChat({ ownerId: 'nope', content: text('hi') }), 'INVALID_INPUT');
    expect(await countRows(f, 'chats')).toBe(before);
    expect(await countRows(f, 'chat_messages')).toBe(beforeMsgs);
  });

  it('needs membership of the named organization (FORBIDDEN otherwise)', async () => {
    const other = await f.identity.createOrganization(`org-${Date.now().toString(36)}`);
    await expectCode(f.chats.createChat({ ownerId: user.id, content: text('hi'), organizationId: other.id }), 'FORBIDDEN');
    await f.identity.addMember(other.id, user.id);
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('hi'), organizationId: other.id });
    expect(chat.organization_id).toBe(other.id);
  });
});

describe('acquire, heartbeat and runs', () => {
  it('acquires a pending chat as running under a new run id, recorded in chat_runs', async () => {
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('go') });
    const got = await f.chats.acquireChats('worker-1', 10);
    expect(got.map((a) => a.chat.id)).toEqual([chat.id]);
    const a = got[0]!;
    expect(a.chat).toMatchObject({ status: 'running', worker_id: 'worker-1' });
    expect(a.change.statusChanged).toBe(true);
    expect(await f.chats.getChatRunState(chat.id)).toEqual({ status: 'running', workerId: 'worker-1', runId: a.runId });
    expect(await f.chats.getRun(a.runId)).toMatchObject({ chatId: chat.id, workerId: 'worker-1', outcome: null, endedAt: null, messageIds: [] });
    expect(await f.chats.acquireChats('worker-2', 10)).toEqual([]);
  });

  it('skips archived pending chats', async () => {
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('go') });
    await f.chats.updateChat({ chatId: chat.id, archived: true });
    expect(await f.chats.acquireChats('w', 10)).toEqual([]);
    await f.chats.updateChat({ chatId: chat.id, archived: false });
    expect((await f.chats.acquireChats('w', 10)).map((a) => a.chat.id)).toEqual([chat.id]);
  });

  it('serves as the SubscribeFnStore of the relay hook', async () => {
    const { chatId, runId } = await runningChat(f, user, 'relay-target');
    const hookStore: SubscribeFnStore = f.chats;
    expect(await hookStore.getChatRunState(chatId)).toEqual({ status: 'running', workerId: 'relay-target', runId });
    expect(await hookStore.getChatRunState('3b241101-e2bb-4255-8caf-4136c566a962')).toBeUndefined();
    const aborted = new AbortController();
    aborted.abort(new Error('gone'));
    await expect(hookStore.getChatRunState(chatId, aborted.signal)).rejects.toThrow('gone');
  });

  it('heartbeats only for the current run of a running chat, at the clock time', async () => {
    const { chatId, runId } = await runningChat(f, user);
    await f.clock.advance(5000);
    expect(await f.chats.heartbeat(chatId, runId)).toBe(true);
    const { rows } = await f.pool.query('SELECT heartbeat_at FROM chats WHERE id = $1', [chatId]);
    expect((rows[0].heartbeat_at as Date).getTime()).toBe(f.clock.nowMs());
    expect(await f.chats.heartbeat(chatId, '3b241101-e2bb-4255-8caf-4136c566a962')).toBe(false);
    await f.chats.interruptChat(chatId);
    expect(await f.chats.heartbeat(chatId, runId)).toBe(false);
  });

  it('finish: waiting, run finished with the ids it persisted, worker cleared', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const { message } = await f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('hi there'), usage: { input_tokens: 3, output_tokens: 2 } });
    expect(message).toMatchObject({ role: 'assistant', usage: { input_tokens: 3, output_tokens: 2 }, model_config_id: modelId });
    const change = await f.chats.finishRun({ chatId, runId, outcome: 'finished' });
    expect(change.chat).toMatchObject({ status: 'waiting', worker_id: null, last_error: null });
    expect(change.statusChanged).toBe(true);
    expect(change.messages).toEqual([]);
    expect(await f.chats.getRun(runId)).toMatchObject({ outcome: 'finished', messageIds: [message.id] });
    expect(await f.chats.getChatRunState(chatId)).toEqual({ status: 'waiting', workerId: null, runId: null });
  });

  it('fail: error with last_error, and the error to publish', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const error = { message: 'model exploded', kind: 'server_error', retryable: false };
    const change = await f.chats.finishRun({ chatId, runId, outcome: 'failed', error });
    expect(change.chat).toMatchObject({ status: 'error', last_error: error, worker_id: null });
    expect(change.error).toEqual(error);
    expect(await f.chats.getRun(runId)).toMatchObject({ outcome: 'failed', error });
  });

  it('a clean shutdown hands a running chat back as pending', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const change = await f.chats.finishRun({ chatId, runId, outcome: 'interrupted', requeue: true });
    expect(change.chat.status).toBe('pending');
    expect(await f.chats.getRun(runId)).toMatchObject({ outcome: 'interrupted' });
  });

  it('refuses fenced writes (wrong run) with RUN_FENCED and leaves no trace', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const stranger = '9a2d3c84-7a43-4f0e-b7a4-6f3f0f3c5b11';
    const msgs = await countRows(f, 'chat_messages', chatId);
    const stateBefore = await f.chats.getChatRunState(chatId);
    await expectCode(f.chats.persistMessage({ chatId, runId: stranger, role: 'assistant', content: text('stale') }), 'RUN_FENCED');
    await expectCode(f.chats.finishRun({ chatId, runId: stranger, outcome: 'finished' }), 'RUN_FENCED');
    expect(await f.chats.heartbeat(chatId, stranger)).toBe(false);
    expect(await countRows(f, 'chat_messages', chatId)).toBe(msgs);
    expect(await f.chats.getChatRunState(chatId)).toEqual(stateBefore);
    expect(await f.chats.getRun(runId)).toMatchObject({ outcome: null, messageIds: [] });
    expect(await f.chats.getRun(stranger)).toBeUndefined();
  });

  it('fences a run once an edit took the chat over (the run ends interrupted)', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const first = (await f.chats.listMessages({ chatId })).messages[0]!;
    await f.chats.editMessage({ chatId, messageId: first.id, content: text('edited') });
    await expectCode(f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('late') }), 'RUN_FENCED');
    await expectCode(f.chats.finishRun({ chatId, runId, outcome: 'finished' }), 'RUN_FENCED');
    expect(await f.chats.getRun(runId)).toMatchObject({ outcome: 'interrupted' });
    expect((await f.chats.getChat(chatId))!.status).toBe('pending');
  });

  it('refuses a persisted message over the size limit', async () => {
    const { chatId, runId } = await runningChat(f, user);
    await expectCode(f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('y'.repeat(5 * 1024 * 1024)) }), 'PAYLOAD_TOO_LARGE');
    expect(await countRows(f, 'chat_messages', chatId)).toBe(1);
  });
});

describe('stale recovery', () => {
  it('hands chats whose heartbeat is older than the threshold back as pending; their runs are lost', async () => {
    const { chatId, runId } = await runningChat(f, user);
    await f.clock.advance(60_000);
    expect(await f.chats.recoverStaleChats(120_000)).toEqual([]);
    await f.clock.advance(61_000);
    const changes = await f.chats.recoverStaleChats(120_000);
    expect(changes.map((c) => c.chat.id)).toContain(chatId);
    expect(changes.find((c) => c.chat.id === chatId)!.chat).toMatchObject({ status: 'pending', worker_id: null });
    expect(await f.chats.getRun(runId)).toMatchObject({ outcome: 'lost' });
    await expectCode(f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('zombie') }), 'RUN_FENCED');
  });

  it('recovers an interrupted run whose worker died, promoting its queue', async () => {
    const { chatId, runId } = await runningChat(f, user);
    await f.chats.sendMessage({ chatId, content: text('next'), busyBehavior: 'interrupt' });
    expect((await f.chats.getChat(chatId))!.status).toBe('waiting');
    await f.clock.advance(10 * 60_000);
    const changes = await f.chats.recoverStaleChats(300_000);
    const mine = changes.find((c) => c.chat.id === chatId)!;
    expect(mine.chat.status).toBe('pending');
    expect(mine.messages.map((m) => m.content)).toEqual([text('next')]);
    expect(mine.queue).toEqual([]);
    expect(await f.chats.getRun(runId)).toMatchObject({ outcome: 'lost' });
  });
});

describe('stale recovery of stranded queues', () => {
  it('promotes the queue of a waiting chat nobody will promote, but leaves an errored chat to its user', async () => {
    const waiting = (await runningChat(f, user)).chatId;
    const errored = await runningChat(f, user);
    await f.chats.sendMessage({ chatId: errored.chatId, content: text('after error') });
    await f.chats.finishRun({ chatId: errored.chatId, runId: errored.runId, outcome: 'failed', error: { message: 'x' } });
    // A queue left behind on an idle chat (e.g. by an older replica).
    await f.pool.query(`UPDATE chats SET status = 'waiting', worker_id = NULL, run_id = NULL WHERE id = $1`, [waiting]);
    await f.pool.query(`INSERT INTO chat_queued_messages (chat_id, content, created_at) VALUES ($1, $2, $3)`, [waiting, JSON.stringify(text('stranded')), f.clock.now()]);
    expect(await f.chats.recoverStaleChats(60_000)).toEqual([]);
    await f.clock.advance(61_000);
    const changes = await f.chats.recoverStaleChats(60_000);
    expect(changes.map((c) => c.chat.id)).toEqual([waiting]);
    expect(changes[0]!.chat.status).toBe('pending');
    expect(changes[0]!.messages.map((m) => m.content)).toEqual([text('stranded')]);
    expect((await f.chats.getChat(errored.chatId))!.status).toBe('error');
    expect(await countRows(f, 'chat_queued_messages', errored.chatId)).toBe(1);
  });
});

describe('sendMessage', () => {
  it('inserts directly into an idle chat and sets it pending', async () => {
    const { chatId, runId } = await runningChat(f, user);
    await f.chats.finishRun({ chatId, runId, outcome: 'finished' });
    const res = await f.chats.sendMessage({ chatId, content: text('again'), ownerId: user.id });
    expect(res.queued).toBe(false);
    expect(res.message).toMatchObject({ role: 'user', content: text('again') });
    expect(res.change.chat.status).toBe('pending');
    expect(res.change.statusChanged).toBe(true);
  });

  it('clears last_error when a message goes into an errored chat', async () => {
    const { chatId, runId } = await runningChat(f, user);
    await f.chats.finishRun({ chatId, runId, outcome: 'failed', error: { message: 'boom' } });
    const res = await f.chats.sendMessage({ chatId, content: text('retry') });
    expect(res.change.chat).toMatchObject({ status: 'pending', last_error: null });
  });

  it('queues while running or pending, FIFO, and promotes on finish straight to pending', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const a = await f.chats.sendMessage({ chatId, content: text('a') });
    const b = await f.chats.sendMessage({ chatId, content: text('b') });
    expect(a.queued).toBe(true);
    expect(a.message).toBeUndefined();
    expect(a.change.statusChanged).toBe(false);
    expect(b.change.queue!.map((q) => q.content)).toEqual([text('a'), text('b')]);
    const reply = await f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('reply') });
    const done = await f.chats.finishRun({ chatId, runId, outcome: 'finished' });
    expect(done.chat.status).toBe('pending');
    expect(done.messages.map((m) => m.content)).toEqual([text('a')]);
    expect(done.messages[0]!.id).toBeGreaterThan(reply.message.id);
    expect(done.queue!.map((q) => q.content)).toEqual([text('b')]);
    // Pending with a queue: the next message queues behind it.
    expect((await f.chats.sendMessage({ chatId, content: text('c') })).queued).toBe(true);
  });

  it('caps the queue at 20 with QUEUE_FULL and stores nothing more', async () => {
    const { chatId } = await runningChat(f, user);
    for (let i = 0; i < 20; i++) await f.chats.sendMessage({ chatId, content: text(`q${i}`) });
    await expectCode(f.chats.sendMessage({ chatId, content: text('one too many') }), 'QUEUE_FULL');
    expect(await countRows(f, 'chat_queued_messages', chatId)).toBe(20);
  });

  it('busy_behavior interrupt: queued, chat waiting, the run persists its partial reply, then the queue is promoted', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const res = await f.chats.sendMessage({ chatId, content: text('stop and do this'), busyBehavior: 'interrupt' });
    expect(res.queued).toBe(true);
    expect(res.change.statusChanged).toBe(true);
    expect(res.change.chat).toMatchObject({ status: 'waiting', worker_id: null });
    expect(await f.chats.heartbeat(chatId, runId)).toBe(false);
    const partial = await f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('partial') });
    const done = await f.chats.finishRun({ chatId, runId, outcome: 'interrupted' });
    expect(done.chat.status).toBe('pending');
    expect(done.messages[0]!.content).toEqual(text('stop and do this'));
    expect(done.messages[0]!.id).toBeGreaterThan(partial.message.id);
    expect(await f.chats.getRun(runId)).toMatchObject({ outcome: 'interrupted', messageIds: [partial.message.id] });
  });

  it('a leftover queue of an errored chat goes first (FIFO) when the user sends again', async () => {
    const { chatId, runId } = await runningChat(f, user);
    await f.chats.sendMessage({ chatId, content: text('queued earlier') });
    await f.chats.finishRun({ chatId, runId, outcome: 'failed', error: { message: 'x' } });
    const res = await f.chats.sendMessage({ chatId, content: text('later') });
    expect(res.queued).toBe(true);
    expect(res.change.chat.status).toBe('pending');
    expect(res.change.messages.map((m) => m.content)).toEqual([text('queued earlier')]);
    expect(res.change.queue!.map((q) => q.content)).toEqual([text('later')]);
  });

  it('is NOT_FOUND for another user and INVALID_INPUT for bad ids, writing nothing', async () => {
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('mine') });
    const other = await makeUser(f);
    await expectCode(f.chats.sendMessage({ chatId: chat.id, ownerId: other.id, content: text('x') }), 'NOT_FOUND');
    await expectCode(f.chats.sendMessage({ chatId: 'bad', content: text('x') }), 'INVALID_INPUT');
    await expectCode(f.chats.sendMessage({ chatId: chat.id, content: text('x'), modelConfigId: '6f1c1f6e-0000-4000-8000-000000000000' }), 'INVALID_INPUT');
    await expectCode(f.chats.sendMessage({ chatId: chat.id, content: text('x'), busyBehavior: 'later' as 'queue' }), 'INVALID_INPUT');
    await expectCode(f.chats.sendMessage({ chatId: '3b241101-e2bb-4255-8caf-4136c566a962', content: text('x') }), 'NOT_FOUND');
    expect(await countRows(f, 'chat_messages', chat.id)).toBe(1);
    expect(await countRows(f, 'chat_queued_messages', chat.id)).toBe(0);
  });
});

describe('interruptChat', () => {
  it('sets waiting and clears the worker; the run may still persist its partial reply and end', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const change = await f.chats.interruptChat(chatId, user.id);
    expect(change.chat).toMatchObject({ status: 'waiting', worker_id: null });
    expect(await f.chats.getChatRunState(chatId)).toEqual({ status: 'waiting', workerId: null, runId });
    await f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('partial') });
    const done = await f.chats.finishRun({ chatId, runId, outcome: 'interrupted' });
    expect(done.chat.status).toBe('waiting');
    expect(await f.chats.getChatRunState(chatId)).toEqual({ status: 'waiting', workerId: null, runId: null });
  });

  it('works from any status and is NOT_FOUND for another owner', async () => {
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('pending one') });
    expect((await f.chats.interruptChat(chat.id)).chat.status).toBe('waiting');
    expect((await f.chats.interruptChat(chat.id)).chat.status).toBe('waiting');
    const other = await makeUser(f);
    await expectCode(f.chats.interruptChat(chat.id, other.id), 'NOT_FOUND');
  });
});

describe('reads', () => {
  it('lists the owner chats, most recently updated first, archived apart, paged', async () => {
    const owner = await makeUser(f);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      await f.clock.advance(1000);
      ids.push((await f.chats.createChat({ ownerId: owner.id, content: text(`chat ${i}`) })).chat.id);
    }
    await f.clock.advance(1000);
    await f.chats.updateChat({ chatId: ids[0]!, archived: true });
    expect((await f.chats.listChats({ ownerId: owner.id })).map((c) => c.id)).toEqual([ids[2], ids[1]]);
    expect((await f.chats.listChats({ ownerId: owner.id, archived: true })).map((c) => c.id)).toEqual([ids[0]]);
    expect((await f.chats.listChats({ ownerId: owner.id, limit: 1, offset: 1 })).map((c) => c.id)).toEqual([ids[1]]);
    await expectCode(f.chats.listChats({ ownerId: owner.id, limit: 0 }), 'INVALID_INPUT');
    await expectCode(f.chats.listChats({ ownerId: owner.id, limit: 201 }), 'INVALID_INPUT');
    expect(await f.chats.getChat(ids[1]!, user.id)).toBeUndefined();
    expect((await f.chats.getChat(ids[1]!, owner.id))!.title).toBe('chat 1');
  });

  it('pages messages newest first with before_id, after_id and has_more; queue on the first page only', async () => {
    const { chatId, runId } = await runningChat(f, user, 'w', 'm0');
    for (let i = 1; i < 5; i++) await f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text(`m${i}`) });
    await f.chats.sendMessage({ chatId, content: text('queued') });
    const all = await f.chats.listMessages({ chatId, limit: 200 });
    const ids = all.messages.map((m) => m.id);
    expect(all.messages.map((m) => partText(m.content![0]))).toEqual(['m4', 'm3', 'm2', 'm1', 'm0']);
    expect(all.has_more).toBe(false);
    expect(all.queued_messages.map((q) => q.content)).toEqual([text('queued')]);
    const first = await f.chats.listMessages({ chatId, limit: 2 });
    expect(first).toMatchObject({ has_more: true });
    expect(first.messages.map((m) => m.id)).toEqual(ids.slice(0, 2));
    const second = await f.chats.listMessages({ chatId, limit: 2, beforeId: BigInt(ids[1]!) });
    expect(second.messages.map((m) => m.id)).toEqual(ids.slice(2, 4));
    expect(second.has_more).toBe(true);
    expect(second.queued_messages).toEqual([]);
    // after_id alone (contract.md#history-order): the oldest `limit` after it, ascending; has_more: more after it.
    const after = await f.chats.listMessages({ chatId, limit: 2, afterId: BigInt(ids[4]!) });
    expect(after.messages.map((m) => m.id)).toEqual([ids[3], ids[2]]);
    expect(after.has_more).toBe(true);
    expect(after.queued_messages.map((q) => q.content)).toEqual([text('queued')]);
    const afterLast = await f.chats.listMessages({ chatId, limit: 2, afterId: BigInt(ids[2]!) });
    expect(afterLast.messages.map((m) => m.id)).toEqual([ids[1], ids[0]]);
    expect(afterLast.has_more).toBe(false);
    // Both bounds: still newest first.
    const between = await f.chats.listMessages({ chatId, limit: 200, afterId: BigInt(ids[4]!), beforeId: BigInt(ids[0]!) });
    expect(between.messages.map((m) => m.id)).toEqual([ids[1], ids[2], ids[3]]);
    expect((await f.chats.listMessages({ chatId, afterId: INT64_MAX })).messages).toEqual([]);
    expect(await f.chats.messagesAfter(chatId, BigInt(ids[2]!))).toMatchObject({ messages: [{ id: ids[1] }, { id: ids[0] }], hasMore: false });
    expect(await f.chats.messagesAfter(chatId, INT64_MAX)).toEqual({ messages: [], hasMore: false });
  });

  it('caps pages in bytes of content: messagesAfter at maxBytes, listMessages at MAX_MESSAGES_PAGE_BYTES, always at least one message, with has_more', async () => {
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('first') });
    const chatId = chat.id;
    /** Appends messages of `chars` characters each (the content's JSON is ~30 bytes more). */
    const add = async (chars: number, n: number, extra = '') => {
      await f.pool.query(
        `INSERT INTO chat_messages (chat_id, role, content, created_at${extra ? ', visibility, deleted' : ''})
         SELECT $1, 'assistant', jsonb_build_array(jsonb_build_object('type', 'text', 'text', repeat('m', $2))), now()${extra}
           FROM generate_series(1, $3) g ORDER BY g`,
        [chatId, chars, n],
      );
    };
    await add(1000, 3);
    await add(1000, 1, `, 'model', false`); // hidden from clients
    await add(1000, 1, `, 'both', true`); // deleted
    await add(5000, 1); // larger than the caps below: alone in its page
    await add(1000, 2);
    const visible = [...(await f.chats.listMessages({ chatId, limit: 200 })).messages].reverse().map((m) => m.id);
    expect(visible).toHaveLength(7);
    const pages: number[][] = [];
    let after = 0n;
    for (let more = true; more; ) {
      const page = await f.chats.messagesAfter(chatId, after, { maxBytes: 2100 });
      pages.push(page.messages.map((m) => m.id));
      more = page.hasMore;
      after = BigInt(page.messages.at(-1)!.id);
    }
    // [first, 1000, 1000] fits 2100 bytes; the 5000 comes alone; the count limit applies as well.
    expect(pages).toEqual([visible.slice(0, 3), visible.slice(3, 4), visible.slice(4, 5), visible.slice(5, 7)]);
    expect(await f.chats.messagesAfter(chatId, 0n, { limit: 2 })).toMatchObject({ messages: [{ id: visible[0] }, { id: visible[1] }], hasMore: true });
    expect(await f.chats.messagesAfter(chatId, BigInt(visible[5]!), { maxBytes: 10 })).toMatchObject({ messages: [{ id: visible[6] }], hasMore: false });

    // GET /messages pages: 8 MiB of messages at most (newest first; after_id pages read oldest first).
    const { chat: big } = await f.chats.createChat({ ownerId: user.id, content: text('big') });
    const mib = 1024 * 1024;
    await f.pool.query(
      `INSERT INTO chat_messages (chat_id, role, content, created_at)
       SELECT $1, 'assistant', jsonb_build_array(jsonb_build_object('type', 'text', 'text', repeat('b', $2))), now() FROM generate_series(1, 5) g ORDER BY g`,
      [big.id, 3 * mib],
    );
    const newest = await f.chats.listMessages({ chatId: big.id, limit: 200 });
    expect(newest.messages).toHaveLength(2); // 6 MiB; a third would pass MAX_MESSAGES_PAGE_BYTES
    expect(newest.has_more).toBe(true);
    expect(MAX_MESSAGES_PAGE_BYTES).toBe(8 * mib);
    const oldest = await f.chats.listMessages({ chatId: big.id, limit: 200, afterId: 1n });
    expect(oldest.messages.map((m) => partText(m.content![0])!.length)).toEqual([3, 3 * mib, 3 * mib]); // 'big' and two, oldest first
    expect(oldest.has_more).toBe(true);
  });

  it('refuses a page size out of range with INVALID_INPUT (cursors arrive parsed: test/chat-query.test.ts)', async () => {
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('x') });
    for (const bad of [{ limit: 0 }, { limit: 500 }, { limit: 1.5 }]) {
      await expectCode(f.chats.listMessages({ chatId: chat.id, ...bad }), 'INVALID_INPUT');
    }
    await expectCode(f.chats.listMessages({ chatId: chat.id, ownerId: (await makeUser(f)).id }), 'NOT_FOUND');
  });
});

describe('updates, edit and delete', () => {
  it('PATCH sets title and archived and says what changed', async () => {
    const { chat } = await f.chats.createChat({ ownerId: user.id, content: text('old title') });
    const res = await f.chats.updateChat({ chatId: chat.id, title: '  New title ', ownerId: user.id });
    expect(res).toMatchObject({ titleChanged: true, archivedChanged: false });
    expect(res.change.chat.title).toBe('New title');
    const res2 = await f.chats.updateChat({ chatId: chat.id, archived: true });
    expect(res2).toMatchObject({ titleChanged: false, archivedChanged: true });
    await expectCode(f.chats.updateChat({ chatId: chat.id, title: '   ' }), 'INVALID_INPUT');
    await expectCode(f.chats.updateChat({ chatId: chat.id, title: 'x'.repeat(201) }), 'INVALID_INPUT');
    expect((await f.chats.getChat(chat.id))!).toMatchObject({ title: 'New title', archived: true });
  });

  it('edit soft-deletes the message and everything after it, clears the queue and sets pending', async () => {
    const { chatId, runId } = await runningChat(f, user, 'w', 'first question');
    const reply = await f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('answer') });
    await f.chats.finishRun({ chatId, runId, outcome: 'finished' });
    await f.chats.sendMessage({ chatId, content: text('second') });
    const first = (await f.chats.listMessages({ chatId })).messages.at(-1)!;
    const { message, change } = await f.chats.editMessage({ chatId, messageId: first.id, content: text('better question') });
    expect(message.id).toBeGreaterThan(reply.message.id);
    expect(change).toMatchObject({ fullRefresh: true, statusChanged: true, queue: [] });
    expect(change.chat.status).toBe('pending');
    const page = await f.chats.listMessages({ chatId });
    expect(page.messages.map((m) => m.content)).toEqual([text('better question')]);
    const { rows } = await f.pool.query('SELECT count(*)::int AS n FROM chat_messages WHERE chat_id = $1 AND deleted', [chatId]);
    expect(rows[0].n).toBe(3);
  });

  it('edit refuses non-user messages and unknown ids', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const reply = await f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('answer') });
    await expectCode(f.chats.editMessage({ chatId, messageId: reply.message.id, content: text('x') }), 'INVALID_INPUT');
    await expectCode(f.chats.editMessage({ chatId, messageId: 999999999, content: text('x') }), 'NOT_FOUND');
    expect((await f.chats.getChatRunState(chatId))!.runId).toBe(runId);
  });

  it('soft-deletes one message', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const reply = await f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('oops') });
    const change = await f.chats.deleteMessage({ chatId, messageId: reply.message.id });
    expect(change.fullRefresh).toBe(true);
    expect((await f.chats.listMessages({ chatId })).messages.map((m) => m.id)).not.toContain(reply.message.id);
    await expectCode(f.chats.deleteMessage({ chatId, messageId: reply.message.id }), 'NOT_FOUND');
  });

  it('deletes and promotes queued messages', async () => {
    const { chatId, runId } = await runningChat(f, user);
    const a = await f.chats.sendMessage({ chatId, content: text('a') });
    const b = await f.chats.sendMessage({ chatId, content: text('b') });
    const del = await f.chats.deleteQueuedMessage({ chatId, queuedMessageId: BigInt(a.queued_message!.id) });
    expect(del.queue!.map((q) => q.id)).toEqual([b.queued_message!.id]);
    expect((await f.chats.deleteQueuedMessage({ chatId, queuedMessageId: 123456789n })).queue!.length).toBe(1);
    const promoted = await f.chats.promoteQueuedMessage({ chatId, queuedMessageId: b.queued_message!.id });
    expect(promoted.message.content).toEqual(text('b'));
    expect(promoted.change).toMatchObject({ queue: [], statusChanged: true });
    expect(promoted.change.chat.status).toBe('pending');
    await expectCode(f.chats.persistMessage({ chatId, runId, role: 'assistant', content: text('late') }), 'RUN_FENCED');
    await expectCode(f.chats.promoteQueuedMessage({ chatId, queuedMessageId: b.queued_message!.id }), 'NOT_FOUND');
  });
});
