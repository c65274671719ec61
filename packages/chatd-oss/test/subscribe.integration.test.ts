import { createMockClock } from '@chatd/clock';
import { INT64_MAX as AFTER_ID_MAX, eventJson, relayGiveUpError, withEventJson, type ChatStreamEvent } from '@chatd/protocol';
import { chatStreamNotifyChannel, createMemoryPubSub, createPgPubSub, encodeChatStreamNotify, type PubSub, type PubSubListener } from '@chatd/pubsub';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/store/db.js';
import { createIdentityStore } from '../src/identity/identity-store.js';
import { createLiveStreams, type LiveStreams } from '../src/live/live-buffer.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createModelConfigStore } from '../src/store/model-config-store.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { SUBSCRIPTION_CLOSED, createChatSubscriber, type ChatSubscriberOptions, type OutEvent, type StreamSink } from '../src/subscribe/chat-subscriber.js';
import { createPushIterable } from '../src/subscribe/push-iterable.js';
import type { StatusNotification, SubscribeFn } from '../src/subscribe-fn.js';

const db = useTestDatabase({ key: MIGRATIONS_KEY, migrate: (url) => migrate(url).then(() => undefined) });
const clock = createMockClock({ now: new Date('2026-05-01T00:00:00Z') });
const logger = { debug() {}, info() {}, warn() {}, error() {} };
let pool: pg.Pool;
let store: ChatStore;
let ownerId: string;

beforeAll(async () => {
  // The product's pool (an idle client killed by the database's teardown is not an uncaught error).
  pool = createPool(db.url, 8);
  // One owner runs many chats across these tests (none finishes): the running cap is lifted explicitly (issue 33).
  store = createChatStore({ pool, clock, maxRunningPerUser: 1_000 });
  const identity = createIdentityStore({ pool, clock });
  ownerId = (await identity.createUser({ username: 'alice' })).id;
  const models = createModelConfigStore({ pool, clock });
  if (!(await models.getDefaultModelConfig())) {
    if (!(await models.getProviderSettings('demo'))) await models.createProvider({ provider: 'demo' });
    await models.createModelConfig({ provider: 'demo', model: 'demo', isDefault: true, contextLimit: 100_000 });
  }
});
afterAll(async () => {
  await pool.end();
});

const text = (t: string) => ({ type: 'text' as const, text: t });

/** A sink that records every event. */
function collector() {
  const events: ChatStreamEvent[] = [];
  let ended: { error?: Error } | undefined;
  const sink: StreamSink = {
    push: (o) => {
      expect(JSON.parse(o.json)).toEqual(o.event);
      events.push(o.event);
    },
    end: (error) => {
      ended = { error };
    },
  };
  return {
    sink,
    events,
    get ended() {
      return ended;
    },
    types: () => events.map((e) => e.type),
    until: (pred: (events: ChatStreamEvent[]) => boolean, what = 'events') => waitFor(() => pred(events), { what, timeoutMs: 10_000 }),
  };
}

function deps(extra: Partial<ChatSubscriberOptions> & { pubsub: PubSub; live: LiveStreams }): ChatSubscriberOptions {
  return { store, clock, logger, replicaId: () => 'replica-local', ...extra };
}

async function newChat(prompt = 'hello there') {
  const { chat, message } = await store.createChat({ ownerId, content: [text(prompt)] });
  return { chatId: chat.id, firstMessageId: message.id };
}

/** Acquires `chatId` (and any other pending chat) for `workerId`, returning the chat's run id. */
async function acquire(chatId: string, workerId = 'replica-local'): Promise<string> {
  const acquired = await store.acquireChats(workerId, 50);
  const mine = acquired.find((a) => a.chat.id === chatId);
  if (!mine) throw new Error('chat was not acquired');
  return mine.runId;
}

