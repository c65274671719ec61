// Paged snapshots and catch-ups (issue 21, bounded memory): a subscriber reads a long history page by page
// (SNAPSHOT_PAGE_BYTES of content each) and reads the next page only once its sink's `ready()` said yes;
// subscribers of one chat at one cursor share each page read and each message's encoding. Real PostgreSQL,
// memory pubsub, sinks whose readiness the test holds.
import { createMockClock } from '@chatd/clock';
import { chatStreamNotifyChannel, createMemoryPubSub, encodeChatStreamNotify, type PubSub } from '@chatd/pubsub';
import { useTestDatabase, waitFor } from '@chatd/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/store/db.js';
import { createIdentityStore } from '../src/identity/identity-store.js';
import { createLiveStreams } from '../src/live/live-buffer.js';
import { MIGRATIONS_KEY, migrate } from '../src/migrate.js';
import { createChatStore, type ChatStore } from '../src/store/chat-store.js';
import { createModelConfigStore } from '../src/store/model-config-store.js';
import type { ChatStreamEvent } from '@chatd/protocol';
import { SNAPSHOT_PAGE_BYTES, createChatSubscriber, type ChatSubscriberOptions, type OutEvent, type StreamSink } from '../src/subscribe/chat-subscriber.js';

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
  ownerId = (await createIdentityStore({ pool, clock }).createUser({ username: 'pager' })).id;
  const models = createModelConfigStore({ pool, clock });
  if (!(await models.getProviderSettings('demo'))) await models.createProvider({ provider: 'demo' });
  await models.createModelConfig({ provider: 'demo', model: 'demo', isDefault: true, contextLimit: 100_000 });
});
afterAll(async () => {
  await pool.end();
});

const text = (t: string) => ({ type: 'text' as const, text: t });

/** Text per history message: two fit in one page, three do not. */
const BIG = Math.floor(SNAPSHOT_PAGE_BYTES * 0.45);
/** History messages added to a chat: with the chat's first (small) message, pages of [first, h1, h2], [h3, h4], [h5, h6], [h7, h8]. */
const HISTORY = 8;
const HISTORY_PAGES = 4;

/** A waiting chat whose history is its first message and `n` assistant messages of BIG characters. */
async function longChat(n = HISTORY) {
  const { chat, message } = await store.createChat({ ownerId, content: [text('hello')] });
  await pool.query(`UPDATE chats SET status = 'waiting' WHERE id = $1`, [chat.id]);
  await pool.query(
    `INSERT INTO chat_messages (chat_id, role, content, created_at)
     SELECT $1, 'assistant', jsonb_build_array(jsonb_build_object('type', 'text', 'text', repeat(chr(97 + g % 26), $2))), now()
       FROM generate_series(1, $3) g ORDER BY g`,
    [chat.id, BIG, n],
  );
  return { chatId: chat.id, firstMessageId: message.id };
}

/** A store that counts `messagesAfter` calls. */
function countingStore() {
  const counts = { pages: 0 };
  const s: ChatStore = { ...store, messagesAfter: (...args: Parameters<ChatStore['messagesAfter']>) => (counts.pages++, store.messagesAfter(...args)) };
  return { store: s, counts };
}

/** A sink whose `ready()` the test answers: calls wait in `pending` until `release`d (or answer at once when `open`). */
function heldSink() {
  const outs: OutEvent[] = [];
  const pending: ((ok: boolean) => void)[] = [];
  let open = false;
  let ended = false;
  let readyCalls = 0;
  const sink: StreamSink = {
    push: (o) => void outs.push(o),
    end: () => void (ended = true),
    ready: () => {
      readyCalls++;
      return open ? Promise.resolve(true) : new Promise<boolean>((resolve) => pending.push(resolve));
    },
  };
  return {
    sink,
    outs,
    get events(): ChatStreamEvent[] {
      return outs.map((o) => o.event);
    },
    get readyCalls() {
      return readyCalls;
    },
    get waiting() {
      return pending.length;
    },
    get ended() {
      return ended;
    },
    /** Answers the waiting calls (and, with `stayOpen`, every later one) with `ok`. */
    release(ok = true, stayOpen = false) {
      open = stayOpen;
      for (const r of pending.splice(0)) r(ok);
    },
    messageIds: () => outs.flatMap((o) => (o.event.type === 'message' ? [o.event.message.id] : [])),
  };
}