/** A chat running on a remote worker ('replica-far'), whose relay hook yields what the test pushes to `relay`. */
async function remoteChat() {
  const pubsub = createMemoryPubSub();
  const live = createLiveStreams();
  const { chatId, firstMessageId } = await newChat();
  const runId = await acquire(chatId, 'replica-far');
  const relay = createPushIterable<ChatStreamEvent>();
  const subscriber = createChatSubscriber(deps({ pubsub, live, subscribeFn: async () => relay }));
  const subscribe = (sink: StreamSink) => subscriber.subscribe(chatId, { afterId: BigInt(firstMessageId) }, sink);
  return { pubsub, live, chatId, firstMessageId, runId, relay, subscribe };
}

async function notify(pubsub: PubSub, chatId: string, msg: Parameters<typeof encodeChatStreamNotify>[0]) {
  await pubsub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify(msg));
}

describe('subscribe: snapshot', () => {
  it('orders the snapshot: status, messages after the cursor, queue, in-flight parts', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, firstMessageId } = await newChat();
    const runId = await acquire(chatId);
    const w = live.begin(chatId, runId);
    w.append(text('Hel'), 'assistant');
    w.append(text('lo'), 'assistant');
    await store.sendMessage({ chatId, content: [text('queued one')] });

    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live })).subscribe(chatId, {}, c.sink);
    expect(c.types()).toEqual(['status', 'message', 'queue_update', 'message_part', 'message_part']);
    expect(c.events[0]).toEqual({ type: 'status', chat_id: chatId, status: { status: 'running' } });
    expect(c.events[1]).toMatchObject({ type: 'message', message: { id: firstMessageId, role: 'user' } });
    expect(c.events[2]).toMatchObject({ type: 'queue_update', queued_messages: [{ content: [text('queued one')] }] });
    expect(c.events.slice(3).map((e) => e.type === 'message_part' && e.message_part.seq)).toEqual([1, 2]);
    // Live parts follow the snapshot with no gap.
    w.append(text('!'), 'assistant');
    expect(c.events.at(-1)).toMatchObject({ type: 'message_part', message_part: { seq: 3, run_id: runId } });
    sub.close();
    expect(c.ended).toEqual({ error: undefined });
    await pubsub.close();
  });

  it('after_id=MAX gives a snapshot with no messages; a given after_id gives exactly the later ones', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, firstMessageId } = await newChat();
    const runId = await acquire(chatId);
    const { message: m2 } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('reply')] });
    const subscriber = createChatSubscriber(deps({ pubsub, live }));

    const none = collector();
    (await subscriber.subscribe(chatId, { afterId: AFTER_ID_MAX }, none.sink)).close();
    expect(none.types()).toEqual(['status']);

    const later = collector();
    (await subscriber.subscribe(chatId, { afterId: BigInt(firstMessageId) }, later.sink)).close();
    expect(later.events.filter((e) => e.type === 'message').map((e) => e.type === 'message' && e.message.id)).toEqual([m2.id]);
    await pubsub.close();
  });

  it('rejects an unknown chat with NOT_FOUND and leaves nothing subscribed', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const subscriber = createChatSubscriber(deps({ pubsub, live }));
    const c = collector();
    await expect(subscriber.subscribe('00000000-0000-4000-8000-000000000000', {}, c.sink)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(subscriber.metrics().active).toBe(0);
    expect(live.size()).toBe(0);
    expect(pubsub.metrics?.().listeners).toBe(0);
    expect(c.ended).toBeUndefined();
    await pubsub.close();
  });
});

describe('subscribe: merge loop', () => {
  it('catches up from the database after each notify; two subscribers see identical sequences', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId } = await newChat();
    const runId = await acquire(chatId);
    const subscriber = createChatSubscriber(deps({ pubsub, live }));
    const a = collector();
    const b = collector();
    const subA = await subscriber.subscribe(chatId, {}, a.sink);
    const subB = await subscriber.subscribe(chatId, {}, b.sink);
    const w = live.begin(chatId, runId);
    w.append(text('par'), 'assistant');
    w.append(text('tial'), 'assistant');
    const { message } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('partial')] });
    await notify(pubsub, chatId, { after_message_id: message.id - 1 });
    await store.finishRun({ chatId, runId, outcome: 'finished' });
    w.end(true);
    await notify(pubsub, chatId, { status: 'waiting' });
    await a.until((e) => e.some((x) => x.type === 'status' && x.status.status === 'waiting'));
    await b.until((e) => e.some((x) => x.type === 'status' && x.status.status === 'waiting'));
    expect(a.events).toEqual(b.events);
    expect(a.types()).toEqual(['status', 'message', 'message_part', 'message_part', 'message', 'status']);
    expect(a.events[4]).toMatchObject({ type: 'message', message: { id: message.id, role: 'assistant' } });
    // A repeated notification does not repeat the message.
    await notify(pubsub, chatId, { after_message_id: message.id - 1, queue_update: true });
    await a.until((e) => e.at(-1)?.type === 'queue_update');
    expect(a.events.filter((e) => e.type === 'message')).toHaveLength(2);
    subA.close();
    subB.close();
    await pubsub.close();
  });

  it('one notification, 50 subscribers of the chat at the same cursor: one catch-up read and one run lookup serve them all; a subscriber at another cursor reads for itself', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, firstMessageId } = await newChat();
    const runId = await acquire(chatId);
    let reads = 0;
    let runLookups = 0;
    const countingStore = {
      ...store,
      messagesAfter: (...args: Parameters<ChatStore['messagesAfter']>) => (reads++, store.messagesAfter(...args)),
      getRun: (...args: Parameters<ChatStore['getRun']>) => (runLookups++, store.getRun(...args)),
    };
    const subscriber = createChatSubscriber(deps({ pubsub, live, store: countingStore }));
    const clients = Array.from({ length: 50 }, () => collector());
    const subs = [];
    for (const c of clients) subs.push(await subscriber.subscribe(chatId, {}, c.sink)); // each is at the first message
    // The 50 get a live part of the run, so the run's reply makes each look the run up (is it settled?).
    const w = live.begin(chatId, runId);
    w.append(text('thr'), 'assistant');
    for (const c of clients) await c.until((e) => e.some((x) => x.type === 'message_part'), 'a live part');
    // A message nobody was told about yet; a subscriber that comes now has it in its snapshot (another cursor)
    // and, with a part cursor past the live part, no part (so no run lookup of its own).
    const m2 = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('two')] });
    const ahead = collector();
    subs.push(await subscriber.subscribe(chatId, { runId, afterSeq: 1 }, ahead.sink));
    const everyone = [...clients, ahead];
    const readsBefore = reads;
    const lookupsBefore = runLookups;
    const before = subscriber.metrics();
    const m3 = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('three')] });
    await notify(pubsub, chatId, { after_message_id: m3.message.id - 1 });
    for (const c of everyone) await c.until((e) => e.some((x) => x.type === 'message' && x.message.id === m3.message.id), 'the third message');
    expect(reads - readsBefore).toBe(2); // one for the 50, one for `ahead`
    // Each of the 50 asked for the run right after pushing its message, all in the turn their shared read
    // resolved in, so they joined the one lookup started at that turn's end.
    await waitFor(() => runLookups - lookupsBefore >= 1, { what: 'the run lookup' });
    expect(runLookups - lookupsBefore).toBe(1);
    w.end(true);
    const after = subscriber.metrics();
    expect(after.catchUpQueries - before.catchUpQueries).toBe(2);
    expect(after.catchUpsShared - before.catchUpsShared).toBe(49);
    const ids = (c: ReturnType<typeof collector>) => c.events.flatMap((e) => (e.type === 'message' ? [e.message.id] : []));
    for (const c of everyone) expect(ids(c)).toEqual([firstMessageId, m2.message.id, m3.message.id]);
    // Now all 51 are at the same cursor. A notification in a later turn starts a new read (never one already started).
    const m4 = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('four')] });
    await notify(pubsub, chatId, { after_message_id: m4.message.id - 1 });
    for (const c of everyone) await c.until((e) => e.some((x) => x.type === 'message' && x.message.id === m4.message.id), 'the fourth message');
    expect(reads - readsBefore).toBe(3);
    for (const c of everyone) expect(ids(c)).toEqual([firstMessageId, m2.message.id, m3.message.id, m4.message.id]);
    for (const sub of subs) sub.close();
    await pubsub.close();
  });

  it('full_refresh sends history_reset, the whole visible history again, then status and queue', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, firstMessageId } = await newChat();
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live })).subscribe(chatId, {}, c.sink);
    expect(c.types()).toEqual(['status', 'message']);
    await notify(pubsub, chatId, { full_refresh: true });
    await c.until((e) => e.length === 6);
    expect(c.types().slice(2)).toEqual(['history_reset', 'message', 'status', 'queue_update']);
    expect(c.events[3]).toMatchObject({ type: 'message', message: { id: firstMessageId } });
    sub.close();
    await pubsub.close();
  });

  it('forwards retry, error and queue updates in notification order', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId } = await newChat();
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live })).subscribe(chatId, { afterId: AFTER_ID_MAX }, c.sink);
    const retry = { attempt: 1, delay_ms: 1000, error: 'overloaded', retrying_at: '2026-05-01T00:00:01Z' };
    await notify(pubsub, chatId, { retry });
    await notify(pubsub, chatId, { error_payload: { message: 'boom', kind: 'provider' }, error: 'boom' });
    await notify(pubsub, chatId, { error: '   ' });
    await notify(pubsub, chatId, { queue_update: true });
    await c.until((e) => e.at(-1)?.type === 'queue_update');
    expect(c.events.slice(1)).toEqual([
      { type: 'retry', chat_id: chatId, retry },
      { type: 'error', chat_id: chatId, error: { message: 'boom', kind: 'provider' } },
      { type: 'queue_update', chat_id: chatId },
    ]);
    sub.close();
    await pubsub.close();
  });
});