function deps(extra: Partial<ChatSubscriberOptions> & { pubsub: PubSub }): ChatSubscriberOptions {
  return { store, clock, logger, live: createLiveStreams(), replicaId: () => 'replica-local', ...extra };
}

async function historyIds(chatId: string): Promise<number[]> {
  const { rows } = await pool.query<{ id: string }>(`SELECT id FROM chat_messages WHERE chat_id = $1 AND visibility IN ('user', 'both') ORDER BY id`, [chatId]);
  return rows.map((r) => Number(r.id));
}

describe('paged snapshot', () => {
  it('a sink that is not ready holds the snapshot after its first page (read with the chat): no page read until ready() answers, then the rest in order', async () => {
    const pubsub = createMemoryPubSub();
    const { chatId } = await longChat();
    const ids = await historyIds(chatId);
    const counting = countingStore();
    const subscriber = createChatSubscriber(deps({ pubsub, store: counting.store }));
    const s = heldSink();
    const subscribed = subscriber.subscribe(chatId, {}, s.sink);
    // The first page came with the setup's one statement (subscription-setup.ts) and goes out with the status,
    // without asking the sink (one frame on a socket); the sink is asked before the second page is read.
    await waitFor(() => s.waiting === 1, { what: 'the first ready()' });
    expect(s.readyCalls).toBe(1);
    expect(s.events.map((e) => e.type)).toEqual(['status', ...ids.slice(0, 3).map(() => 'message')]);
    expect(s.messageIds()).toEqual(ids.slice(0, 3));
    expect(counting.counts.pages).toBe(0);
    expect(subscriber.metrics().snapshotPagesRead).toBe(1);
    // Nothing more is read while the sink is not ready.
    await new Promise((resolve) => setImmediate(resolve));
    expect(counting.counts.pages).toBe(0);
    s.release(true, true);
    const sub = await subscribed;
    expect(s.messageIds()).toEqual(ids);
    expect(s.events.map((e) => e.type)).toEqual(['status', ...ids.map(() => 'message')]);
    expect(counting.counts.pages).toBe(HISTORY_PAGES - 1);
    expect(subscriber.metrics().snapshotPagesRead).toBe(HISTORY_PAGES);
    // Live events follow the paged snapshot.
    const { message } = await store.sendMessage({ chatId, content: [text('more')] });
    await pubsub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify({ after_message_id: message!.id - 1 }));
    await waitFor(() => s.messageIds().at(-1) === message!.id, { what: 'the live message' });
    sub.close();
    await pubsub.close();
  });

  it('a sink that ends while the snapshot waits (ready() false) stops the reads and closes the subscription', async () => {
    const pubsub = createMemoryPubSub();
    const { chatId } = await longChat();
    const counting = countingStore();
    const subscriber = createChatSubscriber(deps({ pubsub, store: counting.store }));
    const s = heldSink();
    const subscribed = subscriber.subscribe(chatId, {}, s.sink);
    // The status and the first page went out at once; the sink ends while asked for the second page.
    await waitFor(() => s.waiting === 1, { what: 'the first ready()' });
    s.release(false);
    const sub = await subscribed;
    expect(sub.closed).toBe(true);
    expect(counting.counts.pages).toBe(0); // the first page came with the setup
    expect(subscriber.metrics().snapshotPagesRead).toBe(1);
    expect(subscriber.metrics().active).toBe(0);
    // The sink ended itself: it is not told again.
    expect(s.ended).toBe(false);
    await pubsub.close();
  });

  it('subscribers of one chat at one cursor share every page read and every message encoding', async () => {
    const pubsub = createMemoryPubSub();
    const { chatId } = await longChat();
    const ids = await historyIds(chatId);
    const counting = countingStore();
    const subscriber = createChatSubscriber(deps({ pubsub, store: counting.store }));
    const sinks = Array.from({ length: 20 }, () => heldSink());
    const subscribed = sinks.map((s) => subscriber.subscribe(chatId, {}, s.sink));
    // They join in one turn, so one setup read (chat and first page) serves all; their sinks become ready
    // together, as senders drained by one poll do, and share each later page.
    await waitFor(() => sinks.every((s) => s.waiting === 1), { what: 'every first ready()' });
    for (const s of sinks) s.release(true, true);
    const subs = await Promise.all(subscribed);
    expect(counting.counts.pages).toBe(HISTORY_PAGES - 1);
    expect(subscriber.metrics()).toMatchObject({ snapshotPagesRead: HISTORY_PAGES, snapshotPagesShared: HISTORY_PAGES * (sinks.length - 1) });
    for (const s of sinks) expect(s.messageIds()).toEqual(ids);
    // One encoding per message, handed to every sink.
    const messageOuts = (s: ReturnType<typeof heldSink>) => s.outs.filter((o) => o.event.type === 'message');
    for (const s of sinks.slice(1)) messageOuts(s).forEach((o, i) => expect(o).toBe(messageOuts(sinks[0]!)[i]));
    for (const sub of subs) sub.close();
    await pubsub.close();
  });

  it('a full_refresh catch-up of a long history is paged behind ready() too', async () => {
    const pubsub = createMemoryPubSub();
    const { chatId } = await longChat();
    const ids = await historyIds(chatId);
    const counting = countingStore();
    const subscriber = createChatSubscriber(deps({ pubsub, store: counting.store }));
    const s = heldSink();
    s.release(true, true);
    const sub = await subscriber.subscribe(chatId, {}, s.sink);
    expect(s.messageIds()).toEqual(ids);
    const pagesBefore = counting.counts.pages;
    s.release(true, false); // from now on ready() waits for the test
    await pubsub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify({ full_refresh: true }));
    await waitFor(() => s.waiting === 1, { what: 'ready() after the first catch-up page' });
    expect(counting.counts.pages - pagesBefore).toBe(1);
    expect(s.messageIds()).toEqual([...ids, ...ids.slice(0, 3)]);
    s.release(true, true);
    await waitFor(() => s.messageIds().length === 2 * ids.length, { what: 'the whole history again' });
    expect(s.messageIds()).toEqual([...ids, ...ids]);
    expect(counting.counts.pages - pagesBefore).toBe(HISTORY_PAGES);
    expect(subscriber.metrics().catchUpQueries).toBe(HISTORY_PAGES);
    sub.close();
    await pubsub.close();
  });

  it('a run that persists its reply between the setup read and the snapshot: the parts held when the setup read come first, then its reply, and no part of it after', async () => {
    const pubsub = createMemoryPubSub();
    const live = createLiveStreams();
    const { chat } = await store.createChat({ ownerId, content: [text('hi')] });
    const chatId = chat.id;
    const acquired = await store.acquireChats('replica-local', 50);
    const runId = acquired.find((a) => a.chat.id === chatId)!.runId;
    const w = live.begin(chatId, runId);
    w.append(text('Hel'), 'assistant');
    w.append(text('lo'), 'assistant');
    const subscriber = createChatSubscriber(deps({ pubsub, live }));
    const s = heldSink();
    let message: { id: number } | undefined;
    // After the setup read and before the snapshot is pushed (where the stream route upgrades the socket), the run
    // ends with its reply persisted.
    const admit = async () => {
      ({ message } = await store.persistMessage({ chatId, runId, role: 'assistant', content: [text('Hello')] }));
      await store.finishRun({ chatId, runId, outcome: 'finished' });
      w.end(true);
    };
    const sub = await subscriber.subscribe(chatId, { admit }, s.sink);
    // The setup read the first page and the run with the chat, before the reply: the parts the live snapshot
    // held then go out, and the reply's notification brings the message that covers them.
    await pubsub.publish(chatStreamNotifyChannel(chatId), encodeChatStreamNotify({ after_message_id: message!.id - 1 }));
    await waitFor(() => s.messageIds().at(-1) === message!.id, { what: 'the reply' });
    w.append(text('late'), 'assistant'); // ignored by the ended writer anyway
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.events.map((e) => e.type)).toEqual(['status', 'message', 'message_part', 'message_part', 'message']);
    sub.close();
    await pubsub.close();
  });
});