describe('subscribe: part cursor (contract.md#part-cursor)', () => {
  it('current run: only the parts after after_seq, then live', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, firstMessageId } = await newChat();
    const runId = await acquire(chatId);
    const w = live.begin(chatId, runId);
    for (let i = 1; i <= 6; i++) w.append(text(`t${i}`), 'assistant');
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live })).subscribe(chatId, { afterId: BigInt(firstMessageId), runId, afterSeq: 4 }, c.sink);
    w.append(text('t7'), 'assistant');
    expect(c.events.map((e) => (e.type === 'message_part' ? e.message_part.seq : e.type))).toEqual(['status', 5, 6, 7]);
    sub.close();
    await pubsub.close();
  });

  it('a live part reaches every subscriber of the chat as one shared object carrying its lag (nothing allocated per subscriber); a snapshot part carries no lag', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams({ clock });
    const { chatId, firstMessageId } = await newChat();
    const runId = await acquire(chatId);
    const w = live.begin(chatId, runId);
    w.append(text('before'), 'assistant');
    const got: OutEvent[][] = [[], [], []];
    const subscriber = createChatSubscriber(deps({ pubsub, live }));
    const subs = await Promise.all(got.map((outs) => subscriber.subscribe(chatId, { afterId: BigInt(firstMessageId) }, { push: (o) => outs.push(o), end() {} })));
    const sent = w.append(text('live'), 'assistant')!;
    const parts = got.map((outs) => outs.filter((o) => o.event.type === 'message_part'));
    // The snapshot part: its age is no delivery delay, so no lag.
    for (const p of parts) expect(p[0]!.lag).toBeUndefined();
    // The live part: the very LivePart, the same object for all three, with the append time as its lag start.
    for (const p of parts) expect(p[1]).toBe(sent);
    expect(sent.lag).toEqual({ atMs: clock.nowMs(), path: 'local' });
    for (const sub of subs) sub.close();
    await pubsub.close();
  });

  it('finished run: no parts of it; its message arrives instead', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, firstMessageId } = await newChat();
    const runId = await acquire(chatId);
    const w = live.begin(chatId, runId);
    w.append(text('a'), 'assistant');
    const { message } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('a')] });
    await store.finishRun({ chatId, runId, outcome: 'finished' });
    w.end(true);
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live })).subscribe(chatId, { afterId: BigInt(firstMessageId), runId, afterSeq: 1 }, c.sink);
    expect(c.types()).toEqual(['status', 'message']);
    expect(c.events[1]).toMatchObject({ message: { id: message.id } });
    sub.close();
    await pubsub.close();
  });

  it('lost run and unknown run: discontinuity right after status, then the durable messages', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId } = await newChat();
    const lostRun = await acquire(chatId, 'replica-dead');
    await clock.advance(10 * 60_000);
    await store.recoverStaleChats(5 * 60_000);
    expect((await store.getRun(lostRun))?.outcome).toBe('lost');
    const subscriber = createChatSubscriber(deps({ pubsub, live }));
    for (const runId of [lostRun, '5b1c8a4e-0000-4000-8000-00000000abcd']) {
      const c = collector();
      (await subscriber.subscribe(chatId, { afterId: 0n, runId, afterSeq: 3 }, c.sink)).close();
      expect(c.types()).toEqual(['status', 'discontinuity', 'message']);
      expect(c.events[1]).toEqual({ type: 'discontinuity', chat_id: chatId, discontinuity: { reason: 'run_lost', resync_after_id: 0 } });
    }
    expect(subscriber.metrics().discontinuities).toBe(2);
    await pubsub.close();
  });

  it('a run whose parts were sent and that is then lost yields run_lost and a resync', async () => {
    // Parts arrive through the relay hook from the remote worker.
    const { pubsub, chatId, firstMessageId, runId, relay, subscribe } = await remoteChat();
    const c = collector();
    const sub = await subscribe(c.sink);
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('x'), seq: 1, run_id: runId } });
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('x'), seq: 1, run_id: runId } });
    await c.until((e) => e.some((x) => x.type === 'message_part'));
    await clock.advance(10 * 60_000);
    await store.recoverStaleChats(5 * 60_000);
    await notify(pubsub, chatId, { status: 'pending' });
    await c.until((e) => e.some((x) => x.type === 'discontinuity'));
    expect(c.types()).toEqual(['status', 'message_part', 'status', 'discontinuity']);
    expect(c.events[3]).toMatchObject({ discontinuity: { reason: 'run_lost', resync_after_id: firstMessageId } });
    sub.close();
    relay.end();
    await pubsub.close();
  });
});

describe('subscribe: relayed parts keep the JSON they arrived with', () => {
  it('a relay event carrying its JSON (withEventJson) reaches the sink with that text, not encoded again; one without is encoded', async () => {
    const { pubsub, chatId, runId, relay, subscribe } = await remoteChat();
    const jsons: string[] = [];
    const c = collector();
    const sub = await subscribe({ push: (o) => (jsons.push(o.json), c.sink.push(o)), end: (e) => c.sink.end(e) });
    const carried: ChatStreamEvent = { type: 'message_part', chat_id: chatId, message_part: { part: text('a'), seq: 1, run_id: runId } };
    // The peer's spelling (spaces) survives: proof that the recorded text is what goes out.
    const peerText = JSON.stringify(carried, null, 1);
    relay.push(withEventJson(carried, peerText));
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('b'), seq: 2, run_id: runId } });
    await c.until((e) => e.filter((x) => x.type === 'message_part').length === 2);
    const partJsons = jsons.filter((j) => j.includes('message_part'));
    expect(partJsons[0]).toBe(peerText);
    expect(partJsons[1]).toBe(JSON.stringify(c.events[c.events.length - 1]));
    expect(eventJson(carried)).toBe(peerText);
    sub.close();
    relay.end();
    await pubsub.close();
  });
});

describe('subscribe: relay parts after the reply', () => {
  it('a relayed part of a run that arrives after the run\'s message is dropped (no text twice)', async () => {
    const { pubsub, chatId, firstMessageId, runId, relay, subscribe } = await remoteChat();
    const c = collector();
    const sub = await subscribe(c.sink);
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('Hel'), seq: 1, run_id: runId } });
    await c.until((e) => e.some((x) => x.type === 'message_part'));
    // The reply is saved and its notify overtakes the relay's last part.
    const { message } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('Hello')] });
    await notify(pubsub, chatId, { after_message_id: message.id - 1 });
    await c.until((e) => e.some((x) => x.type === 'message' && x.message.id === message.id));
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('lo'), seq: 2, run_id: runId } });
    await notify(pubsub, chatId, { queue_update: true });
    await c.until((e) => e.at(-1)?.type === 'queue_update');
    expect(c.types()).toEqual(['status', 'message_part', 'message', 'queue_update']);
    sub.close();
    relay.end();
    await pubsub.close();
  });
});

describe('subscribe: faults', () => {
  it('pg_terminate_backend of the LISTEN connection mid-stream loses nothing', async () => {
    // A reconnect backoff long enough that the notify below is surely sent while nobody listens.
    const pubsub = await createPgPubSub({ connectionString: db.url, reconnectBackoff: { initialDelayMs: 300, maxDelayMs: 300 } });
    const live = createLiveStreams();
    const { chatId } = await newChat();
    const runId = await acquire(chatId);
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live })).subscribe(chatId, {}, c.sink);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const killed = await admin.query("select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = current_database() and application_name = 'chatd-pubsub:listen'");
    expect(killed.rowCount).toBe(1);
    await waitFor(() => !pubsub.connected, { what: 'the LISTEN connection to drop' });
    // Written while the listener may be down: the resync after re-LISTEN must deliver it.
    const { message } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('while down')] });
    await pubsub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify({ after_message_id: message.id - 1 })).catch(() => {});
    await c.until((e) => e.some((x) => x.type === 'message' && x.message.id === message.id), 'the message written during the outage');
    expect(c.events.filter((e) => e.type === 'message' && e.message.id === message.id)).toHaveLength(1);
    sub.close();
    await admin.end();
    await pubsub.close();
  });
});

/** A PubSub wrapper whose subscribe fails `failures` times, and which can inject listener errors. */
function flakyPubSub(inner: PubSub, failures: number) {
  const listeners: PubSubListener[] = [];
  let left = failures;
  const wrapped: PubSub = {
    publish: (ch, p) => inner.publish(ch, p),
    async subscribe(ch, l, o) {
      if (left-- > 0) throw new Error('LISTEN failed');
      listeners.push(l);
      return inner.subscribe(ch, l, o);
    },
    close: () => inner.close(),
    metrics: () => inner.metrics!(),
  };
  return { pubsub: wrapped, listeners };
}

describe('subscribe: seed 002 regressions', () => {
  it('lastMessageID starts from afterMessageID: a catch-up never repeats messages before the cursor', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId } = await newChat();
    const runId = await acquire(chatId);
    const { message: m2 } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('two')] });
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live })).subscribe(chatId, { afterId: BigInt(m2.id) }, c.sink);
    expect(c.types()).toEqual(['status']);
    const { message: m3 } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('three')] });
    await notify(pubsub, chatId, { after_message_id: m3.id - 1 });
    await c.until((e) => e.length === 2);
    expect(c.events.filter((e) => e.type === 'message').map((e) => e.type === 'message' && e.message.id)).toEqual([m3.id]);
    sub.close();
    await pubsub.close();
  });

  it('pubsub subscription success is tracked: a failed subscribe is retried on the clock, then resyncs; the snapshot and relay events still flow', async () => {
    const inner = createMemoryPubSub();
    const { pubsub } = flakyPubSub(inner, 1);
    const live = createLiveStreams();
    const { chatId } = await newChat();
    const runId = await acquire(chatId, 'replica-far');
    const relay = createPushIterable<ChatStreamEvent>();
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live, subscribeFn: async () => relay })).subscribe(chatId, {}, c.sink);
    expect(c.types()).toEqual(['status', 'message']);
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('r'), seq: 1, run_id: runId } });
    await c.until((e) => e.some((x) => x.type === 'message_part'), 'relay part without pubsub');
    const { message } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('meanwhile')] });
    const timer = await clock.waitForTimer({ tag: 'subscribe-pubsub-retry' });
    await clock.advance(timer.delayMs);
    await c.until((e) => e.some((x) => x.type === 'message' && x.message.id === message.id), 'resync after re-subscribe');
    expect(inner.metrics!().listeners).toBe(1);
    sub.close();
    expect(inner.metrics!().listeners).toBe(0);
    relay.end();
    await inner.close();
  });

  it('statusNotifications: no push to the hook and no event after close (send-on-closed race)', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId } = await newChat();
    let notes: AsyncIterable<StatusNotification> | undefined;
    let hookSignal: AbortSignal | undefined;
    const subscribeFn: SubscribeFn = async (p) => {
      notes = p.statusNotifications;
      hookSignal = p.signal;
      return createPushIterable<ChatStreamEvent>();
    };
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live, subscribeFn })).subscribe(chatId, {}, c.sink);
    await notify(pubsub, chatId, { status: 'running', worker_id: 'w-2' });
    const it = notes![Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: { status: 'running', workerId: 'w-2' }, done: false });
    const pending = it.next();
    sub.close();
    expect(hookSignal!.aborted).toBe(true);
    // One shared reason for every close: no AbortError DOMException (with its stack) built per subscription.
    expect(hookSignal!.reason).toBe(SUBSCRIPTION_CLOSED);
    expect(await pending).toEqual({ value: undefined, done: true });
    const count = c.events.length;
    await notify(pubsub, chatId, { status: 'waiting' });
    await notify(pubsub, chatId, { after_message_id: 1 });
    expect(c.events.length).toBe(count);
    expect(pubsub.metrics!().listeners).toBe(0);
    await pubsub.close();
  });

  it('the error path never waits for a reader that is gone: a fatal pubsub error ends the stream and releases everything', async () => {
    const inner = createMemoryPubSub();
    const { pubsub, listeners } = flakyPubSub(inner, 0);
    const live = createLiveStreams();
    const { chatId } = await newChat();
    const c = collector();
    const subscriber = createChatSubscriber(deps({ pubsub, live }));
    const sub = await subscriber.subscribe(chatId, {}, c.sink);
    const { PubSubError } = await import('@chatd/pubsub');
    await listeners[0]!(undefined, new PubSubError('CLOSED', 'pubsub closed'));
    await c.until(() => c.ended !== undefined, 'stream end');
    expect(c.events.at(-1)).toMatchObject({ type: 'error', error: { message: expect.stringContaining('pubsub closed') } });
    expect(c.ended?.error).toBeInstanceOf(PubSubError);
    expect(sub.closed).toBe(true);
    expect(subscriber.metrics().active).toBe(0);
    expect(inner.metrics!().listeners).toBe(0);
    expect(live.size()).toBe(0);
    await inner.close();
  });

  it('local parts after close are neither delivered nor spun on, and the live listener is gone', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId } = await newChat();
    const runId = await acquire(chatId);
    const w = live.begin(chatId, runId);
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live })).subscribe(chatId, {}, c.sink);
    w.append(text('before'));
    sub.close();
    const count = c.events.length;
    for (let i = 0; i < 1000; i++) w.append(text('after'));
    w.end(true);
    expect(c.events.length).toBe(count);
    expect(live.size()).toBe(0);
    await pubsub.close();
  });

  it('relay events are dropped after close and a relay give-up becomes relay_failed', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, firstMessageId } = await newChat();
    const runId = await acquire(chatId, 'replica-far');
    const relay = createPushIterable<ChatStreamEvent>();
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live, subscribeFn: async () => relay })).subscribe(chatId, {}, c.sink);
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('p'), seq: 1, run_id: runId } });
    // The give-up is built from the protocol's typed value, as the enterprise relay builds it; its text is irrelevant.
    relay.push({ type: 'error', chat_id: chatId, error: relayGiveUpError('the relay gave up') });
    await c.until((e) => e.some((x) => x.type === 'discontinuity'));
    expect(c.events.at(-1)).toEqual({ type: 'discontinuity', chat_id: chatId, discontinuity: { reason: 'relay_failed', resync_after_id: firstMessageId } });
    sub.close();
    const count = c.events.length;
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('late'), seq: 2, run_id: runId } });
    await new Promise((r) => setImmediate(r));
    expect(c.events.length).toBe(count);
    await pubsub.close();
  });
});

describe('subscribe: a relayed run known to be in flight needs no lookup (issue 36)', () => {
  /** The store, counting `getRun` lookups and settled `getChatRunState` reads. */
  function countingStore() {
    const counts = { getRun: 0, runStatesSettled: 0 };
    const counted: ChatStore = {
      ...store,
      getRun: (id) => {
        counts.getRun++;
        return store.getRun(id);
      },
      getChatRunState: (id, signal) =>
        store.getChatRunState(id, signal).finally(() => {
          counts.runStatesSettled++;
        }),
    };
    return { counted, counts };
  }

  it("the first relayed part of the run a `running` notification named is sent without looking the run up", async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chatId, firstMessageId } = await newChat();
    const relay = createPushIterable<ChatStreamEvent>();
    const { counted, counts } = countingStore();
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live, store: counted, subscribeFn: async () => relay })).subscribe(chatId, { afterId: BigInt(firstMessageId) }, c.sink);
    // The run starts after the subscription: its `running` status names it.
    const runId = await acquire(chatId, 'replica-far');
    await notify(pubsub, chatId, { status: 'running', worker_id: 'replica-far', run_id: runId });
    await c.until((e) => e.filter((x) => x.type === 'status').length === 2, 'running status');
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('a'), seq: 1, run_id: runId } });
    await c.until((e) => e.some((x) => x.type === 'message_part'), 'relayed part');
    expect(counts.getRun).toBe(0);
    sub.close();
    relay.end();
    await pubsub.close();
  });

  it('a subscriber joining a chat that runs elsewhere takes its run from the setup read: the first relayed part is not looked up, and no run state is read', async () => {
    const { pubsub, live, chatId, firstMessageId, runId, relay } = await remoteChat();
    const { counted, counts } = countingStore();
    const c = collector();
    const sub = await createChatSubscriber(deps({ pubsub, live, store: counted, subscribeFn: async () => relay })).subscribe(chatId, { afterId: BigInt(firstMessageId) }, c.sink);
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('a'), seq: 1, run_id: runId } });
    await c.until((e) => e.some((x) => x.type === 'message_part'), 'relayed part');
    expect(counts.getRun).toBe(0);
    expect(counts.runStatesSettled).toBe(0); // the chat's run came with the setup's chat row
    // A run the chat is not running is still looked up (and its parts dropped when it is not in flight).
    const other = '00000000-0000-4000-8000-0000000000aa';
    relay.push({ type: 'message_part', chat_id: chatId, message_part: { part: text('x'), seq: 1, run_id: other } });
    await waitFor(() => counts.getRun === 1, { what: 'the unknown run looked up', timeoutMs: 10_000 });
    sub.close();
    relay.end();
    await pubsub.close();
  });
});
